"""``beadline bench run`` / ``report`` through click's CliRunner, with a fake solver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.agents.task import Cost, SolveResult, Task
from beadline.validators.executor import RunResult, TestResult
from beadline.workflows.bench.runner import SolveCall
from beadline.workflows.cli import bench as bench_command
from beadline.workflows.cli import cli


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, SolveCall]] = []
        self.opened: list[tuple[str, str, str]] = []

    def solve(self, task: Task, call: SolveCall) -> SolveResult:
        self.calls.append((task.task_id, call))
        if call.method == "egcfg":
            # a measurable wall time: results lines keep 4 decimals, and a wall-matched run
            # needs the matched method's seconds to be > 0 (an instant fake rounds to 0.0)
            time.sleep(0.002)
        ok = call.method == "egcfg" or task.task_id == "mbpp/11"
        run = RunResult(
            results=tuple(
                TestResult(test=t, status="passed" if ok else "failed") for t in task.tests
            )
        )
        held = None
        if task.held_out_tests:
            held = RunResult(
                results=tuple(
                    TestResult(test=t, status="passed" if ok else "failed")
                    for t in task.held_out_tests
                )
            )
        return SolveResult(
            task_id=task.task_id,
            method=call.method,
            status="solved" if ok else "unsolved",
            program="def f(): pass\n",
            visible=run,
            held_out=held,
            cost=Cost(tokens_generated=300, tokens_evaluated=900, seconds=1.0),
        )


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()

    @contextmanager
    def fake_open(model: str, backend: str, sandbox: str) -> Iterator[tuple[Any, dict[str, Any]]]:
        rec.opened.append((model, backend, sandbox))
        yield rec.solve, {"model": model, "backend": backend, "sandbox": "fake"}

    monkeypatch.setattr(bench_command, "_open_solver", fake_open)
    return rec


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_resume_and_report(tmp_path: Path, recorder: Recorder) -> None:
    out = tmp_path / "r.jsonl"
    args = [
        "bench",
        "run",
        "--ids",
        "11-13",
        "-m",
        "greedy",
        "-m",
        "sample-filter",
        "-m",
        "egcfg",
        "--guide-tests",
        "all",
        "--guide-tests",
        "first",
        "--out",
        str(out),
        "--gamma",
        "0.5",
        "--s",
        "3",
        "--set",
        "early_stop_agreements=2",
        "--grid-rounds",
        "2",
        "--sandbox",
        "local",
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert recorder.opened == [("smollm2-135m", "llama_cpp", "local")]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3 * 3 * 2
    egcfg_call = next(c for _, c in recorder.calls if c.method == "egcfg")
    assert dict(egcfg_call.settings) == {"s": 3, "gamma": 0.5, "early_stop_agreements": 2}
    assert egcfg_call.grid_rounds == 2
    assert {c.grid_rounds for _, c in recorder.calls if c.method != "egcfg"} == {1}
    sf = [c for _, c in recorder.calls if c.method == "sample-filter"]
    assert {c.token_budget for c in sf} == {300}  # matched to egcfg's tokens on each task
    assert "ran 18, skipped 0 already finished, 0 errors" in result.output
    assert "egcfg/all: 3/3 passed (100.0%)" in result.output
    assert "greedy/first: 1/3 passed (33.3%)" in result.output

    # A rerun resumes: nothing left, the solver is not called again.
    before = len(recorder.calls)
    again = invoke(*args)
    assert again.exit_code == 0
    assert "ran 0, skipped 18 already finished" in again.output
    assert len(recorder.calls) == before

    report = invoke("bench", "report", str(out), "--out", str(tmp_path / "rep"))
    assert report.exit_code == 0, report.output
    assert "| greedy | 33.3 (1/3) | — | 33.3 (1/3) | — |" in report.output
    assert "| egcfg | 100.0 (3/3) | 100.0 | 100.0 (3/3) | 100.0 |" in report.output
    assert (tmp_path / "rep" / "report.md").is_file()
    assert (tmp_path / "rep" / "pass_at_1_mbpp.png").is_file()


def test_humaneval_run(tmp_path: Path, recorder: Recorder) -> None:
    out = tmp_path / "h.jsonl"
    result = invoke(
        "bench", "run", "--dataset", "humaneval", "--ids", "0,2", "-m", "greedy", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    tasks = [t for t, _ in recorder.calls]
    assert tasks == ["HumanEval/0", "HumanEval/2"]
    (first, _) = [json.loads(x) for x in out.read_text().splitlines()]
    assert first["n_held_out_tests"] == 1 and first["n_visible_tests"] == 2


def test_sample_filter_without_a_budget_is_refused(tmp_path: Path, recorder: Recorder) -> None:
    result = CliRunner().invoke(
        cli, ["bench", "run", "--ids", "11", "-m", "sample-filter", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert "sample-filter needs the token budget EG-CFG used" in result.output
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ids", "11-x"], "bad task id '11-x'"),
        (["--ids", "5000"], "has no task with id 5000"),
        (["--set", "oops"], "use KEY=VALUE"),
        (["-m", "magic"], "'magic' is not one of"),
    ],
)
def test_bad_input_gives_one_line_errors(
    tmp_path: Path, recorder: Recorder, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["bench", "run", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_of_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bench", "report", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1
    assert "no results file" in result.output


def test_help_lists_run_and_report() -> None:
    result = invoke("bench", "--help")
    assert result.exit_code == 0
    assert "run" in result.output and "report" in result.output


def test_bad_decoder_knob_fails_before_the_model_loads(tmp_path: Path, recorder: Recorder) -> None:
    result = CliRunner().invoke(
        cli, ["bench", "run", "--ids", "11", "--s", "0", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert "invalid decoder settings: s" in result.output
    assert recorder.opened == []


@pytest.mark.slow
def test_real_model_and_sandbox_end_to_end(tmp_path: Path) -> None:
    """The packaged model and the local sandbox through `bench run` (greedy, one task)."""
    out = tmp_path / "real.jsonl"
    result = invoke(
        "bench", "run", "--ids", "11", "-m", "greedy", "--sandbox", "local", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["model"], line["sandbox"]) == ("smollm2-135m", "local")
    assert line["status"] in {"solved", "unsolved"}, line["message"]
    assert "def remove_Occ" in line["program"]
    assert line["visible"]["n_tests"] == 3
    assert line["passed"] is (line["status"] == "solved")
    assert line["cost"]["tokens_generated"] > 0 and line["wall_s"] > 0


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tasks" / "own_benchmark.jsonl"


def test_jsonl_dataset_and_two_budget_metrics_side_by_side(
    tmp_path: Path, recorder: Recorder
) -> None:
    out = tmp_path / "own.jsonl"
    result = invoke(
        "bench", "run", "--dataset", "jsonl", "--data", str(EXAMPLE), "--ids", "1,7",
        "-m", "egcfg", "-m", "sample-filter", "--budget-metric", "tokens_generated,wall_s",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["task_id"], x["method"]) for x in lines[:3]] == [
        (lines[0]["task_id"], "egcfg"),
        (lines[0]["task_id"], "sample-filter@tokens"),
        (lines[0]["task_id"], "sample-filter@wall"),
    ]
    assert len(lines) == 6
    wall = lines[2]
    assert wall["config"]["budget_metric"] == "wall_s" and wall["time_budget_s"] > 0
    assert lines[1]["token_budget"] == 300
    calls = [c for _, c in recorder.calls]
    assert [c.method for c in calls[:3]] == ["egcfg", "sample-filter", "sample-filter"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "jsonl"], "--dataset jsonl needs --data FILE"),
        (["-m", "egcfg", "-m", "sample-filter", "--budget-metric", "tokens,wall"], "use one or"),
    ],
)
def test_jsonl_and_metric_errors(
    tmp_path: Path, recorder: Recorder, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["bench", "run", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_a_bad_jsonl_line_is_named_file_and_line(tmp_path: Path, recorder: Recorder) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_text('{"description": "x", "tests": ["assert f(1) == 1"]}\n{"tests": 3}\n')
    result = CliRunner().invoke(
        cli,
        ["bench", "run", "--dataset", "jsonl", "--data", str(data), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 1 and f"{data}:2" in result.output, result.output
    assert "Traceback" not in result.output and recorder.calls == []
