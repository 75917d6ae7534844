"""The review screen in a real terminal (tmux): ``beadline bead run --review`` and ``bead resume``
typed into, the screen read back.

What a CliRunner cannot show: the live table taken off the screen and printed once above each
question (the old one left half-drawn copies), statuses as stages are approved, a typed and a
pasted edit keeping their indentation, the integration question's diff, the diff printed by
the write, and the table a resumed run starts from.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests._tmux import TmuxSession

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
VOWELS = str(EXAMPLES / "beads" / "2-count-vowels.yaml")
SCRIPT = {
    "body[0]": "count = 0",
    "body[1]": "for ch in s:\n    if ch in 'aeiou':\n        count += 1",
    "body[2]": "return count",
}
TYPED = "    for ch in s:\n\n        if ch in 'aeiou':  # typed\n            count += 1\n."
PASTED = "    return count  # pasted\n.\n"


@pytest.fixture(autouse=True)
def _no_editor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)


def _command(tmp_path: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "beadline.workflows",
        "bead",
        *args,
        "--db",
        str(tmp_path / "state.sqlite"),
    ]


def _run(tmp_path: Path, repo: Path) -> list[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    return _command(
        tmp_path, "run", VOWELS, "--repo", str(repo), "--review", "--sandbox", "local",
        "--thread", "cv", "-m", f"scripted:{script}",
    )  # fmt: skip


def _assert_whole_tables(screen: str) -> list[str]:
    """Every table on ``screen`` has its top, header and bottom (a half-drawn copy lacks its
    bottom border); returns the tables."""
    tops = [i for i, line in enumerate(screen.splitlines()) if line.startswith("┏")]
    bottoms = [i for i, line in enumerate(screen.splitlines()) if line.startswith("└")]
    assert len(tops) == screen.count("┃ stage") == len(bottoms), screen
    lines = screen.splitlines()
    return ["\n".join(lines[t : b + 1]) for t, b in zip(tops, bottoms, strict=True)]


def _status(table: str, stage: str) -> str:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[0] == stage:
            return cells[2]
    raise AssertionError(f"no row {stage!r} in:\n{table}")


def _statuses(table: str) -> list[str]:
    rows = [line for line in table.splitlines() if line.startswith("│")]
    return [cells[3].strip() for cells in (row.split("│") for row in rows) if len(cells) > 3]


def _answer_at(term: TmuxSession, title: str, answer: str = "") -> str:
    screen = term.wait_for(re.escape(title) + r".*\n(.*\n)*approve / edit / retry / abort")
    term.type_text(answer)
    return screen


def test_a_review_in_a_real_terminal(tmp_path: Path, sample_repo: Path) -> None:
    with TmuxSession.start(_run(tmp_path, sample_repo), width=120, height=45) as term:
        first = term.wait_for(r"signature · attempt 1 — validated(.*\n)*.*approve / edit")
        assert len(_assert_whole_tables(first)) == 1
        assert "11 ▶ def count_vowels(s: str) -> int:" in first
        assert "13 +     ..." in first  # the body to come
        term.type_text("")
        setup = _answer_at(term, "setup · attempt 1")
        assert _status(_assert_whole_tables(setup)[-1], "signature") == "approved"
        _answer_at(term, "body part 1 · attempt 1")
        part_2 = _answer_at(term, "body part 2 · attempt 1", "e")
        assert "14 ▶     for ch in s:" in part_2 and "16 ▶             count += 1" in part_2
        term.wait_for(r"End with a line holding only `\.` or `EOF`, or Ctrl-D\.")
        term.type_text(TYPED)
        part_3 = _answer_at(term, "body part 3 · attempt 1", "e")
        table = _assert_whole_tables(part_3)[-1]
        assert [_status(table, f"body part {n}") for n in (1, 2, 3)] == [
            "approved",
            "ok (edited)",
            "review",
        ]
        assert "16 +         if ch in 'aeiou':  # typed" in part_3  # the typed edit, as typed
        term.wait_for(r"End with a line holding only")
        term.paste(PASTED)
        integration = _answer_at(term, "integration · attempt 1")
        assert "approving writes this to sample_pkg/text.py (+10 −0 lines):" in integration
        assert "│ +        if ch in 'aeiou':  # typed" in integration
        assert "│ +    return count  # pasted" in integration
        end = term.wait_for(r"bead count-vowels: all stages validated")
        assert term.exit_status(timeout=30) == 0
        history = term.screen(history=True)
    tables = _assert_whole_tables(history)
    assert len(tables) == 7  # one per question (6) and the final one
    final = tables[-1]
    assert "review" not in _statuses(final)
    for stage in ("signature", "setup", "body part 1", "integration"):
        assert _status(final, stage) == "approved"
    assert _status(final, "body part 2") == "ok (edited)"
    assert _status(final, "body part 3") == "ok (edited)"
    assert _status(final, "result") == "passed" and _status(final, "write") == "written"
    # the write prints its diff, then where it wrote
    after = end[end.rindex("└") :]
    assert after.index("+        if ch in 'aeiou':  # typed") < after.index("wrote ")
    assert "Traceback" not in history
    text = (sample_repo / "sample_pkg" / "text.py").read_text()
    assert (
        "    count = 0\n    for ch in s:\n\n        if ch in 'aeiou':  # typed\n"
        "            count += 1\n    return count  # pasted\n"
    ) in text


def test_a_resumed_review_starts_from_the_stages_kept(tmp_path: Path, sample_repo: Path) -> None:
    with TmuxSession.start(_run(tmp_path, sample_repo), width=120, height=45) as term:
        _answer_at(term, "signature · attempt 1")
        _answer_at(term, "setup · attempt 1")
        term.wait_for(r"body part 1 · attempt 1(.*\n)*.*approve / edit")
        term.keys("C-c")
        stopped = term.wait_for(r"Continue with `beadline bead resume cv`")
        assert term.exit_status(timeout=30) == 1
        assert "Traceback" not in stopped
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resume = _command(tmp_path, "resume", "cv")
    with TmuxSession.start(resume, width=120, height=45, cwd=elsewhere) as term:
        screen = term.wait_for(r"body part 1 · attempt 1(.*\n)*.*approve / edit")
        assert screen.startswith("resuming count-vowels · thread cv")
        (table,) = _assert_whole_tables(screen)
        assert _status(table, "preflight") == "ok"
        assert _status(table, "signature") == "approved"
        assert _status(table, "setup") == "approved"
        assert _status(table, "body part 1") == "review"
        term.type_text("q")
        term.wait_for(r"stopped by the reviewer")
        assert term.exit_status(timeout=30) == 1
        final = _assert_whole_tables(term.screen(history=True))[-1]
        assert _status(final, "body part 1") == "aborted"
