"""The benchmark runner with a fake solver: lines, resume after a kill, errors, budgets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from beadline.agents.task import Cost, SolveResult, Task
from beadline.validators.executor import RunResult, TestCase, TestResult
from beadline.workflows.bench.runner import (
    BenchProgress,
    MethodSpec,
    ResultsFile,
    SolveCall,
    read_results,
    result_key,
    run_bench,
)
from beadline.workflows.errors import UserError


def make_task(n: int, *, held_out: bool = False) -> Task:
    tests = tuple(TestCase.from_assert(f"assert f({i}) == {i}") for i in range(3))
    return Task(
        task_id=f"mbpp/{n}",
        description=f"task {n}",
        entry_point="f",
        tests=tests[:1] if held_out else tests,
        held_out_tests=tests if held_out else (),
        metadata={"dataset": "mbpp", "number": n},
    )


def verdict(tests: tuple[TestCase, ...], passed: bool) -> RunResult:
    return RunResult(
        results=tuple(
            TestResult(
                test=t, status="passed" if passed else "failed", message="" if passed else "x"
            )
            for t in tests
        ),
        backend="fake",
    )


class FakeSolver:
    """Solves task n with method m when rule(n, m) holds; records every call."""

    def __init__(self, rule: Callable[[int, str], bool], tokens: int = 100) -> None:
        self.rule = rule
        self.tokens = tokens
        self.calls: list[tuple[str, SolveCall]] = []

    def __call__(self, task: Task, call: SolveCall) -> SolveResult:
        self.calls.append((task.task_id, call))
        n = int(task.task_id.split("/")[1])
        ok = self.rule(n, call.method)
        return SolveResult(
            task_id=task.task_id,
            method=call.method,
            status="solved" if ok else "unsolved",
            program=f"def f(x):\n    return x  # {call.method}\n",
            config={"s": 2},
            visible=verdict(task.tests, ok),
            held_out=verdict(task.held_out_tests, ok) if task.held_out_tests else None,
            cost=Cost(tokens_generated=self.tokens + n, tokens_evaluated=10 * n, seconds=0.5),
            record={"lines": [n]},
        )


def lines_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


TASKS = [make_task(n) for n in (11, 12, 13, 14)]
GREEDY = MethodSpec(name="greedy")
EGCFG = MethodSpec(name="egcfg", settings={"gamma": 1.0})


def test_one_line_per_task_and_method(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    solver = FakeSolver(lambda n, m: n % 2 == 0 or m == "egcfg")
    summary = run_bench({"all": TASKS}, [GREEDY, EGCFG], solver, out, run_info={"model": "fake"})
    lines = lines_of(out)
    assert len(lines) == 8 and summary.ran == 8 and summary.skipped == 0
    first = lines[0]
    assert first["key"] == "mbpp/11|greedy|all" == result_key("mbpp/11", "greedy", "all")
    assert (first["method"], first["guide_tests"], first["status"]) == ("greedy", "all", "unsolved")
    assert first["passed"] is False
    assert first["visible"]["n_passed"] == 0 and first["visible"]["n_tests"] == 3
    assert first["held_out"] is None
    assert first["program"].startswith("def f(x):")
    assert first["cost"] == {
        "tokens_evaluated": 110,
        "tokens_generated": 111,
        "programs_executed": 0,
        "seconds": 0.5,
    }
    assert first["config"]["solved_by"] == {"s": 2}
    assert first["model"] == "fake"
    # task-major order: both methods of a task before the next task
    assert [x["key"] for x in lines[:2]] == ["mbpp/11|greedy|all", "mbpp/11|egcfg|all"]
    assert lines[1]["config"]["settings"] == {"gamma": 1.0}
    assert summary.passed == {"greedy/all": (2, 4), "egcfg/all": (4, 4)}


def test_held_out_verdict_decides_passed(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    task = make_task(20, held_out=True)

    def solver(t: Task, call: SolveCall) -> SolveResult:
        return SolveResult(
            task_id=t.task_id,
            method=call.method,
            status="solved",
            visible=verdict(t.tests, True),  # fits the one shown assert ...
            held_out=verdict(t.held_out_tests, False),  # ... but not all three
        )

    run_bench({"first": [task]}, [GREEDY], solver, out)
    (line,) = lines_of(out)
    assert line["status"] == "solved" and line["visible"]["passed"] is True
    assert line["passed"] is False
    assert line["n_visible_tests"] == 1 and line["n_held_out_tests"] == 3


def test_resume_after_kill_skips_finished_and_cuts_truncated_tail(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    solver = FakeSolver(lambda n, m: True)
    run_bench({"all": TASKS[:2]}, [GREEDY, EGCFG], solver, out)
    complete = out.read_bytes()
    # Simulate a kill in the middle of writing the next line.
    out.write_bytes(complete + b'{"schema": 1, "key": "mbpp/13|greedy|all", "task_')
    again = FakeSolver(lambda n, m: True)
    seen: list[BenchProgress] = []
    summary = run_bench({"all": TASKS}, [GREEDY, EGCFG], again, out, on_progress=seen.append)
    assert summary.dropped_tail is True
    assert summary.skipped == 4 and summary.ran == 4
    assert [(t, c.method) for t, c in again.calls] == [
        ("mbpp/13", "greedy"),
        ("mbpp/13", "egcfg"),
        ("mbpp/14", "greedy"),
        ("mbpp/14", "egcfg"),
    ]
    lines = lines_of(out)  # every line parses: the torn tail is gone
    assert len(lines) == 8
    assert len({x["key"] for x in lines}) == 8
    assert seen[0].line is None and seen[0].done == 0 and seen[-1].done == seen[-1].total == 8
    # A third run has nothing left to do.
    third = FakeSolver(lambda n, m: True)
    assert run_bench({"all": TASKS}, [GREEDY, EGCFG], third, out).ran == 0
    assert third.calls == []


def test_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench({"all": TASKS[:1]}, [GREEDY], FakeSolver(lambda n, m: True), out)
    out.write_bytes(out.read_bytes().rstrip(b"\n"))
    results = ResultsFile(out)
    assert len(results.lines) == 1 and not results.dropped_tail
    assert out.read_bytes().endswith(b"}\n")


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench({"all": TASKS[:2]}, [GREEDY], FakeSolver(lambda n, m: True), out)
    first, second = out.read_text().splitlines()
    out.write_text(first + "\ngarbage\n" + second + "\n")
    with pytest.raises(UserError, match=r"r.jsonl:2: not a result line"):
        run_bench({"all": TASKS}, [GREEDY], FakeSolver(lambda n, m: True), out)


def test_task_errors_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    good = FakeSolver(lambda n, m: True)

    def flaky(task: Task, call: SolveCall) -> SolveResult:
        if task.task_id == "mbpp/12":
            raise RuntimeError("the sandbox died\nsecond line")
        if task.task_id == "mbpp/13":
            return SolveResult(
                task_id=task.task_id,
                method=call.method,
                status="no_function",
                message="the model never wrote def f",
            )
        return good(task, call)

    summary = run_bench({"all": TASKS}, [GREEDY], flaky, out)
    lines = {x["task_id"]: x for x in lines_of(out)}
    assert summary.ran == 4 and summary.errors == 1
    assert lines["mbpp/12"]["status"] == "error"
    assert lines["mbpp/12"]["message"] == "RuntimeError: the sandbox died"
    assert lines["mbpp/12"]["passed"] is False
    assert lines["mbpp/13"]["status"] == "no_function"
    assert lines["mbpp/13"]["message"] == "the model never wrote def f"
    assert lines["mbpp/14"]["passed"] is True
    # errors are finished runs unless asked to retry them
    retry = FakeSolver(lambda n, m: True)
    assert run_bench({"all": TASKS}, [GREEDY], retry, out).ran == 0
    summary = run_bench({"all": TASKS}, [GREEDY], retry, out, retry_errors=True)
    assert [t for t, _ in retry.calls] == ["mbpp/12"]
    assert summary.passed == {"greedy/all": (3, 4)}  # the retry's line supersedes the error


def test_keyboard_interrupt_stops_the_run(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"

    def interrupted(task: Task, call: SolveCall) -> SolveResult:
        if task.task_id == "mbpp/13":
            raise KeyboardInterrupt
        return FakeSolver(lambda n, m: True)(task, call)

    with pytest.raises(KeyboardInterrupt):
        run_bench({"all": TASKS}, [GREEDY], interrupted, out)
    assert [x["task_id"] for x in lines_of(out)] == ["mbpp/11", "mbpp/12"]


def test_sample_filter_gets_the_egcfg_budget_of_the_same_task(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    solver = FakeSolver(lambda n, m: False, tokens=1000)
    sf = MethodSpec(name="sample-filter", match_budget="egcfg")
    # given before egcfg on purpose: the runner orders matched methods after their reference
    run_bench({"all": TASKS[:2]}, [sf, EGCFG], solver, out)
    calls = [(t, c.method, c.token_budget) for t, c in solver.calls]
    assert calls == [
        ("mbpp/11", "egcfg", None),
        ("mbpp/11", "sample-filter", 1011),
        ("mbpp/12", "egcfg", None),
        ("mbpp/12", "sample-filter", 1012),
    ]
    sf_lines = [x for x in lines_of(out) if x["method"] == "sample-filter"]
    assert [x["token_budget"] for x in sf_lines] == [1011, 1012]
    assert sf_lines[0]["config"]["match_budget"] == "egcfg"


def test_matched_budget_from_another_file_and_by_evaluated_tokens(tmp_path: Path) -> None:
    ref = tmp_path / "egcfg.jsonl"
    run_bench({"all": TASKS[:1]}, [EGCFG], FakeSolver(lambda n, m: True), ref)
    solver = FakeSolver(lambda n, m: True)
    sf = MethodSpec(name="sample-filter", match_budget="egcfg", budget_metric="tokens_evaluated")
    run_bench({"all": TASKS[:1]}, [sf], solver, tmp_path / "sf.jsonl", reference=[ref])
    assert solver.calls[0][1].token_budget == 110


def test_missing_reference_budget_is_a_task_error_or_the_fixed_fallback(tmp_path: Path) -> None:
    solver = FakeSolver(lambda n, m: True)
    sf = MethodSpec(name="sample-filter", match_budget="egcfg")
    out = tmp_path / "a.jsonl"
    run_bench({"all": TASKS[:1]}, [sf], solver, out)
    (line,) = lines_of(out)
    assert line["status"] == "error" and "no finished egcfg result for mbpp/11" in line["message"]
    assert solver.calls == []
    fallback = MethodSpec(name="sample-filter", match_budget="egcfg", token_budget=700)
    run_bench({"all": TASKS[:1]}, [fallback], solver, tmp_path / "b.jsonl")
    assert solver.calls[0][1].token_budget == 700


def test_both_guide_settings_are_separate_keys(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    tasks = {"all": [make_task(11)], "first": [make_task(11, held_out=True)]}
    run_bench(tasks, [GREEDY], FakeSolver(lambda n, m: True), out)
    assert [x["key"] for x in lines_of(out)] == ["mbpp/11|greedy|all", "mbpp/11|greedy|first"]


def test_records_are_written_beside(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench(
        {"all": TASKS[:1]},
        [EGCFG],
        FakeSolver(lambda n, m: True),
        out,
        records_dir=tmp_path / "rec",
    )
    (line,) = lines_of(out)
    assert json.loads(Path(line["record_file"]).read_text()) == {"lines": [11]}


def test_refuses_a_results_file_of_another_model(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench(
        {"all": TASKS[:1]}, [GREEDY], FakeSolver(lambda n, m: True), out, run_info={"model": "a"}
    )
    with pytest.raises(UserError, match="holds results of model 'a', not 'b'"):
        run_bench(
            {"all": TASKS}, [GREEDY], FakeSolver(lambda n, m: True), out, run_info={"model": "b"}
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "magic"}, "unknown method 'magic'"),
        ({"name": "sample-filter", "token_budget": 0}, "token_budget must be"),
        ({"name": "sample-filter", "match_budget": "sample-filter"}, "match_budget must name"),
    ],
)
def test_method_spec_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        MethodSpec(**kwargs)


def test_read_results_skips_a_torn_tail_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench({"all": TASKS[:1]}, [GREEDY], FakeSolver(lambda n, m: True), out)
    torn = out.read_bytes() + b'{"key": "x'
    out.write_bytes(torn)
    assert len(read_results([out])) == 1
    assert out.read_bytes() == torn
    with pytest.raises(UserError, match="no results file"):
        read_results([tmp_path / "absent.jsonl"])


def test_make_solver_hands_validated_settings_to_search_solve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from beadline.agents import search
    from beadline.agents.settings import DecoderSettings
    from beadline.workflows.bench.runner import make_solver

    seen: dict = {}

    def fake_solve(task: Task, model: object, executor: object, **kwargs: object) -> SolveResult:
        seen.update(kwargs, model=model, executor=executor)
        return SolveResult(task_id=task.task_id, method=str(kwargs["method"]), status="unsolved")

    monkeypatch.setattr(search, "solve", fake_solve)
    solver = make_solver(model="M", executor="E")  # type: ignore[arg-type]
    call = SolveCall(
        method="egcfg",
        settings={"gamma": 0.5, "s": 3},
        grid=({"d": 3}, {"d": 5, "gamma": 3.0}),
        token_budget=900,
        time_budget_s=60.0,
        grid_rounds=3,
    )
    assert solver(make_task(11), call).status == "unsolved"
    assert seen["grid_rounds"] == 3
    assert (seen["model"], seen["executor"], seen["method"]) == ("M", "E", "egcfg")
    assert isinstance(seen["settings"], DecoderSettings)
    assert (seen["settings"].gamma, seen["settings"].s) == (0.5, 3)
    # grid entries apply over the method's settings
    assert [(g.s, g.d, g.gamma) for g in seen["grid"]] == [(3, 3, 0.5), (3, 5, 3.0)]
    assert (seen["token_budget"], seen["time_budget_s"]) == (900, 60.0)
    with pytest.raises(UserError, match="invalid decoder settings: s"):
        solver(make_task(11), SolveCall(method="cfg", settings={"s": 0}))


def test_refuses_to_resume_with_other_decoder_settings(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench({"all": TASKS[:1]}, [EGCFG], FakeSolver(lambda n, m: True), out)
    other = MethodSpec(name="egcfg", settings={"gamma": 3.0})
    with pytest.raises(UserError, match=r"has egcfg runs with settings \{'gamma': 1.0\}"):
        run_bench({"all": TASKS}, [other], FakeSolver(lambda n, m: True), out)
    rounds = MethodSpec(name="egcfg", settings={"gamma": 1.0}, grid_rounds=2)
    assert rounds.config()["grid_rounds"] == 2 and "grid_rounds" not in EGCFG.config()
    with pytest.raises(UserError, match="has egcfg runs with grid_rounds None, but this run"):
        run_bench({"all": TASKS}, [rounds], FakeSolver(lambda n, m: True), out)
    with pytest.raises(UserError, match="grid_rounds must be ≥ 1"):
        MethodSpec(name="egcfg", grid_rounds=0)
    # adding another method to the same file is fine
    assert (
        run_bench({"all": TASKS[:1]}, [EGCFG, GREEDY], FakeSolver(lambda n, m: True), out).ran == 1
    )


def test_wall_and_token_matched_sample_filter_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    now = [0.0]
    inner = FakeSolver(lambda n, m: False, tokens=1000)

    def solver(task: Task, call: SolveCall) -> SolveResult:
        now[0] += 7.0 + int(task.task_id.split("/")[1]) if call.method == "egcfg" else 1.0
        return inner(task, call)

    wall = MethodSpec(name="sample-filter@wall", match_budget="egcfg", budget_metric="wall_s")
    tokens = MethodSpec(name="sample-filter@tokens", match_budget="egcfg")
    capped = MethodSpec(
        name="sample-filter@capped", match_budget="egcfg", budget_metric="wall_s", time_budget_s=5.0
    )
    run_bench({"all": TASKS[:2]}, [wall, tokens, capped, EGCFG], solver, out, clock=lambda: now[0])
    seen = [(t, c.method, c.token_budget, c.time_budget_s, c.max_samples) for t, c in inner.calls]
    assert seen == [
        ("mbpp/11", "egcfg", None, None, 10),
        # egcfg took 18 s on mbpp/11: the wall-matched run gets 18 s and no sample cap
        ("mbpp/11", "sample-filter", None, 18.0, 10_000),
        ("mbpp/11", "sample-filter", 1011, None, 10),
        ("mbpp/11", "sample-filter", None, 5.0, 10_000),  # its own time budget caps the match
        ("mbpp/12", "egcfg", None, None, 10),
        ("mbpp/12", "sample-filter", None, 19.0, 10_000),
        ("mbpp/12", "sample-filter", 1012, None, 10),
        ("mbpp/12", "sample-filter", None, 5.0, 10_000),
    ]
    by_key = {x["key"]: x for x in lines_of(out)}
    line = by_key["mbpp/11|sample-filter@wall|all"]
    assert line["method"] == "sample-filter@wall" and line["time_budget_s"] == 18.0
    assert line["config"]["budget_metric"] == "wall_s" and line["token_budget"] is None
    assert by_key["mbpp/11|sample-filter@tokens|all"]["token_budget"] == 1011


def test_wall_match_without_a_reference_is_a_task_error(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    wall = MethodSpec(name="sample-filter@wall", match_budget="egcfg", budget_metric="wall_s")
    run_bench({"all": TASKS[:1]}, [wall], FakeSolver(lambda n, m: True), out)
    (line,) = lines_of(out)
    assert line["status"] == "error" and "to match its wall_s" in line["message"]


def test_a_method_variant_needs_a_known_method() -> None:
    with pytest.raises(UserError, match="unknown method 'nope@wall'"):
        MethodSpec(name="nope@wall")
