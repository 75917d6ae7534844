"""``beadline bead run --review`` / ``bead resume`` through CliRunner: typed edits keep their
indentation, statuses follow the answers, the integration question shows the diff that is
written, a real write prints it, and a resumed run shows the stages it kept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.workflows.bead import runtime
from beadline.workflows.cli import cli

from ..conftest import InProcessExecutor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
VOWELS = str(EXAMPLES / "beads" / "2-count-vowels.yaml")
SCRIPT = {
    "body[0]": "count = 0",
    "body[1]": "for ch in s:\n    if ch in 'aeiou':\n        count += 1",
    "body[2]": "return count",
}
EDITED = "    for ch in s:\n\n        if ch in 'aeiou':  # a vowel\n            count += 1"
"""What the reviewer types for body part 2: nested indentation and a blank line."""


@pytest.fixture(autouse=True)
def _inprocess_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind: InProcessExecutor())


def _invoke(tmp_path: Path, *args: str, input: str | None = None) -> Any:
    extra = ["--db", str(tmp_path / "state.sqlite")]
    if args[0] == "run":
        script = tmp_path / "script.json"
        script.write_text(json.dumps(SCRIPT))
        extra += ["--report-dir", str(tmp_path / "reports"), "-m", f"scripted:{script}"]
    return CliRunner().invoke(cli, ["bead", *args, *extra], catch_exceptions=False, input=input)


def _tables(output: str) -> list[str]:
    """Every progress table printed, top border to bottom border."""
    return re.findall(r"┏[^┏]*?┘", output, flags=re.S)


def _row(table: str, stage: str) -> list[str]:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells and cells[0] == stage:
            return cells
    raise AssertionError(f"no row {stage!r} in:\n{table}")


def test_an_edit_keeps_its_indentation_and_the_write_prints_the_diff(
    tmp_path: Path, sample_repo: Path
) -> None:
    answers = ["approve", "approve", "approve", "edit", EDITED, ".", "approve", "approve"]
    result = _invoke(
        tmp_path, "run", VOWELS, "--repo", str(sample_repo), "--review", "--thread", "cv",
        input="\n".join(answers) + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = (sample_repo / "sample_pkg" / "text.py").read_text()
    assert "    count = 0\n" + EDITED + "\n    return count\n" in written
    out = result.output
    # one table per question (6) and the final one; each one whole
    tables = _tables(out)
    assert len(tables) == 7 and out.count("┃ stage") == 7
    final = tables[-1]
    assert [_row(final, s)[2] for s in ("signature", "setup", "body part 1")] == ["approved"] * 3
    assert _row(final, "body part 2")[2] == "ok (edited)"
    assert _row(final, "body part 3")[2] == "approved"
    assert _row(final, "integration")[2] == "approved"
    assert _row(final, "result")[2] == "passed" and _row(final, "write")[2] == "written"
    # at body part 3 the table already shows part 2 as edited, the earlier stages approved
    assert _row(tables[4], "body part 2")[2] == "ok (edited)"
    assert _row(tables[4], "body part 1")[2] == "approved"
    assert _row(tables[4], "body part 3")[2] == "review"
    # the integration question shows what approving writes; the write prints that same diff
    question = out[out.index("approving writes this to sample_pkg/text.py (+10 −0 lines):") :]
    printed = out[out.rindex("--- a/sample_pkg/text.py") : out.index("wrote ")]
    for line in printed.strip("\n").splitlines():
        assert line.rstrip() in question
    assert "+        if ch in 'aeiou':  # a vowel" in printed
    assert f"wrote {sample_repo / 'sample_pkg' / 'text.py'} (backup " in out
    assert out.rstrip().endswith("bead count-vowels: all stages validated")


def test_each_question_shows_the_function_so_far_in_its_file(
    tmp_path: Path, sample_repo: Path
) -> None:
    answers = "approve\napprove\napprove\n"  # then EOF at body part 2
    result = _invoke(
        tmp_path, "run", VOWELS, "--repo", str(sample_repo), "--review", "--thread", "cv",
        input=answers,
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.rstrip().endswith(
        "Error: interrupted; nothing was written. Continue with `beadline bead resume cv`"
    )
    question = result.output[result.output.index("body part 2 · attempt 1") :]
    rows = [line.strip("│ ").rstrip() for line in question.splitlines()]
    assert "11 + def count_vowels(s: str) -> int:" in rows
    assert "13 +     count = 0" in rows
    assert "14 ▶     for ch in s:" in rows and "16 ▶             count += 1" in rows


def test_a_resumed_run_shows_the_stages_it_kept(tmp_path: Path, sample_repo: Path) -> None:
    first = _invoke(
        tmp_path, "run", VOWELS, "--repo", str(sample_repo), "--review", "--thread", "cv",
        input="approve\napprove\n",
    )  # fmt: skip
    assert first.exit_code == 1
    resumed = _invoke(tmp_path, "resume", "cv", input="q\n")
    assert resumed.exit_code == 1
    assert resumed.output.startswith("resuming count-vowels · thread cv · model scripted:")
    table = _tables(resumed.output)[0]
    assert _row(table, "preflight")[2] == "ok"
    assert _row(table, "signature")[1:3] == ["1", "approved"]
    assert _row(table, "setup")[1:3] == ["1", "approved"]
    assert _row(table, "body part 1")[1:3] == ["1", "review"]
    assert resumed.output.index("┏") < resumed.output.index("body part 1 · attempt 1")
    assert "Error: bead count-vowels: stopped by the reviewer" in resumed.output
    assert _row(_tables(resumed.output)[-1], "body part 1")[2] == "aborted"


def test_an_empty_edit_is_cancelled_and_the_question_asked_again(
    tmp_path: Path, sample_repo: Path
) -> None:
    answers = "approve\napprove\ne\n.\napprove\napprove\napprove\napprove\n"
    result = _invoke(
        tmp_path, "run", VOWELS, "--repo", str(sample_repo), "--review", "--dry-run",
        "--thread", "cv", input=answers,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "nothing was typed: the edit is cancelled" in result.output
    assert "dry run: approving writes nothing; it would write to" in result.output
    assert "+    count = 0" in result.output  # the dry run's diff
    assert "wrote " not in result.output
    assert "count_vowels" not in (sample_repo / "sample_pkg" / "text.py").read_text()
