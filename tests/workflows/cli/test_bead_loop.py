"""``beadline bead ready/next/run/threads/resume`` as a new user runs them: a bd tracker (the
stand-in checked against recorded outputs) or its JSONL export, and resume from another
directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.workflows.bead import runtime
from beadline.workflows.cli import cli

from ..conftest import InProcessExecutor

SLUGIFY = {
    "setup": "import re\nimport unicodedata",
    "body[0]": 'text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()',
    "body[1]": 'return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")',
}
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(autouse=True)
def _inprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # long paths stay on one line
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind: InProcessExecutor())


def _script(tmp_path: Path, **stages: Any) -> str:
    path = tmp_path / "script.yaml"
    path.write_text(json.dumps(stages))
    return f"scripted:{path}"


def _bead(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["bead", *args], catch_exceptions=False, input=input)


def test_ready_lists_beads_and_says_which_can_be_built(
    fake_bd: Path, textkit_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(textkit_repo / "textkit")  # anywhere inside the repository
    result = _bead("ready", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(x["id"], x["priority"], x["buildable"]) for x in lines] == [
        ("bd-k3x.1", 1, True),
        ("bd-k3x", 1, True),
        ("bd-7qm", 2, False),
    ]
    table = _bead("ready")
    assert f"ready beads: bd in {textkit_repo} (written back as beadline)" in table.output
    assert "│ bd-k3x.1 │ 1 │ task    │ Handle unicode in slugify │ yes" in table.output


def test_next_builds_the_highest_priority_ready_bead_and_closes_it(
    tmp_path: Path, fake_bd: Path, textkit_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(textkit_repo)
    result = _bead("next", "-m", _script(tmp_path, **SLUGIFY), "--thread", "n1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("next ready bead: bd-k3x.1\n")
    assert (
        f"tracker: bd in {textkit_repo} (written back as beadline); claimed bd-k3x.1 as beadline"
        in result.output
    )
    assert "tracker: closed bd-k3x.1" in result.output
    assert "bead bd-k3x.1: all stages validated" in result.output
    # the next one is the parent feature (the closed child is not ready any more)
    ready = _bead("ready", "--json")
    assert [json.loads(x)["id"] for x in ready.output.splitlines()] == ["bd-k3x", "bd-7qm"]


def test_refused_beads_are_one_line_errors(
    tmp_path: Path, fake_bd: Path, textkit_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(textkit_repo)
    result = _bead("run", "bd-a9w")
    assert result.exit_code == 1
    assert result.output == (
        "Error: bead bd-a9w waits for bd-7qm (open); finish those first, or pass --force to "
        "build it anyway\n"
    )
    inside = _bead("run", "bd-a9w", "--repo", str(textkit_repo / "textkit"))
    assert inside.output == result.output  # --repo inside the repository finds its tracker
    monkeypatch.chdir(tmp_path)
    result = _bead("run", "bd-k3x.1")
    assert result.exit_code == 1
    assert result.output == (
        "Error: bead 'bd-k3x.1' is a tracker id but no repository holds a .beads/ tracker "
        "here; pass --repo DIR (or run inside the repository), or a YAML bead file\n"
    )
    result = _bead("next")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no tracker here: run inside a repository with .beads/, or pass --repo DIR\n"
    )


def test_model_flags_are_checked_before_anything_runs(textkit_repo: Path) -> None:
    result = _bead("run", "bd-k3x", "--repo", str(textkit_repo), "--base-url", "http://h:1/v1")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: --base-url is only for --backend openai (got llama_cpp)\n"
    )
    result = _bead("run", "bd-k3x", "--repo", str(textkit_repo), "--backend", "vllm")
    assert result.exit_code == 2
    assert "Invalid value for '--backend': 'vllm' is not one of" in result.output
    assert not (textkit_repo / ".beadline").exists()


def test_without_bd_the_cli_says_nothing_is_written_back(
    tmp_path: Path, textkit_repo: Path
) -> None:
    model = _script(tmp_path, **SLUGIFY)
    result = _bead("run", "bd-k3x.1", "--repo", str(textkit_repo), "-m", model)
    assert result.exit_code == 0, result.output
    export = textkit_repo / ".beads" / "issues.jsonl"
    assert f"tracker: {export} (read-only: nothing is written back)" in result.output


def test_threads_and_resume_from_another_directory(
    tmp_path: Path, sample_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    square = str(EXAMPLES / "beads" / "1-square.yaml")
    model = _script(tmp_path, **{"body[0]": "return n * n"})
    monkeypatch.chdir(sample_repo)
    # review: approve signature and setup, then the input runs out (a person walked away)
    result = _bead(
        "run", square, "--repo", ".", "-m", model, "--review", "--thread", "r1",
        input="approve\napprove\n",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "interrupted; nothing was written. Continue with `beadline bead resume r1`" in (
        result.output
    )
    listed = _bead("threads", "--json")
    [info] = [json.loads(x) for x in listed.output.splitlines()]
    assert (info["thread_id"], info["bead_id"], info["status"]) == ("r1", "square", "interrupted")
    assert info["last_stage"] == "body part 1"
    assert info["db"] == str(sample_repo / ".beadline" / "beads.sqlite")
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resumed = _bead("resume", "r1", input="approve\napprove\n")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming square · thread r1" in resumed.output
    assert "return n * n" in (sample_repo / "sample_pkg" / "mathx.py").read_text()
    assert f"report: {sample_repo / '.beadline' / 'reports' / 'r1.md'}" in resumed.output
    assert not (elsewhere / ".beadline").exists()
    again = _bead("resume", "r1")
    assert again.exit_code == 0
    assert "thread r1 already finished (passed); it is not run again" in again.output
    table = _bead("threads")
    assert "│ r1     │ square │ passed │ integration │" in table.output
    unknown = _bead("resume", "r9")
    assert unknown.exit_code == 1
    assert unknown.output == (
        "Error: no bead run with thread 'r9' found; pass --repo DIR (the repository the bead "
        "was built in) or --db, or list threads with `beadline bead threads`\n"
    )


def test_threads_with_nothing_run_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _bead("threads")
    assert result.exit_code == 0
    assert result.output == "no bead runs yet; start one with `beadline bead run`\n"
