"""A compact dynamic signal: every candidate shown, one short line per test.

The full signal (:func:`beadline.agents.decoding.signal.render_signal`) writes each test's whole line
trace (up to ``trace_chars``) and drops the candidates that do not fit ``max_chars``. Every
time the signal changes, the model re-evaluates it; on the packaged SmolLM2-135M that is the
largest cost of a guided decode (issue 14: 65 % of the time of real HumanEval decodes). This
renderer keeps what the model uses — the candidate's code and, per test, what it returned or
raised — and folds the trace into one line::

    Execution of the candidate continuations on the tests:
    test 1: sum_product([])
    test 2: sum_product([1, 2, 3, 4])

    Candidate 1:
    ```python
    def sum_product(numbers):
        total, prod = 0, 1
        for n in numbers:
            total += n
        return (total, prod)
    ```
    test 1 returned (0, 1): passed
    test 2 returned (10, 1): failed; lines 2 (3 4)x4 3 5; last prod = 1, n = 4, total = 10

The tests are listed once, first: they are the same at every guidance step, so consecutive
signals share that start and the KV cache keeps it (only what follows is evaluated again).
A failing test also shows ``lines``, the path through the function at call depth 0 with
repeated runs of up to eight lines folded (``(3 4)x4``; left out when one line ran), and
``last``, the final values of the variables changed last (at most ``max_vars``); a passing
test shows only what it returned. Each test line is cut to ``test_chars`` characters.
Expected values are not repeated (the prompt shows the tests): a small model copies an
``expected (10, 24)`` it reads next to the code.
"""

from __future__ import annotations

from collections.abc import Sequence

from beadline.agents.decoding.signal import CandidateRun
from beadline.agents.prompts.builder import invocation
from beadline.validators.executor import TestResult, Trace

__all__ = ["FOOTER", "HEADER", "fold_path", "render_compact_signal", "result_line"]

HEADER = "Execution of the candidate continuations on the tests:\n"
"""First line of the block (no count: the start of the signal stays the same)."""
_TEST = "test {index}: {call}\n"
FOOTER = "\nNow write the correct code.\n"
"""Last line of the block."""
_CANDIDATE = "\nCandidate {index}:\n```python\n{program}\n```\n"
_MAX_FOLD = 8
"""Longest run of lines folded as one repeated group."""
_VALUE_CHARS = 40
"""Characters of one variable's value in ``last``."""
_ELLIPSIS = "..."


def fold_path(lines: Sequence[int]) -> str:
    """Line numbers with repeated runs folded: ``[2, 3, 4, 3, 4, 3, 4, 5]`` → ``2 (3 4)x3 5``.

    A run of one to eight lines repeated back to back becomes ``(a b)xN`` (``axN`` for one
    line); the shortest repeating run wins.

    Example:
        >>> fold_path([3, 4, 5, 4, 5, 4, 5, 6, 6])
        '3 (4 5)x3 6x2'
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        folded = False
        for size in range(1, _MAX_FOLD + 1):
            run = list(lines[i : i + size])
            if len(run) < size:
                break
            reps = 1
            while list(lines[i + reps * size : i + (reps + 1) * size]) == run:
                reps += 1
            if reps > 1:
                body = " ".join(map(str, run))
                out.append(f"({body})x{reps}" if size > 1 else f"{body}x{reps}")
                i += reps * size
                folded = True
                break
        if not folded:
            out.append(str(lines[i]))
            i += 1
    return " ".join(out)


def _path(trace: Trace) -> list[int]:
    return [e.line for e in trace.events if e.kind == "line" and e.depth == 0]


def _last_values(trace: Trace, max_vars: int) -> str:
    last: dict[str, str] = {}
    for event in trace.events:
        if event.depth == 0 and event.kind in ("line", "return"):
            for name, value in event.locals.items():
                last.pop(name, None)  # re-insert: most recently changed last
                last[name] = value
    items = list(last.items())[-max_vars:] if max_vars else []
    return ", ".join(f"{name} = {_cut(value, _VALUE_CHARS)}" for name, value in items)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def _outcome(result: TestResult) -> str:
    if result.status in ("passed", "failed") and result.return_repr is not None:
        return f"returned {_cut(result.return_repr, 60)}: {result.status}"
    if result.status in ("passed", "failed"):
        return result.status
    where = f" at line {result.line}" if result.line else ""
    detail = result.message or result.exc_type or ""
    text = f"{result.status}{where}"
    return f"{text}: {_cut(detail, 80)}" if detail else text


def _call(result: TestResult, entry_point: str) -> str:
    test = result.test
    return invocation(test.source, entry_point) if test.source else test.name


def result_line(result: TestResult, *, index: int, max_chars: int = 240, max_vars: int = 3) -> str:
    """One test of one candidate: ``test N outcome; lines path; last values`` (no newline; a
    passing test is only ``test N outcome``). ``index`` is the test's number in the list.

    Example:
        >>> from beadline.validators.executor import TestCase
        >>> r = TestResult(test=TestCase.from_assert("assert f(2) == 4"), status="passed",
        ...                return_repr="4")
        >>> result_line(r, index=1)
        'test 1 returned 4: passed'
    """
    parts = [f"test {index} {_outcome(result)}"]
    if result.passed:
        return _cut(parts[0], max_chars)  # how a passing test ran is not worth its tokens
    path = _path(result.trace)
    if len(path) > 1 or result.trace.truncated:
        parts.append(f"lines {fold_path(path)}{' ...' if result.trace.truncated else ''}")
    values = _last_values(result.trace, max_vars)
    if values:
        parts.append(f"last {values}")
    return _cut("; ".join(parts), max_chars)


def render_compact_signal(
    runs: Sequence[CandidateRun],
    *,
    entry_point: str,
    test_chars: int = 240,
    max_vars: int = 3,
) -> str:
    """The compact dynamic-signal block for ``runs`` (``""`` when there are none).

    Args:
        runs: the executed candidates, best first (the decoder ranks them by tests passed),
            all run on the same tests.
        entry_point: the function under test (to show each test's call).
        test_chars: budget of one test's line.
        max_vars: variables shown in a test's ``last`` values.

    Returns:
        The block, ending with a newline; every candidate is shown.

    Raises:
        ValueError: ``test_chars`` is below 20 or ``max_vars`` is negative.
    """
    if test_chars < 20:
        raise ValueError(f"test_chars must be at least 20, got {test_chars}")
    if max_vars < 0:
        raise ValueError(f"max_vars must be >= 0, got {max_vars}")
    if not runs:
        return ""
    out = [HEADER]
    out.extend(
        _TEST.format(index=i, call=_call(r, entry_point))
        for i, r in enumerate(runs[0].result.results, start=1)
    )
    for index, run in enumerate(runs, start=1):
        out.append(_CANDIDATE.format(index=index, program=run.program.rstrip("\n")))
        out.extend(
            result_line(r, index=i, max_chars=test_chars, max_vars=max_vars) + "\n"
            for i, r in enumerate(run.result.results, start=1)
        )
    out.append(FOOTER)
    return "".join(out)
