"""Checks and evidence routing of the bead graph's stages (private helpers of :mod:`.graph`).

* :func:`check_signature`: the signature compiles and defines exactly the target function;
* :func:`blame_unit` / :func:`blame_output`: which stage a failed unit test or a failed command
  points to — the body part holding the failing line, the setup for import and name errors of
  modules, the signature for wrong arguments (when it was generated) — so the graph re-opens
  only that stage.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from beadline.validators.executor import Limits
from beadline.validators.stages import StageVerdict, check_compiles
from beadline.workflows.bead.generation import (
    GeneratedStage,
    ProgramLayout,
    module_names_missing,
    normalize_part,
)
from beadline.workflows.bead.spec import Bead

__all__ = ["blame_output", "blame_unit", "check_signature", "clean_code", "command_limits"]


def command_limits(timeout_s: float) -> Limits:
    """Limits of an integration command that may run ``timeout_s`` seconds."""
    return Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_mb=1024, output_bytes=65_536)


def clean_code(stage: str, generated: GeneratedStage) -> str:
    """A generated stage's code, normalised (body parts indented as in the function)."""
    if stage == "body":
        return normalize_part(generated.code)
    return generated.code.strip("\n").rstrip()


def check_signature(code: str, bead: Bead) -> StageVerdict:
    """The signature compiles and is exactly one ``def`` of the bead's function."""
    if not code.strip():
        return StageVerdict(
            stage="compiles",
            ok=False,
            summary="no signature was written",
            evidence=(f"write the `def {bead.target.function}(...)` line",),
        )
    verdict = check_compiles(code.rstrip() + "\n    pass\n", filename="<signature>")
    if not verdict.ok:
        return verdict
    tree = ast.parse(code.rstrip() + "\n    pass\n")
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    if names != [bead.target.function] or len(tree.body) != 1:
        return StageVerdict(
            stage="compiles",
            ok=False,
            summary=f"the signature must be exactly one `def {bead.target.function}(...)`",
            evidence=(f"got: {code.strip()[:200]}",),
        )
    return StageVerdict(stage="compiles", ok=True, summary="signature compiles")


_ARGUMENTS = re.compile(r"positional argument|unexpected keyword argument|required .*argument")


def blame_unit(verdict: StageVerdict, layout: ProgramLayout, bead: Bead) -> dict[str, Any]:
    """The stage a unit-test failure points to (line of the error, else the last line run)."""
    last_body = max((r.part for r in layout.regions if r.stage == "body"), default=0)
    run = verdict.run
    failing = [r for r in run.results if not r.passed] if run else []
    if not failing:
        return {"stage": "body", "part": last_body}
    first = failing[0]
    text = f"{first.exc_type}: {first.message}"
    if first.exc_type in ("ImportError", "ModuleNotFoundError") or module_names_missing([text]):
        return {"stage": "setup", "part": last_body}
    if (
        first.exc_type == "TypeError"
        and bead.target.function in first.message
        and _ARGUMENTS.search(first.message)
        and bead.target.signature is None
    ):
        return {"stage": "signature", "part": 0}
    line = first.line
    if line is None:
        lines = [
            e.line for e in first.trace.events if e.kind in ("line", "exception") and e.depth == 0
        ]
        line = lines[-1] if lines else None
    region = layout.region_of(line) if line is not None else None
    if region is None or region.stage == "signature":
        return {"stage": "body", "part": last_body}
    return {"stage": region.stage, "part": region.part}


def blame_output(verdict: StageVerdict, layout: ProgramLayout, bead: Bead) -> dict[str, Any]:
    """The stage a failing command points to (import/name errors → setup, else the last part)."""
    last_body = max((r.part for r in layout.regions if r.stage == "body"), default=0)
    text = "\n".join(verdict.evidence)
    if re.search(r"ImportError|ModuleNotFoundError", text) or module_names_missing([text]):
        return {"stage": "setup", "part": last_body}
    if bead.target.signature is None and re.search(
        rf"{re.escape(bead.target.function)}\(\).*(positional argument|keyword argument)", text
    ):
        return {"stage": "signature", "part": 0}
    return {"stage": "body", "part": last_body}
