"""The K&V bead workflow: a bead (one function to write into a repository), its loaders, the
LangGraph graph that builds it stage by stage, and writing the result into the repository.

Modules: ``spec.py`` (the :class:`Bead` model), ``loaders.py`` (YAML files, ``bd`` JSONL),
``graph.py`` (the graph and its state types), ``_stage_checks.py`` (the graph's stage
validations), ``generation.py`` (the stage generators: EG-CFG, scripted), ``review.py`` (human
review through interrupts), ``apply.py`` (merging the function into its file), ``report.py``
(the run's JSON/Markdown report).

The bead service — one way to run beads, shared by the CLI, the MCP server and the LangChain
tool — is ``runs.py`` (:func:`start_run`, :func:`resume_run`, :func:`list_threads`,
:class:`RunOutcome`), on ``store.py`` (checkpoints and threads in SQLite or PostgreSQL),
``tracker.py`` (``bd`` and its JSONL export) and ``runtime.py`` (sandbox and generator for a
model choice).

:func:`build_bead_graph` (and the graph's state types) are imported on first use: importing
LangGraph takes about 1.8 s here (``python -c "import beadline.workflows.bead.graph"``), and the
bead model, its loaders and most of the CLI need none of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from beadline.workflows.bead.apply import ApplyResult, apply_bead, apply_to_repo, merge_function
from beadline.workflows.bead.generation import EgcfgGenerator, ScriptedGenerator, StageGenerator
from beadline.workflows.bead.loaders import load_bead, load_bead_file, load_bead_from_jsonl
from beadline.workflows.bead.spec import Bead

if TYPE_CHECKING:
    from beadline.workflows.bead.graph import BeadInput, BeadOutput, BeadState, build_bead_graph
    from beadline.workflows.bead.runs import (
        BeadRunOptions,
        RunOutcome,
        ThreadInfo,
        list_threads,
        resume_run,
        start_run,
    )

__all__ = [
    "ApplyResult",
    "Bead",
    "BeadInput",
    "BeadOutput",
    "BeadRunOptions",
    "BeadState",
    "EgcfgGenerator",
    "RunOutcome",
    "ScriptedGenerator",
    "StageGenerator",
    "ThreadInfo",
    "apply_bead",
    "apply_to_repo",
    "build_bead_graph",
    "list_threads",
    "load_bead",
    "load_bead_file",
    "load_bead_from_jsonl",
    "merge_function",
    "resume_run",
    "start_run",
]

_FROM_GRAPH = frozenset({"BeadInput", "BeadOutput", "BeadState", "build_bead_graph"})
_FROM_RUNS = frozenset(
    {"BeadRunOptions", "RunOutcome", "ThreadInfo", "list_threads", "resume_run", "start_run"}
)


def __getattr__(name: str) -> Any:
    """Re-export the graph's names lazily (PEP 562), see the module docstring."""
    if name in _FROM_GRAPH:
        return getattr(importlib.import_module("beadline.workflows.bead.graph"), name)
    if name in _FROM_RUNS:
        return getattr(importlib.import_module("beadline.workflows.bead.runs"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
