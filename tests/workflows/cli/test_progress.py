"""The progress table: statuses follow the stages and the reviewer's answers, a resumed run is
rebuilt from its checkpoint, and the table is printed once per question."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from beadline.workflows.cli._progress import ProgressView


def _view() -> tuple[ProgressView, io.StringIO]:
    out = io.StringIO()
    return ProgressView(Console(file=out, width=120), "b"), out


def _statuses(view: ProgressView) -> dict[str, str]:
    return {name: row.shown_status() for name, row in view.rows.items()}


def _events(view: ProgressView, *events: dict[str, Any]) -> None:
    for event in events:
        view.on_event(event)


def _stage(stage: str, part: int = 0, *, ok: bool = True) -> list[dict[str, Any]]:
    done = "stage_validated" if ok else "stage_failed"
    return [
        {"event": "stage_started", "stage": stage, "part": part, "attempt": 1},
        {"event": done, "stage": stage, "part": part, "attempt": 1, "summary": "s"},
        {"event": "review_requested", "stage": stage, "part": part},
    ]


def test_statuses_follow_the_answers() -> None:
    view, _ = _view()
    _events(view, {"event": "stage_started", "stage": "preflight"}, *_stage("signature"))
    # preflight without a baseline sends no verdict: it is done once the next stage starts
    assert _statuses(view) == {"preflight": "[green]ok[/]", "signature": "[cyan]review[/]"}
    view.answered({"stage": "signature", "part": 0, "ok": True}, {"action": "approve"})
    _events(view, *_stage("body", 0))
    view.answered({"stage": "body", "part": 0, "ok": True}, {"action": "edit", "code": "x"})
    assert _statuses(view)["body part 1"] == "[cyan]edited[/]"
    _events(view, {"event": "stage_validated", "stage": "body", "part": 0, "attempt": 1})
    _events(view, *_stage("body", 1, ok=False))
    view.answered({"stage": "body", "part": 1, "ok": False}, "approve")
    _events(view, *_stage("integration"))
    view.answered({"stage": "integration", "part": 0, "ok": True}, {"action": "retry"})
    assert _statuses(view) == {
        "preflight": "[green]ok[/]",
        "signature": "[green]approved[/]",
        "body part 1": "[green]ok (edited)[/]",
        "body part 2": "[yellow]approved (failed check)[/]",
        "integration": "[yellow]retry asked[/]",
    }


def test_a_resumed_run_shows_the_stages_it_kept() -> None:
    view, _ = _view()
    history = [
        {"stage": "signature", "part": 0, "attempt": 1, "ok": True, "summary": "compiles"},
        {"stage": "signature", "part": 0, "attempt": 1, "ok": True, "approved": True},
        {"stage": "body", "part": 0, "attempt": 1, "ok": False, "summary": "boom"},
        {"stage": "body", "part": 0, "attempt": 1, "ok": True, "source": "edit", "summary": "ok"},
        {"stage": "body", "part": 1, "attempt": 2, "ok": True, "summary": "runs"},
    ]
    view.on_event(
        {
            "event": "restored",
            "history": history,
            "baseline": {"ok": True, "summary": "passed in 0.1 s"},
            "pending": {"stage": "body", "part": 1},
            "waiting": True,
        }
    )
    assert _statuses(view) == {
        "preflight": "[green]ok[/]",
        "signature": "[green]approved[/]",
        "body part 1": "[green]ok (edited)[/]",
        "body part 2": "[cyan]review[/]",
    }
    assert view.rows["body part 2"].attempt == "2"
    assert view.rows["preflight"].summary == "passed in 0.1 s"


def test_the_table_is_printed_once_per_question_and_once_at_the_end() -> None:
    view, out = _view()
    view.start()  # not a terminal: no live display, nothing printed yet
    _events(view, *_stage("signature"))
    assert out.getvalue() == ""
    view.pause()
    assert out.getvalue().count("┃ stage") == 1
    view.close()  # nothing changed since: not printed again
    assert out.getvalue().count("┃ stage") == 1
    view.answered({"stage": "signature", "part": 0, "ok": True}, "approve")
    view.on_event({"event": "finished", "status": "passed", "message": "done"})
    view.close()
    text = out.getvalue()
    assert text.count("┃ stage") == 2
    final = text[text.rindex("┏") :]
    assert "approved" in final and "review" not in final and "passed" in final
