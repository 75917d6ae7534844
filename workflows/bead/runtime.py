"""What a bead run needs besides the bead: a sandbox and a stage generator for a model choice.

Shared by the bead service (:mod:`beadline.workflows.bead.runs`) and the graph served by
``langgraph dev`` (:mod:`beadline.workflows.langgraph_app`), so both turn the same
:class:`~beadline.agents.models.choice.ModelChoice` into the same generator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Literal

import yaml

from beadline.agents.models.choice import SCRIPTED_PREFIX, ModelChoice
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
)
from beadline.workflows.bead.generation import (
    GeneratedStage,
    ScriptedGenerator,
    StageGenerator,
    StageRequest,
)
from beadline.workflows.errors import UserError

__all__ = [
    "DECODE_SECONDS",
    "LazyExecutor",
    "LazyGenerator",
    "SandboxKind",
    "make_sandbox",
    "open_generator",
    "scripted_generator",
]

SandboxKind = Literal["auto", "local", "docker"]
"""Where code runs (:func:`beadline.validators.sandbox.factory.make_executor`)."""

DECODE_SECONDS = 120.0
"""Default time budget of one decoder call (one stage attempt); threads started before the
option existed resume with it too."""


def make_sandbox(kind: str) -> Executor:
    """The executor for ``--sandbox`` (``auto``, ``local`` or ``docker``)."""
    from beadline.validators.sandbox.factory import make_executor

    return make_executor(kind)


def scripted_generator(path: Path) -> ScriptedGenerator:
    """A :class:`ScriptedGenerator` from a YAML mapping of stage keys (``body[0]``…) to code.

    Raises:
        UserError: the file is missing or is not such a mapping.
    """
    if not path.is_file():
        raise UserError(f"scripted generator file {str(path)!r} not found")
    try:
        script = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"scripted generator file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(script, dict):
        raise UserError(f"{path}: expected a mapping of stage keys (body[0], ...) to code")
    return ScriptedGenerator({str(k): v for k, v in script.items()})


def open_generator(
    choice: ModelChoice,
    executor: Executor,
    stack: ExitStack,
    *,
    decode_seconds: float = DECODE_SECONDS,
    environ: Mapping[str, str] | None = None,
) -> StageGenerator:
    """The stage generator for a model choice: ``scripted:FILE.yaml``, or EG-CFG on the model
    (each decode capped at ``decode_seconds``); the model is closed with ``stack``.

    Raises:
        UserError, BackendError, ModelNotFoundError: the choice cannot be opened.
    """
    if choice.is_scripted:
        return scripted_generator(Path(str(choice.model).removeprefix(SCRIPTED_PREFIX)))
    from beadline.agents.settings import DecoderSettings
    from beadline.workflows.bead.generation import EgcfgGenerator

    model = stack.enter_context(choice.load(environ))
    return EgcfgGenerator(model, executor, DecoderSettings(time_budget_s=decode_seconds))


class LazyGenerator:
    """A stage generator built on its first request (a server starts without loading a model).

    Args:
        factory: Builds the real generator.
    """

    def __init__(self, factory: Callable[[], StageGenerator]) -> None:
        self.factory = factory
        self.inner: StageGenerator | None = None

    def generate(self, request: StageRequest) -> GeneratedStage:
        """Build the generator if needed, then let it write the stage."""
        if self.inner is None:
            self.inner = self.factory()
        return self.inner.generate(request)


class LazyExecutor(Executor):
    """A sandbox started on its first use (a LangGraph server builds the graph inside its event
    loop, where starting a sandbox would block; the graph's nodes run in worker threads).

    Args:
        kind: ``auto``, ``local`` or ``docker`` (:func:`make_sandbox`).
    """

    name = "lazy"

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._inner: Executor | None = None
        self._lock = threading.Lock()

    @property
    def inner(self) -> Executor:
        """The real sandbox (started now if it is not yet)."""
        with self._lock:
            if self._inner is None:
                self._inner = make_sandbox(self.kind)
                self.reason = self._inner.reason
            return self._inner

    def run(self, request: RunRequest) -> RunResult:
        return self.inner.run(request)

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        return self.inner.run_many(requests)

    def run_command(self, request: CommandRequest) -> CommandResult:
        return self.inner.run_command(request)

    def close(self) -> None:
        with self._lock:
            if self._inner is not None:
                self._inner.close()
                self._inner = None
