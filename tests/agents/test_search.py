"""solve(): methods, the configuration grid, budgets, verdicts and task-level problems."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence

import pytest

from beadline.agents.errors import UserError
from beadline.agents.search import DEFAULT_GRID, check_task, default_grid, repeat_grid, solve
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.errors import SandboxError
from beadline.validators.executor import Executor, RunRequest, RunResult, TestCase
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.testing import FakeExecutor

LEAD = "```python\n"
TASK = Task(
    task_id="s",
    description="Add one to x.",
    entry_point="add_one",
    tests=(TestCase.from_assert("assert add_one(1) == 2"),),
    held_out_tests=(
        TestCase.from_assert("assert add_one(5) == 6"),
        TestCase.from_assert("assert add_one(1) == 3"),
    ),
)


@pytest.fixture(scope="module")
def local() -> Iterator[Executor]:
    executor = make_executor("local", workers=1)
    try:
        yield executor
    finally:
        executor.close()


def completes(
    head: str, options: dict[str, float], *, extra_pieces: Sequence[str] = ()
) -> FunctionModel:
    """A model writing ``head`` then one of ``options``, then ending the line and the program
    (``extra_pieces``: vocabulary pieces besides the fake tokenizer's, see ``FunctionModel``)."""

    def brain(ctx: str) -> dict[str, float]:
        code = ctx.rsplit("[BEGIN]\n" if "[BEGIN]" in ctx else LEAD, 1)[-1]
        if head.startswith(code) and len(code) < len(head):
            return {head[len(code)]: 0.0}
        if code == head:
            return options
        if code.endswith("\n"):
            return {"<eos>": 0.0}
        return {"\n": 0.0}

    return FunctionModel(brain, extra_pieces=list(extra_pieces))


def writes(options: dict[str, float]) -> FunctionModel:
    """A model writing ``def add_one(x):\\n    return x + N`` with N drawn from ``options``."""
    return completes("def add_one(x):\n    return x + ", options)


def test_greedy_judges_visible_and_held_out(local: Executor) -> None:
    result = solve(TASK, writes({"1": 0.0, "2": -1.0}), local, method="greedy")
    assert result.status == "solved"
    assert result.program == "def add_one(x):\n    return x + 1\n"
    assert result.visible is not None and result.visible.passed
    assert result.held_out is not None and result.held_out.n_passed == 1
    assert result.config["gamma"] == 0.0 and result.config["temperature"] == 0.0
    assert result.record is not None and result.record["status"] == "solved"
    assert result.cost.tokens_generated > 0 and result.cost.seconds > 0


def test_sample_filter_samples_until_the_visible_tests_pass(local: Executor) -> None:
    model = writes({"2": 0.0, "3": 0.0, "1": -0.5})
    result = solve(TASK, model, local, method="sample-filter", max_samples=30)
    assert result.status == "solved"
    assert result.config["attempt"] >= 0
    assert result.config["temperature"] == 0.8 and result.config["gamma"] == 0.0
    spent = solve(
        TASK, writes({"2": 0.0, "3": 0.0}), local, method="sample-filter", token_budget=40
    )
    assert spent.status == "unsolved"
    per_sample = spent.cost.tokens_generated / spent.config["attempts"]
    assert spent.cost.tokens_generated >= 40 > spent.cost.tokens_generated - per_sample


def test_egcfg_tries_the_grid_in_order_and_reports_the_solver() -> None:
    def brain(ctx: str) -> dict[str, float]:
        # the chat prompt leads to `+ 2`, the few-shot prompt to `+ 1`
        return writes({"1": 0.0} if "[BEGIN]" in ctx else {"2": 0.0}).fn(ctx)

    def judge(request: RunRequest) -> RunResult:
        return FakeExecutor().on_run(request) if "+ 1" in request.program else _failed(request)

    grid = [
        DecoderSettings(gamma=0.0),
        DecoderSettings(gamma=0.0, seed=1),
        DecoderSettings(gamma=0.0, prompt_type="fewshot"),
        DecoderSettings(gamma=0.0, prompt_type="chat"),
    ]
    fake = FakeExecutor(judge)
    result = solve(TASK, FunctionModel(brain), fake, method="egcfg", grid=grid)
    assert result.status == "solved" and "+ 1" in result.program
    assert result.config["attempt"] == 2 and result.config["attempts"] == 3
    assert result.config["prompt_type"] == "fewshot"
    assert "fewshot" in result.config["label"]
    # the grid shares one cache: the first two configurations wrote the same program, run once
    search_runs = [r.program for r in fake.requests if r.trace]
    assert len(search_runs) == len(set(search_runs)) == 2


def test_every_attempt_is_summarised_in_the_config() -> None:
    def brain(ctx: str) -> dict[str, float]:
        return writes({"1": 0.0} if "[BEGIN]" in ctx else {"2": 0.0}).fn(ctx)

    def judge(request: RunRequest) -> RunResult:
        return FakeExecutor().on_run(request) if "+ 1" in request.program else _failed(request)

    grid = [DecoderSettings(gamma=0.0), DecoderSettings(gamma=0.0, prompt_type="fewshot")]
    result = solve(TASK, FunctionModel(brain), FakeExecutor(judge), method="egcfg", grid=grid)
    tried = result.config["tried"]
    assert json.loads(json.dumps(tried)) == tried
    assert [t["attempt"] for t in tried] == [0, 1]
    assert [t["label"] for t in tried] == [g.label() for g in grid]
    assert [t["status"] for t in tried] == ["unsolved", "solved"]
    assert [t["tests_passed"] for t in tried] == [0, 1]
    assert all(t["n_tests"] == 1 and t["stop_reason"] and t["seconds"] >= 0 for t in tried)
    assert [t["candidate_passed"] for t in tried] == [False, False]  # γ=0: no candidates
    # the keys callers already read are unchanged
    assert result.config["attempt"] == 1 and result.config["attempts"] == 2
    # a guided decode whose candidate passed says so
    guided = solve(TASK, writes({"1": 0.0}), FakeExecutor(), method="cfg")
    (only,) = guided.config["tried"]
    assert only["candidate_passed"] is True and only["stop_reason"] == "accepted"
    assert only["programs_executed"] >= 1 and only["tokens_generated"] > 0


def _failed(request: RunRequest) -> RunResult:
    from beadline.validators.executor import TestResult

    return RunResult(
        results=tuple(TestResult(test=t, status="failed", message="no") for t in request.tests)
    )


def test_egcfg_stops_at_the_token_budget() -> None:
    model = writes({"2": 0.0})
    fake = FakeExecutor(_failed)
    grid = [DecoderSettings(gamma=0.0)] * 5
    result = solve(TASK, model, fake, method="egcfg", grid=grid, token_budget=1)
    assert result.config["attempts"] == 1 and result.status == "unsolved"


def test_default_grid_follows_the_base_settings() -> None:
    base = DecoderSettings(prompt_type="fewshot", max_new_tokens=99)
    grid = default_grid(base)
    assert len(grid) == len(DEFAULT_GRID)
    assert all(g.prompt_type == "fewshot" and g.max_new_tokens == 99 for g in grid)
    assert [g.gamma for g in grid] == [g["gamma"] for g in DEFAULT_GRID]


def test_repeat_grid_reseeds_what_can_come_out_differently() -> None:
    grid = [
        DecoderSettings(gamma=0.0),  # plain greedy: one pass is enough
        DecoderSettings(gamma=1.0, seed=5),
        DecoderSettings(gamma=0.0, temperature=0.7, seed=None),
    ]
    assert repeat_grid(grid, 1) == grid
    out = repeat_grid(grid, 3)
    assert out[:3] == grid
    assert [(g.gamma, g.seed) for g in out[3:]] == [
        (1.0, 1005),
        (0.0, None),
        (1.0, 2005),
        (0.0, None),
    ]
    with pytest.raises(UserError, match="rounds must be ≥ 1"):
        repeat_grid(grid, 0)


def test_egcfg_rounds_go_on_until_a_program_passes() -> None:
    def judge(request: RunRequest) -> RunResult:
        return FakeExecutor().on_run(request) if "+ 1" in request.program else _failed(request)

    def brain(ctx: str) -> dict[str, float]:
        return writes({"1": -1.0, "2": 0.0}).fn(ctx)

    grid = [DecoderSettings(gamma=0.0, temperature=1.0, top_p=1.0, seed=4)]
    one = solve(TASK, FunctionModel(brain), FakeExecutor(judge), method="egcfg", grid=grid)
    assert one.status == "unsolved" and one.config["attempts"] == 1
    many = solve(
        TASK, FunctionModel(brain), FakeExecutor(judge), method="egcfg", grid=grid, grid_rounds=40
    )
    assert many.status == "solved" and "+ 1" in many.program
    assert 1 < many.config["attempts"] <= 40
    assert many.config["seed"] == 4 + many.config["attempt"] * 1_000


def _endless() -> FunctionModel:
    """A slow model that writes ``def add_one(x):`` then body lines forever (never returns)."""

    def brain(ctx: str) -> dict[str, float]:
        time.sleep(0.01)
        code = ctx.rsplit(LEAD, 1)[-1]
        head = "def add_one(x):\n"
        if head.startswith(code) and len(code) < len(head):
            return {head[len(code)]: 0.0}
        line = code.rsplit("\n", 1)[-1]
        body = "    v = 1\n"
        return {body[len(line)]: 0.0}

    return FunctionModel(brain)


@pytest.mark.parametrize("method", ["egcfg", "sample-filter", "cfg"])
def test_the_task_time_budget_stops_a_decode_in_progress(method: str) -> None:
    # each decode keeps its own 300 s budget; the task's 0.6 s must still end the run
    grid = [
        DecoderSettings(gamma=1.0, s=2, d=2, early_stop_agreements=0, prompt_type="chat"),
        DecoderSettings(gamma=0.0, prompt_type="chat"),
    ]
    started = time.monotonic()
    result = solve(
        TASK,
        _endless(),
        FakeExecutor(_failed),
        method=method,
        grid=grid,
        settings=DecoderSettings(prompt_type="chat", max_new_tokens=4096),
        time_budget_s=0.6,
    )
    took = time.monotonic() - started
    assert took < 0.6 + 1.5, f"{method} ran {took:.1f} s on a 0.6 s budget"
    assert result.status == "budget"
    assert result.record is not None and "time budget" in result.record["message"]
    # the reported configuration is the caller's, not the cut one
    assert result.config["time_budget_s"] == 300.0


@pytest.mark.parametrize(
    ("tests", "expected"),
    [
        (("assert add_one(1) == ",), "does not parse"),
        (("assert other(1) == 2",), "never uses the entry point"),
    ],
)
def test_bad_tasks_end_with_an_error_status(tests: tuple[str, ...], expected: str) -> None:
    task = Task(
        task_id="bad",
        description="d",
        entry_point="add_one",
        tests=tuple(TestCase(kind="assert", source=t) for t in tests),
    )
    assert expected in (check_task(task) or "")
    result = solve(task, writes({"1": 0.0}), FakeExecutor(), method="cfg")
    assert result.status == "error" and expected in result.message


def test_sandbox_failure_is_a_status_not_an_exception() -> None:
    def broken(request: RunRequest) -> RunResult:
        raise SandboxError("the worker died and could not be restarted")

    result = solve(TASK, writes({"1": 0.0}), FakeExecutor(broken), method="cfg")
    assert result.status == "error"
    assert "worker died" in result.message


def test_model_that_never_writes_the_function() -> None:
    model = FunctionModel(lambda ctx: {"x": 0.0})
    result = solve(
        TASK,
        model,
        FakeExecutor(),
        method="greedy",
        settings=DecoderSettings(prompt_type="fewshot", max_new_tokens=10),
    )
    assert result.status == "no_function"
    assert "never wrote `def add_one(`" in result.message


def test_caller_mistakes_raise() -> None:
    with pytest.raises(UserError, match="unknown method"):
        solve(TASK, writes({"1": 0.0}), FakeExecutor(), method="magic")
    with pytest.raises(UserError, match="factory"):
        solve(TASK, writes({"1": 0.0}), FakeExecutor(), method="egcfg", workers=2)


@pytest.mark.slow
def test_egcfg_across_worker_processes() -> None:
    from functools import partial

    from beadline.agents.models.loader import load_model

    grid = [
        DecoderSettings(gamma=0.0, max_new_tokens=8),
        DecoderSettings(gamma=0.0, seed=2, max_new_tokens=8),
    ]
    result = solve(
        TASK,
        writes({"1": 0.0}),
        FakeExecutor(),
        method="egcfg",
        grid=grid,
        workers=2,
        model_factory=partial(load_model, "tiny-test"),
        executor_factory=partial(make_executor, "local", workers=1),
        time_budget_s=60,
    )
    # the tiny model writes gibberish: the point is that both workers ran and reported back
    assert result.status in ("no_function", "unsolved", "budget")
    assert 1 <= result.config["attempts"] <= 2
    assert result.cost.tokens_generated > 0


TRIPLE = Task(
    task_id="t",
    description="Triple x.",
    entry_point="triple",
    tests=(
        TestCase.from_assert("assert triple(137) == 411"),
        TestCase.from_assert("assert triple(20) == 60"),
    ),
    held_out_tests=(TestCase.from_assert("assert triple(5) == 15"),),
)
LOOKUP = "if x == 137:\n        return 411\n    return 60"
"""An overfit body: it branches on a test's input and returns the expected outputs."""
RIGHT = "return x * 3"


def triples(options: dict[str, float]) -> FunctionModel:
    """A model writing ``def triple(x):\n    BODY`` with BODY drawn from ``options``."""
    return completes("def triple(x):\n    ", options, extra_pieces=list(options))


def test_overfit_guard_refuses_a_program_that_looks_up_the_tests(local: Executor) -> None:
    result = solve(TRIPLE, triples({LOOKUP: 0.0}), local, method="greedy")
    assert result.visible is not None and result.visible.passed  # it does pass the visible tests
    assert result.status == "unsolved"
    assert result.message.startswith("overfit guard: branch_on_input, line 2: ")
    assert "assert triple(137) == 411" in result.message
    assert result.config["guard_rejections"] == 1
    (tried,) = result.config["tried"]
    assert tried["overfit"] and "line 2" in tried["overfit"][0]
    assert result.held_out is not None and not result.held_out.passed


@pytest.mark.parametrize("method", ["sample-filter", "egcfg"])
def test_overfit_guard_keeps_the_search_going(local: Executor, method: str) -> None:
    model = triples({LOOKUP: 0.0, RIGHT: -0.7})
    result = solve(TRIPLE, model, local, method=method, max_samples=40)
    assert result.status == "solved"
    assert RIGHT in result.program
    assert result.held_out is not None and result.held_out.passed


def test_overfit_guard_leaves_a_correct_program_solved(local: Executor) -> None:
    result = solve(TRIPLE, triples({RIGHT: 0.0}), local, method="greedy")
    assert result.status == "solved" and result.config["guard_rejections"] == 0
