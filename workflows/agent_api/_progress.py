"""Progress events of a bead run as the one-line messages an agent's client shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["progress_message"]


def _where(event: Mapping[str, Any]) -> str:
    stage = str(event.get("stage", ""))
    if stage == "body":
        return f"body part {int(event.get('part', 0)) + 1}"
    return stage


def progress_message(event: Mapping[str, Any]) -> str | None:
    """The message for a stage-level event, or ``None`` for finer ones (each candidate run).

    Args:
        event: A graph or service event (``{"event": "stage_validated", "stage": ...}``).

    Returns:
        E.g. ``"body part 1: validated (attempt 1): partial function runs on 3 test(s)"``.
    """
    kind = event.get("event")
    attempt = f" (attempt {event['attempt']})" if event.get("attempt") else ""
    summary = str(event.get("summary", ""))
    if kind == "run_started":
        return f"bead {event.get('bead')}: started on thread {event.get('thread')}"
    if kind == "baseline":
        verdict = "passes" if event.get("ok") else "fails"
        return f"preflight: the integration command {verdict} on the unchanged repository"
    if kind == "stage_started":
        return f"{_where(event)}: started{attempt}"
    if kind == "stage_validated":
        return f"{_where(event)}: validated{attempt}: {summary}"
    if kind == "stage_failed":
        return f"{_where(event)}: failed{attempt}: {summary}"
    if kind == "review_requested":
        return f"{_where(event)}: waiting for a review"
    if kind == "applied":
        action = "wrote" if event.get("written") else "would write"
        return f"{action} {event.get('path', '')}"
    if kind == "finished":
        return f"finished: {event.get('status')}: {event.get('message', '')}"
    return None
