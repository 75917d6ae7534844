"""``beadline show``: a record rendered so a person sees why each line was written."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from beadline.agents.decoding import decode
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import RunRequest, RunResult, TestCase, TestResult
from beadline.validators.testing import FakeExecutor
from beadline.workflows.cli import cli

LEAD = "```python\n"
WRONG = "def add_one(x):\n    return x + 2\n"
RIGHT = "def add_one(x):\n    return x + 1\n"
TASK = Task(
    task_id="show-me",
    description="Add one.",
    entry_point="add_one",
    tests=(TestCase.from_assert("assert add_one(1) == 2"),),
)


def _brain(ctx: str) -> dict[str, float]:
    target = RIGHT if "expected 2, got 3" in ctx else WRONG
    code = ctx.rsplit(LEAD, 1)[-1]
    if target.startswith(code) and len(code) < len(target):
        return {target[len(code)]: 0.0}
    return {"<eos>": 0.0}


def _judge(request: RunRequest) -> RunResult:
    good = "x + 1" in request.program
    return RunResult(
        results=tuple(
            TestResult(
                test=t,
                status="passed" if good else "failed",
                message="" if good else "expected 2, got 3",
            )
            for t in request.tests
        )
    )


def _record(tmp_path: Path, strategy: str = "cfg") -> Path:
    # skip_plain_at_gamma_one off: the record keeps the plain model's preferred token to show
    got = decode(
        TASK,
        FunctionModel(_brain),
        FakeExecutor(_judge),
        DecoderSettings(strategy=strategy, skip_plain_at_gamma_one=False),
    )
    path = tmp_path / "record.json"
    path.write_text(json.dumps(got.record.to_json()), encoding="utf-8")
    return path


def test_show_explains_the_guided_line(tmp_path: Path) -> None:
    path = _record(tmp_path)
    result = CliRunner().invoke(
        cli, ["show", str(path), "--width", "200", "--signal"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "show-me" in out and "status solved" in out
    assert "return x + 1" in out
    assert "guided: 2 candidates" in out
    assert "failed: expected 2, got 3" in out  # the candidate's outcome
    assert "(plain model preferred '2')" in out  # the token guidance changed
    assert "Execution of 1 candidate" in out  # --signal shows the signal text


def test_show_renders_beam_scores(tmp_path: Path) -> None:
    path = _record(tmp_path, strategy="beam")
    result = CliRunner().invoke(cli, ["show", str(path), "--width", "200"])
    assert result.exit_code == 0, result.output
    assert "beam line 0" in result.output and "score" in result.output


def test_show_accepts_a_result_line_holding_a_record(tmp_path: Path) -> None:
    path = _record(tmp_path)
    wrapped = tmp_path / "line.json"
    wrapped.write_text(json.dumps({"task_id": "x", "record": json.loads(path.read_text())}))
    result = CliRunner().invoke(cli, ["show", str(wrapped), "--tokens"])
    assert result.exit_code == 0 and "return x + 1" in result.output


def test_show_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["show", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    bad = runner.invoke(cli, ["show", str(junk)])
    assert bad.exit_code == 1 and "not a decoding record" in bad.output
    text = tmp_path / "text.json"
    text.write_text("not json")
    assert "not a JSON record" in runner.invoke(cli, ["show", str(text)]).output
