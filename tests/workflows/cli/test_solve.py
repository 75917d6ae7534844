"""Task files and ``beadline solve`` with a fake model (and the real local sandbox)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.agents.models.choice import ModelChoice
from beadline.agents.task import SolveResult
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import Executor, TestCase
from beadline.validators.sandbox.factory import make_executor
from beadline.workflows.bench.tasks import infer_entry_point, load_task_file
from beadline.workflows.cli import cli
from beadline.workflows.cli import solve as solve_command
from beadline.workflows.errors import UserError

LEAD = "```python\n"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "tasks"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_yaml_task_infers_the_entry_point(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "add.yaml",
        "description: Add one.\ntests:\n  - assert add_one(1) == 2\n  - assert add_one(len([])) == 1\n",
    )
    task = load_task_file(path)
    assert task.task_id == "add" and task.entry_point == "add_one"
    assert [t.source for t in task.tests] == [
        "assert add_one(1) == 2",
        "assert add_one(len([])) == 1",
    ]


def test_load_json_task_with_signature_and_held_out(tmp_path: Path) -> None:
    data = {
        "description": "Add one.",
        "tests": ["assert f(1) == 2"],
        "held_out_tests": ["assert f(2) == 3"],
        "signature": "def f(x):",
        "task_id": "custom",
    }
    task = load_task_file(_write(tmp_path, "t.json", json.dumps(data)))
    assert (task.task_id, task.entry_point, task.signature) == ("custom", "f", "def f(x):")
    assert task.held_out_tests == (TestCase.from_assert("assert f(2) == 3"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("description: d\n", "missing key 'tests'"),
        ("tests: [assert f(1) == 2]\n", "missing key 'description'"),
        ("description: d\ntests: []\n", "non-empty list"),
        ("description: d\ntests: [assert f(1) ==]\n", "is not valid Python"),
        ("description: d\ntests: ['print(1)']\n", "not an assert statement"),
        ("description: d\ntests: ['assert 1 == 1']\n", "cannot infer the function name"),
        ("description: d\ntests: ['assert f(1) == 2']\nentry_point: g\n", "never call 'g'"),
        ("description: d\ntests: ['assert f(1) == 2']\ncolour: red\n", "unknown key(s) 'colour'"),
        ("description: d\ntests: ['assert f(1) == 2']\nsignature: f(x)\n", "must be a def line"),
        ("description: [d\n", "not valid YAML"),
    ],
)
def test_bad_task_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_task_file(path)
    assert str(path) in str(info.value)


def test_missing_task_file() -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_task_file("/nonexistent/task.yaml")


def test_infer_prefers_the_signature_then_the_most_called_name() -> None:
    tests = [TestCase.from_assert("assert g(f(1)) == f(2)")]
    assert infer_entry_point(tests) == "f"
    assert infer_entry_point(tests, "def h(x):") == "h"


def test_examples_load() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert files
    for path in files:
        assert load_task_file(path).tests


# --- the command ----------------------------------------------------------------------------


def _model() -> FunctionModel:
    target = "def add_one(x):\n    return x + 1\n"

    def brain(ctx: str) -> dict[str, float]:
        code = ctx.rsplit(LEAD, 1)[-1]
        if target.startswith(code) and len(code) < len(target):
            return {target[len(code)]: 0.0}
        return {"<eos>": 0.0}

    return FunctionModel(brain)


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    opened: list[str] = []
    executor = make_executor("local", workers=1)

    def open_model(choice: ModelChoice) -> FunctionModel:
        opened.append(choice.describe())
        return _model()

    def open_executor(kind: str) -> Executor:
        opened.append(kind)
        return executor

    monkeypatch.setattr(solve_command, "open_model", open_model)
    monkeypatch.setattr(solve_command, "open_executor", open_executor)
    try:
        yield opened
    finally:
        executor.close()


def test_solve_from_flags_prints_program_verdicts_and_summary(
    wired: list[str], tmp_path: Path
) -> None:
    record = tmp_path / "rec.json"
    result = CliRunner().invoke(
        cli,
        [
            "solve",
            "--description",
            "Add one to x.",
            "--test",
            "assert add_one(1) == 2",
            "--test",
            "assert add_one(-1) == 0",
            "--sandbox",
            "local",
            "--method",
            "cfg",
            "-s",
            "2",
            "--record",
            str(record),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert wired == ["smollm2-135m (llama_cpp)", "local"]
    assert "return x + 1" in result.output
    assert result.output.count("passed") >= 2
    assert "SOLVED · visible 2/2 · by cfg [cfg s=2 t=0.75 d=2 k=1 γ=1 auto]" in result.output
    assert "record written to" in result.output
    data = json.loads(record.read_text())
    assert data["status"] == "solved" and data["entry_point"] == "add_one"


def test_solve_from_a_file_that_fails_exits_2(wired: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "description: d\ntests: ['assert add_one(1) == 5']\n")
    result = CliRunner().invoke(cli, ["solve", str(path), "--method", "greedy"])
    assert result.exit_code == 2
    assert "UNSOLVED · visible 0/1" in result.output
    assert "expected 5, got 2" in result.output or "failed" in result.output


def test_solve_usage_errors_are_one_line() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["solve"])
    assert result.exit_code == 1
    assert "Error: give a TASK_FILE, or --description and at least one --test" in result.output
    result = runner.invoke(cli, ["solve", "--description", "d", "--test", "assert 1 == 1"])
    assert result.exit_code == 1 and "cannot infer the function name" in result.output
    result = runner.invoke(cli, ["solve", "/nope.yaml"])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_solve_egcfg_grid_rounds_reach_the_search(
    wired: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[SolveResult] = []
    real = solve_command.solve_task

    def spy(*args: Any, **kwargs: Any) -> SolveResult:
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(solve_command, "solve_task", spy)
    # each invocation closes its sandbox: give every one a fresh one
    monkeypatch.setattr(solve_command, "open_executor", lambda kind: make_executor(kind, workers=1))
    path = _write(tmp_path, "t.yaml", "description: d\ntests: ['assert add_one(1) == 5']\n")
    args = ["solve", str(path), "--method", "egcfg", "--sandbox", "local", "--time-budget", "30"]
    assert CliRunner().invoke(cli, args).exit_code == 2
    assert CliRunner().invoke(cli, [*args, "--grid-rounds", "2"]).exit_code == 2
    once, twice = (r.config["attempts"] for r in seen)
    # the γ=0 greedy configuration runs once; every other one again with a new seed
    assert twice == 2 * once - 1
    bad = CliRunner().invoke(cli, [*args, "--grid-rounds", "0"])
    assert bad.exit_code == 2 and "--grid-rounds" in bad.output


def test_solve_backend_is_a_fixed_choice_and_server_flags_need_openai() -> None:
    runner = CliRunner()
    args = ["solve", "--description", "Add one.", "--test", "assert add_one(1) == 2"]
    result = runner.invoke(cli, [*args, "--backend", "vllm"])
    assert result.exit_code == 2
    assert (
        "Invalid value for '--backend': 'vllm' is not one of 'llama_cpp', 'transformers', "
        "'openai'." in result.output
    )
    result = runner.invoke(cli, [*args, "--base-url", "http://127.0.0.1:8000/v1"])
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: --base-url is only for --backend openai (got llama_cpp)\n"
    )
