"""The terminal reviewer: what it shows, and edits through $EDITOR or typed text."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from beadline.workflows.bead.review import TerminalReviewer, make_payload, parse_answer

PENDING = {
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


def test_payload_and_answers() -> None:
    payload = make_payload(
        bead_id="b", pending=PENDING, program="def bigger(a, b):\n", exhausted=True
    )
    assert payload["kind"] == "budget" and payload["stage"] == "body" and payload["attempt"] == 3
    assert payload["actions"] == ["approve", "edit", "retry", "abort"]
    assert parse_answer("APPROVE").action == "approve"
    assert parse_answer({"action": "retry", "hint": "h"}).hint == "h"


def test_terminal_reviewer_shows_the_stage_and_retries_with_a_hint() -> None:
    out = io.StringIO()
    reviewer = TerminalReviewer(
        Console(file=out, width=100), editor="", ask=_asker("r", "compare a and b")
    )
    payload = make_payload(bead_id="b", pending=PENDING, program="", exhausted=True)
    assert reviewer(payload) == {"action": "retry", "hint": "compare a and b"}
    shown = out.getvalue()
    assert "b · body part 1" in shown and "attempt budget spent" in shown
    assert "expected 2, got 1" in shown and "return a" in shown


def test_edit_through_the_editor(tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path).read()\n"
        "open(path, 'w').write(text.replace('return a', 'return max(a, b)'))\n"
    )
    reviewer = TerminalReviewer(
        Console(file=io.StringIO()), editor=f"{sys.executable} {editor}", ask=_asker("edit")
    )
    answer = reviewer(make_payload(bead_id="b", pending=PENDING, program="", exhausted=False))
    assert answer == {"action": "edit", "code": "    return max(a, b)\n"}


def test_edit_typed_in_the_terminal() -> None:
    reviewer = TerminalReviewer(
        Console(file=io.StringIO()),
        editor="",
        ask=_asker("e", "    if a > b:", "        return a", "    return b", "."),
    )
    answer = reviewer(make_payload(bead_id="b", pending=PENDING, program="", exhausted=False))
    assert answer == {"action": "edit", "code": "    if a > b:\n        return a\n    return b"}
