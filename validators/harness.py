"""Turn a task's tests into executor requests: MBPP asserts, HumanEval checks, stdio, pytest.

Each builder checks that the tests parse and raises :class:`UserError` naming the bad test and
the fix; the run itself happens in an :class:`Executor`. The pytest form runs pytest inside the
sandbox and reads the outcome from its JUnit XML report (:func:`junit_summary`), never from its
text output.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from beadline.validators.errors import UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    JUnitCase,
    Limits,
    RunRequest,
    TestCase,
)

__all__ = [
    "JUnitSummary",
    "humaneval_test",
    "infer_entry_point",
    "junit_summary",
    "mbpp_request",
    "mbpp_tests",
    "pytest_file_request",
    "stdio_tests",
]


def _parse(source: str, what: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise UserError(
            f"{what} does not parse: {exc.msg} (line {exc.lineno}) in {source.strip()[:120]!r}; "
            "fix the test's Python syntax"
        ) from exc


def _called_names(node: ast.AST) -> list[str]:
    """Names of plain calls ``name(...)`` in ``node``, outermost first."""
    names: list[str] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name):
            names.append(child.func.id)
    return names


_NOT_ENTRY = frozenset(dir(builtins))


def infer_entry_point(tests: Sequence[str]) -> str:
    """The function the assert lines test: the called name they share.

    For each test the first call to a non-builtin name in the asserted expression's left side
    (or anywhere in the assert) counts; the most common wins (ties: first seen).

    Raises:
        UserError: no test calls a function.
    """
    votes: Counter[str] = Counter()
    order: list[str] = []
    for index, source in enumerate(tests):
        tree = _parse(source, f"test {index + 1}")
        for statement in tree.body:
            target: ast.AST = statement
            if isinstance(statement, ast.Assert):
                test = statement.test
                target = test.left if isinstance(test, ast.Compare) else test
            names = [n for n in _called_names(target) if n not in _NOT_ENTRY]
            if not names:
                names = [n for n in _called_names(statement) if n not in _NOT_ENTRY]
            if not names:  # a function that shadows a builtin name
                names = _called_names(target)
            if names:
                votes[names[0]] += 1
                if names[0] not in order:
                    order.append(names[0])
                break
    if not votes:
        raise UserError(
            f"cannot infer the entry point: no test calls a function ({list(tests)[:3]!r}); "
            "give entry_point explicitly"
        )
    best = max(votes.values())
    return next(name for name in order if votes[name] == best)


def mbpp_tests(
    test_list: Sequence[str], setup: str = "", *, entry_point: str | None = None
) -> tuple[TestCase, ...]:
    """MBPP ``assert`` lines as test cases (each parsed; the entry point inferred if absent).

    Args:
        test_list: The assert lines (MBPP ``test_list``).
        setup: MBPP ``test_setup_code``; only checked here (pass it as ``RunRequest.setup``).
        entry_point: The function under test; inferred from the tests when ``None``.

    Raises:
        UserError: a test or the setup does not parse, or the list is empty.
    """
    if isinstance(test_list, str):
        raise UserError(
            "mbpp_tests expects a list of assert lines, got one string; wrap it in a list"
        )
    if not test_list:
        raise UserError("mbpp_tests got no tests; give at least one assert line")
    for index, source in enumerate(test_list):
        tree = _parse(source, f"test {index + 1}")
        if not tree.body:
            raise UserError(
                f"test {index + 1} is empty; give an assert line like 'assert f(1) == 2'"
            )
    if setup.strip():
        _parse(setup, "the test setup code")
    name = entry_point or infer_entry_point(test_list)
    return tuple(
        TestCase(kind="assert", source=line.strip(), entry_point=name, name=line.strip())
        for line in test_list
    )


def mbpp_request(
    program: str,
    test_list: Sequence[str],
    setup: str = "",
    *,
    limits: Limits | None = None,
    trace: bool = True,
) -> RunRequest:
    """A :class:`RunRequest` running ``program`` on MBPP assert lines."""
    tests = mbpp_tests(test_list, setup)
    return RunRequest(
        program=program, tests=tests, setup=setup, limits=limits or Limits(), trace=trace
    )


def humaneval_test(test_source: str, entry_point: str) -> TestCase:
    """A HumanEval ``check(candidate)`` test case.

    Raises:
        UserError: the test does not parse or defines no ``check`` function.
    """
    tree = _parse(test_source, "the HumanEval test")
    if not any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body):
        raise UserError(
            "the HumanEval test defines no function check(candidate); pass the task's `test` field"
        )
    if not entry_point.isidentifier():
        raise UserError(f"entry_point must be a Python name, got {entry_point!r}")
    return TestCase.from_check(test_source, entry_point)


def stdio_tests(cases: Iterable[tuple[str, str]]) -> tuple[TestCase, ...]:
    """stdin -> expected stdout pairs as test cases (APPS / CodeContests style).

    Raises:
        UserError: a pair is not two strings, or there are none.
    """
    out = []
    for index, pair in enumerate(cases):
        if (
            not isinstance(pair, tuple | list)
            or len(pair) != 2
            or not all(isinstance(p, str) for p in pair)
        ):
            raise UserError(
                f"stdio case {index + 1} must be (stdin, expected_stdout) strings, got {pair!r}"
            )
        out.append(TestCase.from_stdio(pair[0], pair[1], name=f"stdio {index + 1}"))
    if not out:
        raise UserError("stdio_tests got no cases")
    return tuple(out)


def pytest_file_request(
    test_source: str,
    program: str,
    module_name: str,
    *,
    test_filename: str | None = None,
    extra_files: dict[str, str] | None = None,
    limits: Limits | None = None,
    pytest_args: Sequence[str] = (),
) -> CommandRequest:
    """A command that runs a pytest file against ``program`` inside the sandbox.

    The program is written as ``<module_name>.py`` next to the test file, pytest runs with
    ``--junitxml`` and the result's ``junit`` holds the cases (see :func:`junit_summary`).

    Raises:
        UserError: a bad module name, or a test file or program that does not parse.
    """
    if not module_name.isidentifier():
        raise UserError(
            f"module_name must be a Python name (the test imports it), got {module_name!r}"
        )
    _parse(test_source, "the pytest file")
    _parse(program, "the program")
    test_file = test_filename or f"test_{module_name}.py"
    if not (
        test_file.endswith(".py") and "/" not in test_file and test_file != f"{module_name}.py"
    ):
        raise UserError(f"test_filename must be a plain .py file name, got {test_file!r}")
    files = {f"{module_name}.py": program, test_file: test_source, **(extra_files or {})}
    return CommandRequest(
        argv=(
            "python",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml=junit.xml",
            *pytest_args,
            test_file,
        ),
        files=files,
        limits=limits or Limits(wall_s=60.0, cpu_s=60.0, memory_mb=1024, output_bytes=65_536),
        junit_xml="junit.xml",
    )


@dataclass(frozen=True, kw_only=True)
class JUnitSummary:
    """The outcome of a pytest run, from its JUnit report."""

    total: int
    """Test cases in the report."""
    passed: int
    """Cases that passed."""
    failures: tuple[JUnitCase, ...]
    """Cases that failed or errored, in order."""
    skipped: int = 0
    """Cases skipped."""
    problem: str = ""
    """Why the report is missing or unusable (empty when fine)."""

    @property
    def ok(self) -> bool:
        """True when there was at least one case and none failed."""
        return self.total > 0 and not self.failures and not self.problem


def junit_summary(result: CommandResult) -> JUnitSummary:
    """Count a pytest command's JUnit cases (never its text output)."""
    cases = result.junit
    failures = tuple(c for c in cases if c.status in ("failed", "error"))
    problem = ""
    if not cases:
        problem = result.message or f"pytest wrote no test cases (status {result.status})"
    return JUnitSummary(
        total=len(cases),
        passed=sum(c.status == "passed" for c in cases),
        failures=failures,
        skipped=sum(c.status == "skipped" for c in cases),
        problem=problem,
    )
