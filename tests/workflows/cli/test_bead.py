"""``beadline bead run/resume`` with a scripted generator, and the bad-input paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.workflows.bead import runtime
from beadline.workflows.cli import cli

from ..conftest import InProcessExecutor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SQUARE = str(EXAMPLES / "beads" / "1-square.yaml")


@pytest.fixture(autouse=True)
def _inprocess_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind, **_: InProcessExecutor())


def _script(tmp_path: Path, **stages: Any) -> str:
    path = tmp_path / "script.yaml"
    path.write_text(json.dumps(stages))
    return f"scripted:{path}"


def _invoke(tmp_path: Path, *args: str, input: str | None = None) -> Any:
    db = tmp_path / "state.sqlite"
    reports = tmp_path / "reports"
    return CliRunner().invoke(
        cli,
        [
            "bead",
            *args,
            "--db",
            str(db),
            *(["--report-dir", str(reports)] if args[0] == "run" else []),
        ],
        catch_exceptions=False,
        input=input,
    )


def test_run_applies_the_function_and_writes_a_report(tmp_path: Path, sample_repo: Path) -> None:
    model = _script(tmp_path, **{"body[0]": ["return n + n", "return n * n"]})
    result = _invoke(
        tmp_path, "run", SQUARE, "--repo", str(sample_repo), "-m", model, "--thread", "sq"
    )
    assert result.exit_code == 0, result.output
    assert "all stages validated" in result.output
    text = (sample_repo / "sample_pkg" / "mathx.py").read_text()
    assert "def square(n: int) -> int:\n    return n * n\n" in text
    assert "def clamp" in text
    assert (sample_repo / "sample_pkg" / "mathx.py.bak").read_text().count("def square") == 0
    report = json.loads((tmp_path / "reports" / "sq.json").read_text())
    assert report["status"] == "passed" and report["bead"] == "square"
    assert [s["stage"] for s in report["stages"]] == [
        "signature",
        "setup",
        "body part 1",
        "integration",
    ]
    assert report["stages"][2]["attempts"] == 2
    md = (tmp_path / "reports" / "sq.md").read_text()
    assert "# Bead `square` — passed" in md and "| body part 1 | 2 | ok |" in md


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path, sample_repo: Path) -> None:
    before = (sample_repo / "sample_pkg" / "mathx.py").read_text()
    model = _script(tmp_path, **{"body[0]": "return n * n"})
    result = _invoke(tmp_path, "run", SQUARE, "--repo", str(sample_repo), "-m", model, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+def square(n: int) -> int:" in result.output
    assert (sample_repo / "sample_pkg" / "mathx.py").read_text() == before
    assert not (sample_repo / "sample_pkg" / "mathx.py.bak").exists()


def test_failed_run_exits_1_with_the_reason(tmp_path: Path, sample_repo: Path) -> None:
    model = _script(tmp_path, **{"body[0]": ["return 0", "return 1", "return 2"]})
    result = _invoke(tmp_path, "run", SQUARE, "--repo", str(sample_repo), "-m", model)
    assert result.exit_code == 1
    assert "stage integration failed after 3 attempt(s)" in result.output
    assert "expected 9, got 2" in result.output
    assert "square" not in (sample_repo / "sample_pkg" / "mathx.py").read_text()


def test_tests_failing_before_any_change_are_reported_as_such(
    tmp_path: Path, sample_repo: Path
) -> None:
    (sample_repo / "tests" / "test_text.py").write_text(
        (sample_repo / "tests" / "test_text.py").read_text().replace('"HI!"', '"HI?"')
    )
    model = _script(tmp_path, **{"body[0]": "return n * n"})
    result = _invoke(tmp_path, "run", SQUARE, "--repo", str(sample_repo), "-m", model)
    assert result.exit_code == 1
    assert "already fails on the unchanged repository" in result.output
    assert "nothing was generated" in result.output


def test_integration_command_not_found(tmp_path: Path, sample_repo: Path) -> None:
    bead = tmp_path / "b.yaml"
    bead.write_text(
        Path(SQUARE)
        .read_text()
        .replace("python -m unittest discover -s tests -t .", "no-such-tool-xyz --check")
    )
    model = _script(tmp_path, **{"body[0]": "return n * n"})
    result = _invoke(tmp_path, "run", str(bead), "--repo", str(sample_repo), "-m", model)
    assert result.exit_code == 1
    assert "integration command not found" in result.output and "no-such-tool-xyz" in result.output


def test_bad_input_messages(tmp_path: Path, sample_repo: Path) -> None:
    result = _invoke(tmp_path, "run", SQUARE, "--repo", str(tmp_path / "missing"))
    assert (
        result.exit_code == 1
        and "target repository" in result.output
        and "is not a directory; pass an existing directory" in result.output
    )
    result = _invoke(tmp_path, "run", "sp-404", "--repo", str(sample_repo))
    assert (
        result.exit_code == 1
        and "no bead with id 'sp-404'" in result.output
        and "sp-1, sp-2" in result.output
    )
    result = _invoke(tmp_path, "resume", "nope")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: state database {str(tmp_path / 'state.sqlite')!r} not found; pass --db PATH "
        "or --repo DIR\n"
    )


def test_tracker_id_run_and_thread_reuse(tmp_path: Path, sample_repo: Path) -> None:
    model = _script(tmp_path, **{"body[0]": "return 2 * n"})
    result = _invoke(
        tmp_path,
        "run",
        "sp-1",
        "--repo",
        str(sample_repo),
        "-m",
        model,
        "--thread",
        "t1",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    again = _invoke(
        tmp_path, "run", "sp-1", "--repo", str(sample_repo), "-m", model, "--thread", "t1"
    )
    assert again.exit_code == 1 and "thread 't1' already exists" in again.output
    unknown = _invoke(tmp_path, "resume", "t2")
    assert unknown.exit_code == 1 and "known threads: t1" in unknown.output


def test_review_in_the_terminal_then_resume(tmp_path: Path, sample_repo: Path) -> None:
    model = _script(tmp_path, **{"body[0]": "return n"})
    # approve signature and setup, edit the body (typed, ended by '.'), then stop at integration
    answers = "approve\napprove\nedit\nreturn n * n\n.\n"
    result = _invoke(
        tmp_path,
        "run",
        SQUARE,
        "--repo",
        str(sample_repo),
        "-m",
        model,
        "--review",
        "--thread",
        "rv",
        input=answers,
    )
    assert result.exit_code == 1  # the prompt ran out of input at the integration review
    assert "nothing was written. Continue with `beadline bead resume rv`" in result.output
    resumed = _invoke(tmp_path, "resume", "rv", input="approve\n")
    assert resumed.exit_code == 0, resumed.output
    assert "return n * n" in (sample_repo / "sample_pkg" / "mathx.py").read_text()
