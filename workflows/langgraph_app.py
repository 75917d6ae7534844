"""Entry point of ``langgraph.json`` (``langgraph dev`` / a LangGraph server): the bead graph.

The server loads this file by path and calls :func:`make_graph`; it supplies the checkpointer
(in memory for ``langgraph dev``, PostgreSQL on a LangGraph server). The graph is configured
from the server's environment — the one edge where beadline reads it:

============================  ====================================================  ==============
variable                      meaning                                               default
============================  ====================================================  ==============
``BEADLINE_MODEL``            model name/path, server model id, scripted:FILE.yaml  smollm2-135m
``BEADLINE_BACKEND``          ``llama_cpp``, ``transformers`` or ``openai``         llama_cpp
``BEADLINE_BASE_URL``         the OpenAI-compatible server (backend openai)         none
``BEADLINE_API_KEY_ENV``      the NAME of the variable holding its key              none
``BEADLINE_SANDBOX``          ``auto``, ``local`` or ``docker`` (``DOCKER_HOST``)    auto
``BEADLINE_REVIEW``           ``1``: interrupt at each stage for a reviewer           1
``BEADLINE_DECODE_SECONDS``   time budget of one stage attempt                      120
============================  ====================================================  ==============

Input: ``{"bead": {...bead fields...}, "repo": "/path/on/the/server"}``; a review interrupt is
answered with ``Command(resume={"action": "approve" | "edit" | "retry" | "abort"})`` (the SDK:
``client.runs.wait(thread, "bead", command={"resume": {...}})``). The graph validates and
reports; it does not write into the repository (the CLI and the service do that).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from beadline.agents.models.choice import model_choice
from beadline.workflows.bead.generation import StageGenerator
from beadline.workflows.bead.graph import build_bead_graph
from beadline.workflows.bead.runtime import (
    DECODE_SECONDS,
    LazyExecutor,
    LazyGenerator,
    open_generator,
)

__all__ = ["graph_for", "make_graph"]


_GRAPHS: dict[tuple[str, ...], object] = {}
_BUILT = threading.Lock()
_KEYS = (
    "BEADLINE_MODEL",
    "BEADLINE_BACKEND",
    "BEADLINE_BASE_URL",
    "BEADLINE_API_KEY_ENV",
    "BEADLINE_SANDBOX",
    "BEADLINE_REVIEW",
    "BEADLINE_DECODE_SECONDS",
)


def make_graph(config: Mapping[str, Any] | None = None) -> object:
    """The bead graph for the server, configured from the server's environment (see the module
    docstring). The server calls this for every run and passes the run's ``config`` (a
    ``RunnableConfig``, not read here: the configuration is the environment's).
    """
    return graph_for(os.environ)


def graph_for(environ: Mapping[str, str]) -> object:
    """The bead graph configured from ``environ``: built once per configuration and reused
    (its sandbox and model are opened on first use, never inside the server's event loop).

    Raises:
        UserError: a variable holds an invalid value (the server logs the one-line message).
    """
    key = tuple(environ.get(name, "") for name in _KEYS)
    with _BUILT:
        if key not in _GRAPHS:
            _GRAPHS[key] = _build(environ)
        return _GRAPHS[key]


def _build(env: Mapping[str, str]) -> object:
    choice = model_choice(
        env.get("BEADLINE_MODEL") or None,
        env.get("BEADLINE_BACKEND") or "llama_cpp",
        env.get("BEADLINE_BASE_URL") or None,
        env.get("BEADLINE_API_KEY_ENV") or None,
    )
    executor = LazyExecutor(env.get("BEADLINE_SANDBOX") or "auto")
    seconds = float(env.get("BEADLINE_DECODE_SECONDS") or DECODE_SECONDS)
    stack = ExitStack()  # lives as long as the server's graph
    environ = dict(env)

    def factory() -> StageGenerator:
        return open_generator(choice, executor, stack, decode_seconds=seconds, environ=environ)

    review = (env.get("BEADLINE_REVIEW") or "1").strip().lower() not in ("0", "false", "no")
    return build_bead_graph(LazyGenerator(factory), executor, review=review, name="bead")
