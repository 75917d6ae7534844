"""The terminal review question: the panel (file region, marks, integration diff) and the
answers (typed edits keep their indentation, $EDITOR, retry with a hint)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from beadline.workflows.bead.loaders import load_bead_file
from beadline.workflows.bead.review import make_payload
from beadline.workflows.cli._review_screen import TerminalReviewer, review_panel

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
VOWELS = load_bead_file(EXAMPLES / "beads" / "2-count-vowels.yaml")
SIGNATURE = VOWELS.target.signature or ""

FAILED = {
    "stage": "body",
    "part": 0,
    "attempt": 3,
    "ok": False,
    "code": "    return a",
    "summary": "1/2 unit tests passed",
    "evidence": ["test `assert bigger(1, 2) == 2` failed: expected 2, got 1"],
}


def _asker(*answers: str) -> Any:
    queue = list(answers)

    def ask(prompt: str, **_: Any) -> str:
        return queue.pop(0)

    return ask


def _lines(*typed: str | type[EOFError]) -> Any:
    """A read_line that returns ``typed`` one by one (``EOFError``: Ctrl-D)."""
    queue = list(typed)

    def read() -> str:
        item = queue.pop(0)
        if item is EOFError:
            raise EOFError
        assert isinstance(item, str)
        return item

    return read


def _reviewer(*answers: str, typed: tuple[Any, ...] = (), editor: str = "") -> Any:
    out = io.StringIO()
    reviewer = TerminalReviewer(
        Console(file=out, width=100),
        editor=editor,
        ask=_asker(*answers),
        read_line=_lines(*typed),
    )
    return reviewer, out


def _render(payload: Any, *, dry_run: bool = False) -> str:
    out = io.StringIO()
    Console(file=out, width=100).print(review_panel(payload, dry_run=dry_run))
    return out.getvalue()


def _vowels_payload(repo: Path | None, stage: str, code: str, **state: Any) -> Any:
    pending = {"stage": stage, "part": state.pop("part", 0), "attempt": 1, "ok": True}
    pending.update(code=code, summary="partial function runs on 3 test(s) without error")
    if stage == "integration":
        pending["function"] = code
    return make_payload(
        bead_id="count-vowels",
        pending=pending,
        program="",
        exhausted=False,
        bead=VOWELS,
        state={"repo": str(repo) if repo else None, "setup": "", "signature": SIGNATURE, **state},
    )


def test_retry_with_a_hint_shows_the_failure() -> None:
    reviewer, out = _reviewer("r", "compare a and b")
    payload = make_payload(bead_id="b", pending=FAILED, program="", exhausted=True)
    assert reviewer(payload) == {"action": "retry", "hint": "compare a and b"}
    shown = out.getvalue()
    assert "b · body part 1 · attempt 3 — attempt budget spent" in shown
    assert "expected 2, got 1" in shown and "return a" in shown


def test_a_typed_edit_keeps_indentation_and_blank_lines() -> None:
    block = ("    for ch in s:", "", "        if ch in 'aeiou':", "\t\tcount += 1", ".")
    reviewer, out = _reviewer("e", typed=block)
    payload = make_payload(bead_id="b", pending=FAILED, program="", exhausted=False)
    answer = reviewer(payload)
    assert answer == {
        "action": "edit",
        "code": "    for ch in s:\n\n        if ch in 'aeiou':\n\t\tcount += 1",
    }
    assert "End with a line holding only `.` or `EOF`, or Ctrl-D." in out.getvalue()


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (("    x = 1", "EOF"), "    x = 1"),
        (("    x = 1", "    y = 2", "", EOFError), "    x = 1\n    y = 2"),
        # a line editor with bracketed paste returns a pasted block as one string
        (("    if x:\n        y = 2\n.",), "    if x:\n        y = 2"),
        (("  .  ", "unused"), None),
    ],
)
def test_a_typed_edit_ends_at_eof_ctrl_d_or_a_pasted_marker(
    typed: tuple[Any, ...], code: str | None
) -> None:
    reviewer, out = _reviewer("e", "q", typed=typed)
    payload = make_payload(bead_id="b", pending=FAILED, program="", exhausted=False)
    if code is None:  # nothing typed: the edit is cancelled and the question asked again
        assert reviewer(payload) == {"action": "abort"}
        assert "nothing was typed: the edit is cancelled" in out.getvalue()
    else:
        assert reviewer(payload) == {"action": "edit", "code": code}


def test_edit_through_the_editor(tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path).read()\n"
        "open(path, 'w').write(text.replace('return a', 'return max(a, b)'))\n"
    )
    reviewer, _ = _reviewer("edit", editor=f"{sys.executable} {editor}")
    answer = reviewer(make_payload(bead_id="b", pending=FAILED, program="", exhausted=False))
    assert answer == {"action": "edit", "code": "    return max(a, b)\n"}


def test_the_editor_gets_the_whole_program_at_integration(tmp_path: Path) -> None:
    seen = tmp_path / "seen.py"
    editor = tmp_path / "editor.py"
    editor.write_text(f"import shutil, sys\nshutil.copy(sys.argv[1], {str(seen)!r})\n")
    reviewer, _ = _reviewer("e", editor=f"{sys.executable} {editor}")
    pending = {**FAILED, "stage": "integration", "code": "def f():\n    return 1"}
    program = "import os\n\n\ndef f():\n    return 1\n"
    reviewer(make_payload(bead_id="b", pending=pending, program=program, exhausted=False))
    assert seen.read_text() == program


def test_the_panel_shows_the_file_region_with_this_stage_marked(sample_repo: Path) -> None:
    part_2 = "for ch in s:\n    if ch in 'aeiou':\n        count += 1"
    payload = _vowels_payload(sample_repo, "body", part_2, part=1, parts=["    count = 0"])
    shown = _render(payload)
    assert "count-vowels · body part 2 · attempt 1 — validated" in shown
    assert "sample_pkg/text.py once this stage is accepted · + added  ▶ this stage  - removed" in (
        shown
    )
    rows = [line.strip("│ ").rstrip() for line in shown.splitlines()]
    assert '8       return text.upper() + "!"' in rows  # context from the file
    assert "11 + def count_vowels(s: str) -> int:" in rows
    assert "13 +     count = 0" in rows  # accepted part: new
    assert "14 ▶     for ch in s:" in rows  # this part, indentation kept
    assert "15 ▶         if ch in 'aeiou':" in rows
    assert "16 ▶             count += 1" in rows
    assert "validation: partial function runs on 3 test(s) without error" in shown


def test_the_panel_marks_removed_lines_and_a_setup_that_adds_nothing(sample_repo: Path) -> None:
    target = sample_repo / "sample_pkg" / "text.py"
    target.write_text(target.read_text() + "\n\ndef count_vowels(s):\n    return 0\n")
    shown = _render(_vowels_payload(sample_repo, "setup", "", parts=["    return 1"]))
    rows = [line.strip("│ ").rstrip() for line in shown.splitlines()]
    assert "- def count_vowels(s):" in rows and "-     return 0" in rows
    assert "(this stage adds no line to the file)" in shown


def test_the_integration_panel_shows_the_whole_diff(sample_repo: Path) -> None:
    function = SIGNATURE + "    return sum(ch in VOWELS for ch in s)\n"
    payload = _vowels_payload(sample_repo, "integration", function, setup="import string")
    shown = _render(payload)
    assert "approving writes this to sample_pkg/text.py (+7 −0 lines):" in shown
    for line in payload["diff"].splitlines():
        assert line.rstrip() in shown
    dry = _render(payload, dry_run=True)
    assert "dry run: approving writes nothing; it would write to sample_pkg/text.py (+7 −0" in dry


def test_without_a_repository_the_panel_shows_the_function_so_far() -> None:
    payload = _vowels_payload(None, "body", "    count = 0")
    shown = _render(payload)
    assert "the function so far · ▶ this stage" in shown
    assert "3 ▶     count = 0" in shown
    assert "no target repository: nothing will be written" in shown
