"""The execution-scored beam: E's parts in closed form, selection by execution, cfg+beam."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from beadline.agents.decoding import decode
from beadline.agents.decoding.beam import (
    ExecScore,
    execution_score,
    score,
    strict_syntax_ok,
    syntax_ok,
    undefined_names,
)
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import Executor, RunResult, TestCase, TestResult
from beadline.validators.sandbox.factory import make_executor

LEAD = "```python\n"
TASK = Task(
    task_id="b",
    description="Add one to x.",
    entry_point="add_one",
    tests=(
        TestCase.from_assert("assert add_one(1) == 2"),
        TestCase.from_assert("assert add_one(5) == 6"),
    ),
)


@pytest.fixture(scope="module")
def local() -> Iterator[Executor]:
    executor = make_executor("local", workers=1)
    try:
        yield executor
    finally:
        executor.close()


def _result(*rows: tuple[str, str | None]) -> RunResult:
    test = TestCase.from_assert("assert f(1) == 1")
    return RunResult(
        results=tuple(TestResult(test=test, status=s, return_repr=r) for s, r in rows)  # type: ignore[arg-type]
    )


def test_execution_score_in_closed_form() -> None:
    result = _result(("passed", "5"), ("failed", "None"), ("error", None))
    parts = execution_score("def f(x):\n    return x\n", result, entry_point="f", has_tests=True)
    assert parts == ExecScore(
        syntax_ok=1.0, runtime_ok=2 / 3, tests_passed=1 / 3, trace_quality=1 / 3
    )
    settings = DecoderSettings()  # w = (1, 1, 3, 1), α = 1, β = 2
    assert parts.e(settings) == pytest.approx(1 + 2 / 3 + 3 * (1 / 3) + 1 / 3)
    assert score(-2.5, parts.e(settings), settings) == pytest.approx(-2.5 + 2 * 3.0)
    custom = DecoderSettings(alpha=0.5, beta=1.0, w1=0, w2=0, w3=1, w4=0)
    assert score(-2.0, parts.e(custom), custom) == pytest.approx(-1.0 + 1 / 3)


def test_not_run_and_unfinished_code() -> None:
    assert execution_score("def f(x):\n    if x:", None, entry_point="f", has_tests=True) == (
        ExecScore(syntax_ok=1.0)
    )
    # a finished program gets no `pass`: an empty body is a syntax error
    finished = execution_score("def f(x):\n", None, entry_point="f", has_tests=True, finished=True)
    assert finished.syntax_ok == 0.0


def test_syntax_checks() -> None:
    assert syntax_ok("def f(x):\n    for i in x:") == 1.0
    assert syntax_ok("def f(x):\n    return (") == 0.0
    assert strict_syntax_ok("def f(x):\n    for i in x:") == 0.0
    assert strict_syntax_ok("def f(x):\n    return x\n") == 1.0


def test_checking_model_code_prints_no_warnings(recwarn: pytest.WarningsRecorder) -> None:
    warns = 'def f(x):\n    return x is "a"\n'  # SyntaxWarning: "is" with a literal
    assert syntax_ok(warns) == strict_syntax_ok(warns) == 1.0
    assert undefined_names(warns, "f") == set()
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


def test_static_fallback_without_tests() -> None:
    code = "def f(x):\n    return g(x) + math.pi + len(x)\n"
    assert undefined_names(code, "f") == {"g", "math"}
    assert undefined_names("import math\n" + code, "f") == {"g"}
    assert undefined_names("def f(x):\n    y = x\n    return y\n", "f") == set()
    bad = execution_score(code, None, entry_point="f", has_tests=False)
    good = execution_score("def f(x):\n    return x\n", None, entry_point="f", has_tests=False)
    assert bad == ExecScore(syntax_ok=1.0, static_ok=0.0)
    assert good.static_ok == 1.0
    settings = DecoderSettings()
    assert good.e(settings) == 2.0 and bad.e(settings) == 1.0


def _branching(ctx: str) -> dict[str, float]:
    """Writes ``def add_one(x):`` then ``return x + 2`` (likely) or ``return x + 1``."""
    code = ctx.rsplit(LEAD, 1)[-1]
    head = "def add_one(x):\n    return x + "
    if head.startswith(code) and len(code) < len(head):
        return {head[len(code)]: 0.0}
    if code == head:
        return {"2": 0.0, "1": -1.0}
    if code.endswith(("+ 1", "+ 2")):
        return {"\n": 0.0}
    return {"<eos>": 0.0}


def test_beam_selects_the_passing_line_over_the_likelier_one(local: Executor) -> None:
    model = FunctionModel(_branching)
    greedy = decode(TASK, model, local, DecoderSettings(gamma=0.0))
    assert greedy.program.endswith("return x + 2\n") and greedy.status == "unsolved"
    got = decode(
        TASK, model, local, DecoderSettings(strategy="beam", beam_candidates=8, t=1.0, seed=3)
    )
    assert got.status == "solved"
    assert got.program == "def add_one(x):\n    return x + 1\n"
    scored = [c for step in got.record.beam for c in step.candidates]
    plus_one = next(c for c in scored if c.line.endswith("+ 1\n"))
    plus_two = next(c for c in scored if c.line.endswith("+ 2\n"))
    assert plus_two.logp > plus_one.logp  # the model prefers + 2 ...
    assert plus_one.score > plus_two.score  # ... execution prefers + 1
    assert plus_one.tests_passed == 1.0 and plus_two.tests_passed == 0.0
    assert plus_one.kept


def test_cfg_beam_guides_lines_inside_the_beam(local: Executor) -> None:
    model = FunctionModel(_branching)
    got = decode(
        TASK,
        model,
        local,
        DecoderSettings(strategy="cfg+beam", beam_candidates=4, t=1.0, seed=5, s=3),
    )
    assert got.record.beam
    assert got.status == "solved"
    assert got.cost.programs_executed >= 1
