"""Stage validators: verdicts and evidence, on the fake executor and on the real local sandbox."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.errors import UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    JUnitCase,
    RunResult,
    TestCase,
    TestResult,
    Trace,
    TraceEvent,
)
from beadline.validators.stages import (
    check_compiles,
    check_imports,
    check_integration,
    check_smoke,
    check_unit,
    render_trace,
)
from beadline.validators.testing import FakeExecutor

TESTS = (TestCase.from_assert("assert f(2) == 4"), TestCase.from_assert("assert f(3) == 9"))


def _results(*results: TestResult) -> FakeExecutor:
    return FakeExecutor(on_run=lambda r: RunResult(results=results, backend="fake"))


def test_compiles_ok_and_syntax_error_names_the_line() -> None:
    assert check_compiles("x = 1\n").ok
    verdict = check_compiles("x = 1\ny = (\n")
    assert not verdict.ok and verdict.stage == "compiles"
    assert verdict.summary.startswith("SyntaxError line 2")
    assert "line 2: y = (" in verdict.evidence


def test_imports_runs_setup_as_a_script_in_the_sandbox() -> None:
    fake = FakeExecutor()
    verdict = check_imports("import math\nLIMIT = 3\n", fake)
    assert verdict.ok and verdict.summary == "imports resolve"
    (request,) = fake.requests
    assert request.tests[0].kind == "script" and not request.trace
    assert check_imports("", fake).ok and len(fake.requests) == 1  # nothing to run


def test_imports_failure_shows_the_error_and_line() -> None:
    failing = _results(
        TestResult(
            test=TestCase.script(),
            status="error",
            exc_type="ModuleNotFoundError",
            message="No module named 'nope'",
            line=2,
        )
    )
    verdict = check_imports("import math\nimport nope\n", failing)
    assert not verdict.ok
    assert "ModuleNotFoundError line 2: No module named 'nope'" in verdict.summary
    assert "line 2: import nope" in verdict.evidence


def test_smoke_accepts_wrong_values_but_not_crashes() -> None:
    program = "def f(x):\n    y = x * x\n    pass\n"
    wrong = _results(
        *(TestResult(test=t, status="failed", expected_repr="4", return_repr="None") for t in TESTS)
    )
    verdict = check_smoke(program, TESTS, wrong, entry_point="f")
    assert verdict.ok and "without error" in verdict.summary
    assert wrong.requests[0].trace_function == "f"
    trace = Trace(
        events=(
            TraceEvent(kind="call", line=1, function="f", locals={"x": "2"}),
            TraceEvent(kind="line", line=2, source="y = x / 0", function="f"),
            TraceEvent(
                kind="exception", line=2, function="f", value="ZeroDivisionError: division by zero"
            ),
        )
    )
    crash = _results(
        TestResult(
            test=TESTS[0],
            status="error",
            exc_type="ZeroDivisionError",
            message="division by zero",
            line=2,
            trace=trace,
        )
    )
    verdict = check_smoke("def f(x):\n    y = x / 0\n", TESTS, crash, entry_point="f")
    assert not verdict.ok
    assert "ZeroDivisionError line 2" in verdict.summary
    assert "at line 2: y = x / 0" in verdict.evidence[0]
    assert "raise L2 ZeroDivisionError" in verdict.evidence[0]


def test_smoke_ignores_errors_of_the_test_line_itself_except_name_errors() -> None:
    outside = _results(
        TestResult(test=TESTS[0], status="error", exc_type="TypeError", message="'>' not supported")
    )
    assert check_smoke("def f(x):\n    pass\n", TESTS[:1], outside, entry_point="f").ok
    name = _results(
        TestResult(
            test=TESTS[0], status="error", exc_type="NameError", message="name 'g' is not defined"
        )
    )
    assert not check_smoke("def f(x):\n    pass\n", TESTS[:1], name, entry_point="f").ok
    slow = _results(TestResult(test=TESTS[0], status="timeout", message="timed out after 2.0 s"))
    assert not check_smoke("def f(x):\n    pass\n", TESTS[:1], slow, entry_point="f").ok


def test_smoke_syntax_error_never_reaches_the_sandbox() -> None:
    fake = FakeExecutor()
    verdict = check_smoke("def f(x):\n    return (\n", TESTS, fake, entry_point="f")
    assert not verdict.ok and not fake.requests


def test_unit_reports_expected_and_actual() -> None:
    mixed = _results(
        TestResult(test=TESTS[0], status="passed"),
        TestResult(
            test=TESTS[1],
            status="failed",
            expected_repr="9",
            return_repr="6",
            message="expected 9, got 6",
        ),
    )
    verdict = check_unit("def f(x):\n    return x + x\n", TESTS, mixed, entry_point="f")
    assert not verdict.ok
    assert (
        verdict.summary
        == "1/2 unit tests passed; first failure: assert f(3) == 9: expected 9, got 6"
    )
    assert verdict.evidence[0].startswith("test `assert f(3) == 9` failed: expected 9, got 6")
    assert check_unit("def f(x):\n    return x * x\n", TESTS, FakeExecutor(), entry_point="f").ok
    with pytest.raises(UserError, match="at least one test"):
        check_unit("x = 1", (), FakeExecutor(), entry_point="f")


def test_integration_passes_files_and_directory(tmp_path: Path) -> None:
    fake = FakeExecutor()
    verdict = check_integration(tmp_path, {"pkg/m.py": "x = 1\n"}, ["python", "-m", "pytest"], fake)
    assert verdict.ok
    (request,) = fake.commands
    assert request.directory == tmp_path and request.files == {"pkg/m.py": "x = 1\n"}
    # a fresh JUnit report is asked for: pytest's exit status alone is not a pass
    assert request.junit_xml and request.argv == (
        "python",
        "-m",
        "pytest",
        f"--junitxml={request.junit_xml}",
    )


def test_integration_failure_evidence_has_junit_cases_and_output(tmp_path: Path) -> None:
    def failing(_r: CommandRequest) -> CommandResult:
        return CommandResult(
            status="failed",
            exit_code=1,
            stdout="collected 2 items\nFAILED tests/test_m.py::test_x - assert 1 == 2",
            junit=(
                JUnitCase(
                    name="test_x",
                    classname="tests.test_m",
                    status="failed",
                    message="assert 1 == 2",
                ),
            ),
        )

    verdict = check_integration(
        tmp_path, {}, ["python", "-m", "pytest"], FakeExecutor(on_command=failing)
    )
    assert not verdict.ok
    assert verdict.summary == "`python -m pytest` exited 1"
    assert "tests.test_m::test_x failed: assert 1 == 2" in verdict.evidence
    assert "FAILED tests/test_m.py::test_x" in verdict.evidence[-1]
    with pytest.raises(UserError, match="not a directory"):
        check_integration(tmp_path / "missing", {}, ["true"], FakeExecutor())


def test_render_trace_is_compact_and_capped() -> None:
    events = [TraceEvent(kind="call", line=1, function="f", locals={"x": "2"})]
    events += [
        TraceEvent(kind="line", line=2, source="y += 1", function="f", locals={"y": str(i)})
        for i in range(40)
    ]
    events += [TraceEvent(kind="return", line=3, function="f", value="40")]
    text = render_trace(Trace(events=tuple(events), truncated=True), max_lines=10)
    lines = text.splitlines()
    assert lines[0] == "call f(x=2)"
    assert "..." in lines and lines[-2] == "return f -> 40" and lines[-1] == "(trace truncated)"
    assert len(lines) == 12


# --- the real local sandbox (H1's backend), when it is installed --------------------------------

_HAS_LOCAL = importlib.util.find_spec("beadline.validators.sandbox.factory") is not None


@pytest.fixture(scope="module")
def local() -> Iterator[Executor]:
    if not _HAS_LOCAL:
        pytest.skip("the local sandbox backend is not available")
    from beadline.validators.sandbox.factory import make_executor

    with make_executor("local") as executor:
        yield executor


def test_real_local_sandbox_stage_verdicts(local: Executor, tmp_path: Path) -> None:
    assert check_imports("import math\nN = math.pi\n", local).ok
    bad = check_imports("import not_a_module_xyz\n", local)
    assert not bad.ok and "not_a_module_xyz" in bad.summary
    partial = "def f(x):\n    y = x * x\n"
    assert check_smoke(partial, TESTS, local, entry_point="f").ok
    crash = check_smoke("def f(x):\n    y = x / 0\n", TESTS, local, entry_point="f")
    assert not crash.ok and "ZeroDivisionError" in crash.summary
    unit = check_unit("def f(x):\n    return x + x\n", TESTS, local, entry_point="f")
    assert not unit.ok and "expected 9, got 6" in unit.summary
    assert check_unit("def f(x):\n    return x * x\n", TESTS, local, entry_point="f").ok
    (tmp_path / "m.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "check.py").write_text("from m import f\nassert f(3) == 9\n")
    files = {"m.py": "def f(x):\n    return x * x\n"}
    assert check_integration(tmp_path, files, ["python", "check.py"], local).ok
    failing = check_integration(tmp_path, {}, ["python", "check.py"], local)
    assert not failing.ok and "AssertionError" in "\n".join(failing.evidence)
    assert (tmp_path / "m.py").read_text() == "def f(x):\n    return x\n"  # never written
