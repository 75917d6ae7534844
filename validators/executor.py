"""The executor interface: run a program on test cases in a sandbox and get typed results.

This module is the contract between the execution layer and everything above it (the EG-CFG
decoder runs every candidate partial program through it; the bead workflow runs its stage
validations through it). Backends live in :mod:`beadline.validators.sandbox` (``local`` and
``docker``); both run the same worker program and speak the same line protocol to it.

A sandbox here contains accidents and hostile-but-ordinary programs (infinite loops, fork bombs,
memory bombs, writes outside the working directory, network access); it is *not* a hardened
security boundary against a determined attacker on the local backend. Use the docker backend
for untrusted code where an engine is available.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal

from beadline.validators.errors import UserError
from beadline.validators.snapshot import ModuleContext, RepoSnapshot

__all__ = [
    "CommandRequest",
    "CommandResult",
    "Executor",
    "JUnitCase",
    "Limits",
    "ModuleContext",
    "RepoSnapshot",
    "RunRequest",
    "RunResult",
    "TestCase",
    "TestKind",
    "TestResult",
    "TestStatus",
    "Trace",
    "TraceEvent",
]

TestStatus = Literal["passed", "failed", "error", "timeout", "killed"]
"""How one test-case run ended.

``passed``: ran and the check held. ``failed``: ran and the check did not hold (wrong value, a
failing assert, wrong stdout). ``error``: the program or the call raised (including a syntax
error). ``timeout``: the wall or CPU limit was hit. ``killed``: the sandbox killed the run for
another reason (memory, output size, the process died by a signal or closed its stdout).
"""

TestKind = Literal["assert", "check", "stdio", "script"]
"""The test forms the harnesses know (see :class:`TestCase`)."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits of one test-case run. All limits apply per test case."""

    wall_s: float = 2.0
    """Wall-clock seconds before the run is killed (status ``timeout``)."""
    cpu_s: float = 2.0
    """CPU seconds (``RLIMIT_CPU``)."""
    memory_mb: int = 512
    """Address-space / cgroup memory limit in MiB."""
    output_bytes: int = 16_384
    """Captured stdout/stderr kept per run; the rest is dropped and marked truncated."""
    trace_events: int = 200
    """Trace events kept per run before the trace is marked truncated."""
    trace_chars: int = 6_000
    """Characters of trace text kept per run before the trace is marked truncated."""
    repr_chars: int = 80
    """Characters kept of each value's ``repr`` in traces and results."""

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise UserError(
                    f"Limits.{name} must be a positive number of seconds, got {value!r}"
                )
        for name in ("memory_mb", "output_bytes", "trace_events", "trace_chars", "repr_chars"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value > 0):
                raise UserError(f"Limits.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class TestCase:
    """One test case of a task, in one of the forms the harnesses know.

    Forms:
        ``assert``: ``source`` is one MBPP-style assert line, e.g. ``assert f(2) == 4``. The call
            ``f(2)`` is traced, then the assert is evaluated; a failure reports expected vs actual.
        ``check``: ``source`` defines ``check(candidate)`` (HumanEval); it is called with the
            function named ``entry_point``.
        ``stdio``: the program reads ``stdin`` and its stdout is compared (whitespace-normalised)
            with ``expected_stdout``.
        ``script``: the program is only executed (imports resolve, module-level code runs).
    """

    __test__: ClassVar[bool] = False  # not a pytest class

    kind: TestKind
    """Which harness runs this case."""
    source: str = ""
    """The assert line (``assert``) or the ``check`` function's source (``check``)."""
    entry_point: str | None = None
    """The function under test (required for ``check``; inferred from the assert otherwise)."""
    stdin: str = ""
    """Standard input (``stdio``)."""
    expected_stdout: str | None = None
    """Expected standard output (``stdio``)."""
    name: str = ""
    """A short label for reports; defaults to the source line."""

    @classmethod
    def from_assert(cls, line: str, *, name: str = "") -> TestCase:
        """An MBPP-style ``assert`` test case."""
        return cls(kind="assert", source=line.strip(), name=name or line.strip())

    @classmethod
    def from_check(cls, source: str, entry_point: str, *, name: str = "check") -> TestCase:
        """A HumanEval-style ``check(candidate)`` test case."""
        return cls(kind="check", source=source, entry_point=entry_point, name=name)

    @classmethod
    def from_stdio(cls, stdin: str, expected_stdout: str, *, name: str = "") -> TestCase:
        """A stdin→stdout test case (APPS / CodeContests style)."""
        return cls(kind="stdio", stdin=stdin, expected_stdout=expected_stdout, name=name or "stdio")

    @classmethod
    def script(cls, *, name: str = "run") -> TestCase:
        """Only execute the program."""
        return cls(kind="script", name=name)


@dataclass(frozen=True, kw_only=True)
class TraceEvent:
    """One event of a line trace of the code under test."""

    kind: Literal["call", "line", "return", "exception"]
    """``call``/``return`` of a traced function, a ``line`` about to run, or an ``exception``."""
    line: int
    """Line number in the program (1-based)."""
    source: str = ""
    """That line's source, stripped."""
    function: str = ""
    """Name of the function the event happened in (``<module>`` at top level)."""
    locals: Mapping[str, str] = field(default_factory=dict)
    """``line``: locals changed since the previous event; ``call``: the arguments. Values are
    truncated ``repr`` strings."""
    value: str | None = None
    """``return``: repr of the return value; ``exception``: ``"Type: message"``."""
    depth: int = 0
    """Call depth below the first traced call (0 for the target function itself)."""


@dataclass(frozen=True, kw_only=True)
class Trace:
    """The trace of one test-case run."""

    events: tuple[TraceEvent, ...] = ()
    """Events in order."""
    truncated: bool = False
    """True when events or characters were dropped because a cap was hit."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (for records)."""
        return {
            "truncated": self.truncated,
            "events": [
                {
                    "kind": e.kind,
                    "line": e.line,
                    "source": e.source,
                    "function": e.function,
                    "locals": dict(e.locals),
                    "value": e.value,
                    "depth": e.depth,
                }
                for e in self.events
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trace:
        """Inverse of :meth:`to_json`."""
        return cls(
            truncated=bool(data.get("truncated", False)),
            events=tuple(
                TraceEvent(
                    kind=e["kind"],
                    line=int(e["line"]),
                    source=e.get("source", ""),
                    function=e.get("function", ""),
                    locals=dict(e.get("locals", {})),
                    value=e.get("value"),
                    depth=int(e.get("depth", 0)),
                )
                for e in data.get("events", ())
            ),
        )


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """The outcome of one test case."""

    __test__: ClassVar[bool] = False  # not a pytest class

    test: TestCase
    """The test case that ran."""
    status: TestStatus
    """How it ended."""
    exc_type: str | None = None
    """Exception type name when the program or call raised (``AssertionError`` for a failed check)."""
    message: str = ""
    """One human-readable line: ``expected 4, got 5``, the exception message, ``timed out after 2.0 s``."""
    line: int | None = None
    """Program line of the error, when known."""
    return_repr: str | None = None
    """repr of the traced call's value (``assert`` tests)."""
    expected_repr: str | None = None
    """repr of the expected value (``assert`` tests of the form ``f(x) == y``)."""
    stdout: str = ""
    """Captured standard output (truncated to ``Limits.output_bytes``)."""
    output_truncated: bool = False
    """True when stdout was cut."""
    duration_s: float = 0.0
    """Wall time of the run inside the sandbox."""
    trace: Trace = field(default_factory=Trace)
    """The line trace (empty when tracing was off)."""
    judged_by: Literal["host", "sandbox"] = "sandbox"
    """Who decided the status. ``host``: the test's expected value never entered the sandbox
    (the child returned the value it computed as data and the host compared it: an
    ``assert A == <literal>``, a ``check`` whose asserts are all of that kind, a stdio case),
    so the program could pass only by producing it. ``sandbox``: the harness inside the
    candidate's process decided (a comparison of two expressions, a truth test, a script);
    a program that forges the harness's own report could have changed it. See
    :mod:`beadline.validators.judging`."""

    @property
    def passed(self) -> bool:
        """True when the status is ``passed``."""
        return self.status == "passed"


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """A program and the test cases to run it on."""

    program: str
    """The full program source (module level: imports, the function, helpers). With a
    ``context``: the whole text of the target module, the target replaced by the candidate."""
    tests: tuple[TestCase, ...]
    """Test cases; each runs in its own fresh child process."""
    limits: Limits = field(default_factory=Limits)
    """Per-test-case limits."""
    trace: bool = True
    """Whether to record line traces."""
    trace_function: str | None = None
    """Trace only from calls of this function (and what it calls inside the program); ``None``
    traces all program code. A dotted name (``AuthService.authenticate``) is matched against
    qualified names. With a ``context`` whose ``target`` is set, the target wins."""
    setup: str = ""
    """Code run before the tests in each child, untraced (MBPP ``test_setup_code``); with a
    ``context`` it runs in the module's namespace after the import."""
    context: ModuleContext | None = None
    """Run ``program`` as this module of a repository snapshot (imported as part of its
    package, the repository importable, tests seeing the module's names; the trace shows the
    target's lines and its calls into the package one level deep). ``None``: a standalone
    program in a fresh namespace."""

    @property
    def traced(self) -> str | None:
        """The function traced: the context's target, else ``trace_function``."""
        if self.context is not None and self.context.target:
            return self.context.target
        return self.trace_function


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """The outcome of one :class:`RunRequest`: one result per test case, in order."""

    results: tuple[TestResult, ...]
    """Per-test results."""
    backend: str = ""
    """Name of the executor that ran it."""
    duration_s: float = 0.0
    """Wall time of the whole request, as seen by the caller."""

    @property
    def passed(self) -> bool:
        """True when there was at least one test and every test passed."""
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def n_passed(self) -> int:
        """How many tests passed."""
        return sum(r.passed for r in self.results)


@dataclass(frozen=True, kw_only=True)
class CommandRequest:
    """A command run in a sandboxed scratch directory (pytest files, integration commands)."""

    argv: tuple[str, ...]
    """The command. ``python`` means the sandbox's Python interpreter."""
    files: Mapping[str, str] = field(default_factory=dict)
    """Files written into the working directory before the run (relative path → text)."""
    directory: Path | None = None
    """A host directory whose copy becomes the working directory (the original is never
    written: the docker backend mounts it read-only under a writable scratch copy). Pass a
    snapshot's ``path`` (:func:`~beadline.validators.snapshot.snapshot_repo`) to run on the
    same files the candidates ran on."""
    limits: Limits = field(
        default_factory=lambda: Limits(wall_s=120.0, cpu_s=120.0, memory_mb=1024)
    )
    """Limits of the whole command."""
    junit_xml: str | None = None
    """Relative path of a JUnit XML report the command writes; parsed into ``junit``."""
    pythonpath: tuple[str, ...] = ()
    """Directories relative to the working directory put on the command's ``PYTHONPATH`` (a
    snapshot's import roots, e.g. ``("src", ".")``)."""

    def __post_init__(self) -> None:
        if not self.argv or not all(isinstance(a, str) and a for a in self.argv):
            raise UserError(
                f"CommandRequest.argv must be a non-empty list of strings, got {self.argv!r}"
            )
        for entry in self.pythonpath:
            if not isinstance(entry, str) or entry.startswith("/") or ".." in entry.split("/"):
                raise UserError(
                    f"CommandRequest.pythonpath entries must be relative directories inside the "
                    f"working directory, got {entry!r}"
                )


@dataclass(frozen=True, kw_only=True)
class JUnitCase:
    """One test case read from a JUnit XML report."""

    __test__: ClassVar[bool] = False

    name: str
    """Test name."""
    classname: str = ""
    """Test class / module."""
    status: Literal["passed", "failed", "error", "skipped"]
    """Outcome."""
    message: str = ""
    """Failure or error message."""


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    """The outcome of a :class:`CommandRequest`."""

    status: TestStatus
    """``passed`` when the command exited 0, ``failed`` on another exit code."""
    exit_code: int | None
    """The exit code, or ``None`` when killed or timed out."""
    stdout: str = ""
    """Captured stdout (truncated)."""
    stderr: str = ""
    """Captured stderr (truncated)."""
    duration_s: float = 0.0
    """Wall time."""
    junit: tuple[JUnitCase, ...] = ()
    """Cases from the JUnit report, when one was asked for and written."""
    message: str = ""
    """One line on what happened (e.g. ``command not found: foo``)."""

    @property
    def passed(self) -> bool:
        """True when the command exited 0."""
        return self.status == "passed"


class Executor(ABC):
    """Runs programs on test cases in a sandbox. Backends are context managers.

    Subclasses implement :meth:`run` and :meth:`run_command`; :meth:`run_many` runs requests
    concurrently across the backend's worker pool where it has one.
    """

    name: ClassVar[str] = "executor"
    """Backend name (``local``, ``docker``, ``fake``)."""

    reason: str = ""
    """Why this backend was chosen, in one line (set by ``make_executor``; empty otherwise)."""

    @abstractmethod
    def run(self, request: RunRequest) -> RunResult:
        """Run one program on its test cases. Never raises for a misbehaving program.

        Raises:
            SandboxError: the sandbox itself failed and could not be restarted.
        """

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        """Run several requests, concurrently where the backend can; results keep their order."""
        return [self.run(r) for r in requests]

    @abstractmethod
    def run_command(self, request: CommandRequest) -> CommandResult:
        """Run a command in a scratch copy of a directory. Never raises for a failing command."""

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release workers and containers. Idempotent."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
