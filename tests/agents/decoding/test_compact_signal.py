"""The compact dynamic signal: folded line paths, one line per test, every candidate shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from beadline.agents.decoding.compact_signal import (
    FOOTER,
    HEADER,
    fold_path,
    render_compact_signal,
    result_line,
)
from beadline.agents.decoding.signal import CandidateRun, render_signal
from beadline.validators.executor import (
    Executor,
    RunRequest,
    RunResult,
    TestCase,
    TestResult,
    Trace,
    TraceEvent,
)
from beadline.validators.sandbox.factory import make_executor

TESTS = (
    TestCase.from_assert("assert sum_product([]) == (0, 1)"),
    TestCase.from_assert("assert sum_product([1, 2, 3, 4]) == (10, 24)"),
    TestCase.from_assert("assert sum_product([5, 5]) == (10, 25)"),
)
CANDIDATES = (
    "def sum_product(numbers):\n    total, prod = 0, 1\n    for n in numbers:\n"
    "        total += n\n        prod *= n\n    return (total, prod)\n",
    "def sum_product(numbers):\n    total, prod = 0, 1\n    for n in numbers:\n"
    "        total += n\n    return (total, prod)\n",
    "def sum_product(numbers):\n    return (sum(numbers), numbers[0] * numbers[1])\n",
)


@pytest.fixture(scope="module")
def runs() -> Iterator[list[CandidateRun]]:
    with make_executor("local", workers=1) as executor:
        yield _execute(executor)


def _execute(executor: Executor) -> list[CandidateRun]:
    requests = [
        RunRequest(program=p, tests=TESTS, trace=True, trace_function="sum_product")
        for p in CANDIDATES
    ]
    return [
        CandidateRun(program=p, result=r)
        for p, r in zip(CANDIDATES, executor.run_many(requests), strict=True)
    ]


@pytest.mark.parametrize(
    ("lines", "folded"),
    [
        ([], ""),
        ([2, 3, 5], "2 3 5"),
        ([2, 3, 4, 3, 4, 3, 4, 3, 5], "2 (3 4)x3 3 5"),
        ([1, 1, 1], "1x3"),
        ([3, 4, 5, 6, 4, 5, 6, 7], "3 (4 5 6)x2 7"),
        ([1, 2, 3, 4, 5, 1, 2, 3, 4, 5], "(1 2 3 4 5)x2"),
        # a run longer than eight lines is not folded
        ([*range(1, 10), *range(1, 10)], "1 2 3 4 5 6 7 8 9 1 2 3 4 5 6 7 8 9"),
    ],
)
def test_fold_path(lines: list[int], folded: str) -> None:
    assert fold_path(lines) == folded


def test_every_candidate_is_shown_with_one_line_per_test(runs: list[CandidateRun]) -> None:
    text = render_compact_signal(runs, entry_point="sum_product")
    assert text.startswith(HEADER) and text.endswith(FOOTER)
    for index, run in enumerate(runs, start=1):
        assert f"Candidate {index}:\n```python\n{run.program}```\n" in text
    lines = text.splitlines()
    # the tests are listed once, first (the same at every step: a stable, cached prefix)
    assert lines[1:4] == [
        "test 1: sum_product([])",
        "test 2: sum_product([1, 2, 3, 4])",
        "test 3: sum_product([5, 5])",
    ]
    assert text.count("sum_product([1, 2, 3, 4])") == 1
    assert lines.count("test 1 returned (0, 1): passed") == 2
    assert (
        "test 2 returned (10, 1): failed; lines 2 (3 4)x4 3 5; last prod = 1, n = 4, total = 10"
        in lines
    )
    # one line ran: no path shown
    assert "test 1 error at line 2: IndexError: list index out of range" in lines
    assert "test 3 returned (10, 25): passed" in lines
    # the tests' expected values are not repeated next to failing code
    assert "expected" not in text


def test_compact_signal_is_smaller_than_the_full_one_and_shows_all(
    runs: list[CandidateRun],
) -> None:
    compact = render_compact_signal(runs, entry_point="sum_product")
    full = render_signal(runs, entry_point="sum_product")  # the decoder's default budgets
    assert "Candidate 3:" in compact
    assert "Candidate 3:" not in full  # the full signal drops what does not fit
    assert len(compact) < len(full)
    per_test = [len(line) for line in compact.splitlines() if line.startswith("test ")]
    assert len(per_test) == 3 + 9 and max(per_test) <= 240


def _result(status: str, **fields: object) -> TestResult:
    return TestResult(
        test=TestCase.from_assert("assert f(1) == 2"),
        status=status,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def test_outcomes() -> None:
    assert result_line(_result("passed", return_repr="2"), index=1) == "test 1 returned 2: passed"
    timeout = _result("timeout", message="timed out after 2.0 s")
    assert result_line(timeout, index=2) == "test 2 timeout: timed out after 2.0 s"
    error = _result("error", exc_type="ZeroDivisionError", message="division by zero", line=3)
    assert result_line(error, index=1) == "test 1 error at line 3: division by zero"
    stdio = TestResult(test=TestCase.from_stdio("1\n", "2\n", name="case 1"), status="failed")
    assert result_line(stdio, index=1) == "test 1 failed"
    run = CandidateRun(program="x = 1\n", result=RunResult(results=(stdio,)))
    assert "test 1: case 1\n" in render_compact_signal([run], entry_point="f")


def test_long_lines_are_cut_and_truncated_traces_marked() -> None:
    events = [TraceEvent(kind="call", line=1, function="f", locals={"x": "1"})]
    events += [
        TraceEvent(kind="line", line=2 + i % 7, locals={"acc": "x" * 100}) for i in range(40)
    ]
    trace = Trace(events=tuple(events), truncated=True)
    line = result_line(_result("failed", return_repr="3", trace=trace), index=1, max_chars=80)
    assert len(line) == 80 and line.endswith("...")
    short = result_line(_result("failed", return_repr="3", trace=trace), index=1)
    assert "lines (2 3 4 5 6 7 8)x5 2 3 4 5 6 ...; last" in short  # folded, truncation marked
    assert "acc = " + "x" * 37 + "..." in short  # one value is cut to 40 characters


def test_no_runs_and_bad_arguments() -> None:
    assert render_compact_signal([], entry_point="f") == ""
    run = CandidateRun(program="def f(x):\n    return 2\n", result=RunResult(results=()))
    with pytest.raises(ValueError, match="test_chars must be at least 20"):
        render_compact_signal([run], entry_point="f", test_chars=5)
    with pytest.raises(ValueError, match="max_vars must be >= 0"):
        render_compact_signal([run], entry_point="f", max_vars=-1)
