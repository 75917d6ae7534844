"""Stage validators of the K&V bead workflow: each checks one stage of a function as it lands.

The bead workflow builds a function in stages — signature, setup (imports and constants), body
parts, integration — and validates each stage as soon as it exists:

* :func:`check_compiles`: the code parses and compiles (no execution);
* :func:`check_imports`: the module-level code (imports, constants) runs inside the sandbox;
* :func:`check_smoke`: a *partial* function runs on the unit tests without a syntax, name or
  runtime error (a wrong value is fine: the body is not finished yet); traces are kept;
* :func:`check_unit`: the complete function passes every unit test;
* :func:`check_integration`: a command (the repository's own tests) passes in a scratch copy of
  the repository with the new files written over it.

In a real repository each of them takes a :class:`~beadline.validators.snapshot.ModuleContext`:
the code is then the *whole target module* (the target replaced by the stage's code), imported
as part of its package from a read-only snapshot of the repository, and the integration command
runs on a scratch copy of that same snapshot. :func:`check_module_imports` is the preflight: the
module as it is in the repository must import before a bead starts on it.

Each returns a :class:`StageVerdict`: ``ok``, a one-line ``summary`` and the ``evidence`` a model
(or a person) needs to fix the stage — the error, the failing test with expected and actual
values, and a compact rendering of its trace. Everything runs through the
:class:`~beadline.validators.executor.Executor` interface, so the same validators work on the
local and the Docker sandbox (and on the fake executor in tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from beadline.validators import integration_checks
from beadline.validators.errors import UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    Limits,
    ModuleContext,
    RunRequest,
    RunResult,
    TestCase,
    TestResult,
    Trace,
)

__all__ = [
    "HARD_ERRORS",
    "StageName",
    "StageVerdict",
    "check_compiles",
    "check_imports",
    "check_integration",
    "check_module_imports",
    "check_smoke",
    "check_unit",
    "render_trace",
]

StageName = Literal["compiles", "imports", "smoke", "unit", "integration"]
"""Which validator produced a verdict."""

HARD_ERRORS: frozenset[str] = frozenset(
    {
        "SyntaxError",
        "IndentationError",
        "TabError",
        "NameError",
        "UnboundLocalError",
        "ImportError",
        "ModuleNotFoundError",
    }
)
"""Exception types that fail a smoke run wherever they are raised (even in the test line)."""

_BASELINES = integration_checks.BaselineCache()
"""Integration baselines per snapshot and command, remembered for this process."""

_MAX_EVIDENCE_TESTS = 3
_TRACE_LINES = 24
_OUTPUT_TAIL = 1_500


@dataclass(frozen=True, kw_only=True)
class StageVerdict:
    """The outcome of validating one stage."""

    stage: StageName
    """The validator that ran."""
    ok: bool
    """True when the stage is acceptable."""
    summary: str
    """One line for people and logs (``2/3 unit tests passed``, ``SyntaxError line 3: ...``)."""
    evidence: tuple[str, ...] = ()
    """What the next attempt must know: the error, each failing test with expected and actual
    values, the trace text, the tail of a command's output."""
    run: RunResult | None = None
    """The sandbox run behind the verdict (``imports``, ``smoke``, ``unit``)."""
    command: CommandResult | None = None
    """The command behind the verdict (``integration``)."""


def check_compiles(code: str, *, filename: str = "<stage>") -> StageVerdict:
    """Check that ``code`` parses and compiles. Nothing is executed.

    Args:
        code: Module-level source.
        filename: Name used in the error message.

    Returns:
        A ``compiles`` verdict; on failure the evidence names the line and shows it.
    """
    try:
        compile(code, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno or 0
        shown = ""
        lines = code.splitlines()
        if 0 < line <= len(lines):
            shown = lines[line - 1]
        summary = f"{type(exc).__name__} line {line}: {exc.msg}"
        evidence = [summary]
        if shown:
            evidence.append(f"line {line}: {shown.rstrip()}")
        return StageVerdict(stage="compiles", ok=False, summary=summary, evidence=tuple(evidence))
    except ValueError as exc:  # e.g. source containing NUL bytes
        return StageVerdict(
            stage="compiles", ok=False, summary=f"cannot compile: {exc}", evidence=(str(exc),)
        )
    return StageVerdict(stage="compiles", ok=True, summary="compiles")


def check_imports(
    code: str,
    executor: Executor,
    *,
    limits: Limits | None = None,
    context: ModuleContext | None = None,
) -> StageVerdict:
    """Run module-level code (imports, constants) once in the sandbox.

    Args:
        code: The setup code. Empty code is trivially fine. With ``context``: the whole
            module text with the setup merged in.
        executor: The sandbox.
        limits: Limits of the run (defaults to :class:`Limits`' defaults).
        context: Import ``code`` as this module of its repository snapshot (its package's
            ``__init__``, relative imports and siblings resolve there).

    Returns:
        An ``imports`` verdict; on failure the evidence has the exception and its line.
    """
    compiled = check_compiles(code, filename="<setup>")
    if not compiled.ok:
        return StageVerdict(
            stage="imports", ok=False, summary=compiled.summary, evidence=compiled.evidence
        )
    if not code.strip() and context is None:
        return StageVerdict(stage="imports", ok=True, summary="no module-level code to import")
    request = RunRequest(
        program=code,
        tests=(TestCase.script(name="imports"),),
        limits=limits or Limits(),
        trace=False,
        context=context,
    )
    run = executor.run(request)
    if run.passed:
        summary = "imports resolve" if context is None else f"module {context.module} imports"
        return StageVerdict(stage="imports", ok=True, summary=summary, run=run)
    result = run.results[0] if run.results else None
    if result is None:
        return StageVerdict(
            stage="imports", ok=False, summary="the sandbox returned no result", run=run
        )
    summary = f"setup failed: {_describe(result)}"
    evidence = [summary]
    if result.line is not None:
        lines = code.splitlines()
        if 0 < result.line <= len(lines):
            evidence.append(f"line {result.line}: {lines[result.line - 1].rstrip()}")
    return StageVerdict(
        stage="imports", ok=False, summary=summary, evidence=tuple(evidence), run=run
    )


def check_module_imports(
    context: ModuleContext, executor: Executor, *, limits: Limits | None = None
) -> StageVerdict:
    """Preflight: the target module, as it is in the repository, imports in the sandbox.

    Run it before a bead spends any model time: a module that does not import (a dependency
    missing from the sandbox, a syntax error, a broken sibling) would fail every candidate.
    For a new module, the package it goes into must import.

    Args:
        context: The module (its text is read from the snapshot; empty for a new module).
        executor: The sandbox.
        limits: Limits of the import (default: 10 s wall and CPU).

    Returns:
        An ``imports`` verdict whose ``summary`` is one line, on failure e.g. ``module
        inv.pricing does not import: ModuleNotFoundError: No module named 'requests' (at
        inv/pricing.py line 3); ...`` followed by how to fix it.
    """
    text = context.original_text()
    verdict = check_imports(
        text, executor, limits=limits or Limits(wall_s=10.0, cpu_s=10.0), context=context
    )
    if verdict.ok:
        return verdict
    what = "its package does not import" if not context.exists else "does not import"
    detail = verdict.summary.removeprefix("setup failed: ").removeprefix("imports: ")
    summary = (
        f"module {context.module} ({context.file}) {what} before the bead starts: {detail}; "
        "fix the repository, or give the sandbox the repository's dependencies (local: "
        "site_packages / --site-packages DIR; docker: an image with its requirements)"
    )
    return replace(verdict, summary=summary, evidence=(summary, *verdict.evidence[1:]))


def check_smoke(
    program: str,
    tests: Sequence[TestCase],
    executor: Executor,
    *,
    entry_point: str,
    context: ModuleContext | None = None,
) -> StageVerdict:
    """Run a partial function on the unit tests: it must not crash, a wrong value is fine.

    A partial body (the first few statements of a function) usually returns ``None`` and fails
    the tests' checks; what it must not do is raise inside the program, time out, or hit a
    syntax or name error. An exception raised by the test line itself (e.g. comparing ``None``
    with ``>``) is not held against the partial body unless it is a syntax, name or import
    error (:data:`HARD_ERRORS`).

    Args:
        program: The module with the partial function (complete statements only).
        tests: The bead's unit tests. Without any, the program is only executed.
        executor: The sandbox.
        entry_point: Name of the function under construction (traced); a qualified name
            (``AuthService.authenticate``) for a method.
        context: Run ``program`` as this module of its repository snapshot (``program`` is
            then the whole module text with the partial target in place).

    Returns:
        A ``smoke`` verdict whose ``run`` keeps the traces.
    """
    compiled = check_compiles(program, filename="<partial>")
    if not compiled.ok:
        return StageVerdict(
            stage="smoke", ok=False, summary=compiled.summary, evidence=compiled.evidence
        )
    cases = tuple(tests) or (TestCase.script(name="smoke"),)
    run = executor.run(
        RunRequest(
            program=program, tests=cases, trace=True, trace_function=entry_point, context=context
        )
    )
    n_lines = len(program.splitlines())
    traced = context.target if context is not None and context.target else entry_point
    crashed = [r for r in run.results if _crashed(r, traced, n_lines)]
    if not run.results:
        return StageVerdict(stage="smoke", ok=False, summary="the sandbox returned no result")
    if not crashed:
        return StageVerdict(
            stage="smoke",
            ok=True,
            summary=f"partial function runs on {len(run.results)} test(s) without error",
            run=run,
        )
    first = crashed[0]
    summary = f"partial function crashed: {_describe(first)}"
    return StageVerdict(
        stage="smoke",
        ok=False,
        summary=summary,
        evidence=tuple(_test_evidence(crashed, program)),
        run=run,
    )


def check_unit(
    program: str,
    tests: Sequence[TestCase],
    executor: Executor,
    *,
    entry_point: str,
    context: ModuleContext | None = None,
) -> StageVerdict:
    """Run the complete function on the unit tests: every test must pass.

    Args:
        program: The module with the complete function.
        tests: The unit tests (at least one).
        executor: The sandbox.
        entry_point: The function under test (traced); a qualified name for a method.
        context: Run ``program`` as this module of its repository snapshot (``program`` is
            then the whole module text).

    Returns:
        A ``unit`` verdict; the evidence shows up to three failing tests with expected and
        actual values and their traces.

    Raises:
        UserError: ``tests`` is empty.
    """
    if not tests:
        raise UserError("check_unit needs at least one test case; give the bead some unit tests")
    compiled = check_compiles(program, filename="<program>")
    if not compiled.ok:
        return StageVerdict(
            stage="unit", ok=False, summary=compiled.summary, evidence=compiled.evidence
        )
    run = executor.run(
        RunRequest(
            program=program,
            tests=tuple(tests),
            trace=True,
            trace_function=entry_point,
            context=context,
        )
    )
    total = len(run.results)
    if run.passed:
        return StageVerdict(
            stage="unit", ok=True, summary=f"{total}/{total} unit tests passed", run=run
        )
    failing = [r for r in run.results if not r.passed]
    summary = f"{run.n_passed}/{total} unit tests passed"
    if failing:
        summary += f"; first failure: {_describe(failing[0])}"
    return StageVerdict(
        stage="unit",
        ok=False,
        summary=summary,
        evidence=tuple(_test_evidence(failing, program)),
        run=run,
    )


def check_integration(
    repo: Path,
    files: Mapping[str, str],
    command: Sequence[str],
    executor: Executor,
    *,
    limits: Limits | None = None,
    context: ModuleContext | None = None,
    junit_xml: str | None = None,
    baseline: CommandResult | None = None,
) -> StageVerdict:
    """Run an integration command in a scratch copy of ``repo`` with ``files`` written over it.

    The repository itself is never written: the executor copies it (or mounts it read-only under
    a writable overlay) and writes ``files`` into the copy. With ``context``, the copy is made
    of the context's snapshot (the files the candidates ran on) and its import roots are on the
    command's ``PYTHONPATH``.

    The exit status alone is not trusted (the code under test runs inside the runner and can
    choose it; see :mod:`beadline.validators.integration_checks`): a pytest command always
    writes a JUnit report (one is asked for when ``junit_xml`` is not given), and passes only
    when the report exists, lists no failure and shows tests that ran; every test that ran on
    the unchanged repository (``baseline``) must run again, not skipped or xfailed, and one
    that does not is added to ``verdict.command.junit`` as an ``error`` case. A ``python -m
    unittest`` command must print its ``Ran N tests ... OK`` summary.

    Baselines: with ``context``, a pytest run with no ``files`` *is* the baseline of that
    snapshot and command, and is remembered; a later check of the same snapshot and command
    without ``baseline`` uses it, or first runs it (once per snapshot).

    Args:
        repo: The repository directory.
        files: Relative path → new text (the file with the generated function in place).
        command: The command, e.g. ``["python", "-m", "pytest", "-q", "tests/test_x.py"]``;
            ``python`` means the sandbox's interpreter.
        executor: The sandbox.
        limits: Limits of the whole command (the executor's command defaults when ``None``).
        context: The module context of the bead; its snapshot must be of ``repo``.
        junit_xml: Relative path of a JUnit report the command writes (e.g. pytest's
            ``--junitxml=``); its cases land in ``verdict.command.junit``.
        baseline: The same command's result on the unchanged repository (its JUnit cases are
            the tests that must run again).

    Returns:
        An ``integration`` verdict; the evidence has the failing JUnit cases (when any) and the
        tail of the command's output.

    Raises:
        UserError: ``repo`` is not a directory, ``command`` is empty, or ``context`` is a
            snapshot of another repository.
    """
    if not repo.is_dir():
        raise UserError(
            f"integration: repository {str(repo)!r} is not a directory; pass an existing "
            "repository (--repo DIR)"
        )
    if not command:
        raise UserError("integration: the command is empty; give the bead an integration command")
    directory: Path = repo
    pythonpath: tuple[str, ...] = ()
    if context is not None:
        snapshot = context.snapshot
        if snapshot.origin != repo.resolve():
            raise UserError(
                f"integration: the module context is a snapshot of {snapshot.origin}, not of "
                f"{repo}; snapshot the bead's repository"
            )
        directory = snapshot.path
        pythonpath = snapshot.import_roots
    argv, report = integration_checks.with_junit(command, junit_xml)

    def run(written: Mapping[str, str]) -> CommandResult:
        request = CommandRequest(
            argv=argv,
            files=dict(written),
            directory=directory,
            pythonpath=pythonpath,
            junit_xml=report,
        )
        if limits is not None:
            request = replace(request, limits=limits)
        return executor.run_command(request)

    key = (str(directory), tuple(command), junit_xml, pythonpath)
    remembered = context is not None and integration_checks.is_pytest(argv)
    if baseline is None and remembered and files:
        baseline = _BASELINES.get(key)
        if baseline is None:
            baseline = run({})
            _BASELINES.put(key, baseline)
    result = run(files)
    if remembered and not files:
        _BASELINES.put(key, result)
    problems, result = integration_checks.problems(argv, result, baseline)
    return _integration_verdict(command, result, problems)


def _integration_verdict(
    command: Sequence[str], result: CommandResult, problems: Sequence[str]
) -> StageVerdict:
    shown = " ".join(command)
    if result.passed:
        return StageVerdict(
            stage="integration",
            ok=True,
            summary=f"`{shown}` passed in {result.duration_s:.1f} s",
            command=result,
        )
    if problems:
        what = "did not show its tests passed"
    elif result.status == "timeout":
        what = "timed out"
    elif result.exit_code is None:
        what = f"was {result.status}"
    else:
        what = f"exited {result.exit_code}"
    summary = f"`{shown}` {what}"
    if problems:
        summary += ": " + "; ".join(problems)
    elif result.message:
        summary += f": {result.message}"
    evidence = [summary]
    for case in result.junit:
        if case.status in ("failed", "error"):
            evidence.append(f"{case.classname}::{case.name} {case.status}: {case.message}".strip())
    tail = (result.stdout + ("\n" + result.stderr if result.stderr else "")).strip()
    if tail:
        evidence.append("output (tail):\n" + tail[-_OUTPUT_TAIL:])
    return StageVerdict(
        stage="integration", ok=False, summary=summary, evidence=tuple(evidence), command=result
    )


def render_trace(trace: Trace, *, max_lines: int = _TRACE_LINES) -> str:
    """A compact text rendering of a trace for prompts and reports.

    One line per event: ``L<n> <source>  | x=1, y='a'`` for lines (with the locals that
    changed), ``call f(x=1)``, ``return f -> 3``, ``raise L<n> ValueError: ...``. Long traces
    keep their first and last events with a ``...`` marker between.

    Args:
        trace: The trace.
        max_lines: Events shown at most.

    Returns:
        The text (empty for an empty trace).
    """
    rows: list[str] = []
    for event in trace.events:
        indent = "  " * max(event.depth, 0)
        if event.kind == "call":
            args = ", ".join(f"{k}={v}" for k, v in event.locals.items())
            rows.append(f"{indent}call {event.function}({args})")
        elif event.kind == "return":
            rows.append(f"{indent}return {event.function} -> {event.value}")
        elif event.kind == "exception":
            rows.append(f"{indent}raise L{event.line} {event.value}")
        else:
            changed = ", ".join(f"{k}={v}" for k, v in event.locals.items())
            rows.append(
                f"{indent}L{event.line} {event.source}" + (f"  | {changed}" if changed else "")
            )
    if len(rows) > max_lines:
        head = max_lines // 2
        rows = [*rows[:head], "...", *rows[-(max_lines - head) :]]
    if trace.truncated:
        rows.append("(trace truncated)")
    return "\n".join(rows)


def _describe(result: TestResult) -> str:
    """One line for a test result: ``expected 4, got 5`` or ``ZeroDivisionError line 3: ...``."""
    name = result.test.name or result.test.source or result.test.kind
    if result.status == "failed" and result.expected_repr is not None:
        what = f"expected {result.expected_repr}, got {result.return_repr}"
    elif result.status in ("timeout", "killed"):
        what = result.message or result.status
    else:
        where = f" line {result.line}" if result.line is not None else ""
        kind = result.exc_type or result.status
        what = f"{kind}{where}: {result.message}" if result.message else f"{kind}{where}"
    return f"{name}: {what}"


def _crashed(result: TestResult, entry_point: str, n_lines: int) -> bool:
    if result.status in ("timeout", "killed"):
        return True
    if result.status != "error":
        return False
    if result.exc_type in HARD_ERRORS:
        return True
    if result.line is not None and 0 < result.line <= n_lines:
        return True
    return any(
        e.kind == "exception" and _same_function(e.function, entry_point) and e.depth == 0
        for e in result.trace.events
    )


def _same_function(recorded: str, entry_point: str) -> bool:
    """A trace's function (a name, or a qualified name in a module context) is the target."""
    if recorded == entry_point:
        return True
    if "." in entry_point:
        return False
    return recorded.rsplit(".", 1)[-1] == entry_point


def _test_evidence(results: Sequence[TestResult], program: str) -> list[str]:
    lines = program.splitlines()
    out: list[str] = []
    for result in results[:_MAX_EVIDENCE_TESTS]:
        block = [f"test `{result.test.source or result.test.name}` {result.status}: "]
        block[0] += _describe(result).split(": ", 1)[-1]
        if result.line is not None and 0 < result.line <= len(lines):
            block.append(f"at line {result.line}: {lines[result.line - 1].strip()}")
        trace = render_trace(result.trace)
        if trace:
            block.append("trace:\n" + trace)
        if result.stdout.strip():
            block.append("stdout: " + result.stdout.strip()[-300:])
        out.append("\n".join(block))
    if len(results) > _MAX_EVIDENCE_TESTS:
        out.append(f"... and {len(results) - _MAX_EVIDENCE_TESTS} more failing test(s)")
    return out
