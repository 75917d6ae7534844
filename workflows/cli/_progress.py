"""The progress table of a bead run in the terminal: one row per stage (and body part).

Rows come from the graph's progress events, from the reviewer's answers (a stage reads
``approved`` once approved), and, after ``bead resume``, from the checkpointed history (the
service's ``restored`` event), so a resumed run shows the stages it kept.

On a terminal the table is a transient :class:`rich.live.Live` while stages run. At a review
question (and at the end) the live table is taken off the screen and the table is printed once,
above the question: no half-drawn copy of it is left behind, whatever is printed below it. A
new ``Live`` is started after each answer (a restarted one would redraw over the lines printed
meanwhile).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["ProgressView", "stage_label"]

_STYLES = {
    "running": "yellow",
    "ok": "green",
    "failed": "red",
    "review": "cyan",
    "approved": "green",
    "edited": "cyan",
    "retry asked": "yellow",
    "aborted": "red",
    "written": "green",
    "dry run": "cyan",
    "unchanged": "green",
}


def stage_label(stage: str, part: int) -> str:
    """``body part 2`` for a body part (0-based ``part``), else the stage's name."""
    return f"body part {part + 1}" if stage == "body" else stage


@dataclass
class _Row:
    attempt: str = ""
    status: str = ""
    summary: str = ""
    edited: bool = False
    """The stage's code is a reviewer's edit."""
    failed_check: bool = False
    """Approved although its validation failed."""
    since: float | None = None
    """When it started running (monotonic)."""

    def shown_status(self) -> str:
        text = self.status
        if text in ("ok", "approved") and self.edited:
            text += " (edited)"
        if text == "approved" and self.failed_check:
            return "[yellow]approved (failed check)[/]"
        style = _STYLES.get(self.status)
        return f"[{style}]{text}[/]" if style else text


class ProgressView:
    """The run's table; see the module docstring.

    Args:
        console: Where it is shown.
        bead_id: The bead's id (the table's title).
    """

    def __init__(self, console: Console, bead_id: str) -> None:
        self.console = console
        self.bead_id = bead_id
        self.rows: dict[str, _Row] = {}
        self.candidates = 0
        self._live: Live | None = None
        self._shown = False
        """The table as it is now was printed (nothing changed since)."""
        self._lock = threading.RLock()
        """The live display's thread renders the rows while events change them."""

    # ---- what it shows -------------------------------------------------------------------

    def table(self) -> Table:
        """The table as it stands."""
        with self._lock:
            return self._table()

    def _table(self) -> Table:
        table = Table(title=f"bead {self.bead_id}", expand=False)
        table.add_column("stage")
        table.add_column("attempt", justify="right")
        table.add_column("status")
        table.add_column("last validation", overflow="fold", max_width=80)
        for name, row in self.rows.items():
            table.add_row(name, row.attempt, row.shown_status(), row.summary)
        caption = f"candidate programs executed: {self.candidates}"
        running = [(n, r.since) for n, r in self.rows.items() if r.status == "running"]
        if running and running[-1][1] is not None and self._live is not None:
            caption += f" · {running[-1][0]} running for {time.monotonic() - running[-1][1]:.0f} s"
        table.caption = caption
        return table

    def _row(self, name: str) -> _Row:
        self._shown = False
        return self.rows.setdefault(name, _Row())

    def on_event(self, event: Mapping[str, Any]) -> None:
        """Update the rows from a progress event."""
        with self._lock:
            self._on_event(event)
        self._refresh()

    def _on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        stage = str(event.get("stage", ""))
        name = stage_label(stage, int(event.get("part", 0)))
        attempt = str(event.get("attempt", ""))
        summary = str(event.get("summary", ""))
        if kind == "stage_started":
            self._finish_preflight(name)
            row = self._row(name)
            row.attempt, row.status, row.summary = attempt, "running", ""
            row.edited, row.failed_check, row.since = False, False, time.monotonic()
        elif kind in ("stage_validated", "stage_failed"):
            row = self._row(name)
            row.attempt, row.summary = attempt, summary
            row.status = "ok" if kind == "stage_validated" else "failed"
        elif kind == "baseline":
            row = self._row("preflight")
            row.status, row.summary = ("ok" if event.get("ok") else "failed"), summary
        elif kind == "candidates_executed":
            self.candidates += 1
            self._shown = False
        elif kind == "review_requested":
            self._row(name).status = "review"
        elif kind == "applied":
            row = self._row("write")
            row.status = (
                "dry run" if event.get("dry_run") else "written" if event.get("written") else ""
            ) or "unchanged"
            row.summary = str(event.get("path", ""))
        elif kind == "finished":
            self._finish_preflight("result")
            row = self._row("result")
            row.status, row.summary = str(event.get("status")), str(event.get("message", ""))
        elif kind == "restored":
            self._restore(event.get("history") or (), event.get("baseline"), event)

    def _finish_preflight(self, starting: str) -> None:
        """Preflight without an integration baseline sends no verdict: it ended when the next
        stage starts."""
        row = self.rows.get("preflight")
        if starting != "preflight" and row is not None and row.status == "running":
            row.status = "ok"
            self._shown = False

    def restore(
        self,
        history: Sequence[Mapping[str, Any]],
        baseline: Mapping[str, Any] | None,
        where: Mapping[str, Any],
    ) -> None:
        """Rebuild the rows from a checkpoint: its history of attempts and approvals, its
        baseline verdict, and the question it waits on (``where["pending"]`` when
        ``where["waiting"]``)."""
        with self._lock:
            self._restore(history, baseline, where)
        self._refresh()

    def _restore(
        self,
        history: Sequence[Mapping[str, Any]],
        baseline: Mapping[str, Any] | None,
        where: Mapping[str, Any],
    ) -> None:
        self.rows.clear()
        self._shown = False
        preflight = self._row("preflight")
        preflight.status = "ok" if baseline is None or baseline.get("ok") else "failed"
        preflight.summary = str((baseline or {}).get("summary", ""))
        for entry in history:
            row = self._row(stage_label(str(entry.get("stage", "")), int(entry.get("part", 0))))
            row.attempt = str(entry.get("attempt", ""))
            row.summary = str(entry.get("summary", ""))
            if entry.get("approved"):
                row.status, row.failed_check = "approved", not entry.get("ok")
            else:
                row.status = "ok" if entry.get("ok") else "failed"
                row.edited, row.failed_check = entry.get("source") == "edit", False
        pending = where.get("pending")
        if where.get("waiting") and isinstance(pending, Mapping):
            name = stage_label(str(pending.get("stage", "")), int(pending.get("part", 0)))
            self._row(name).status = "review"

    def answered(self, payload: Mapping[str, Any], answer: Mapping[str, Any] | str) -> None:
        """Show a reviewer's answer to ``payload`` in its row."""
        action = answer if isinstance(answer, str) else str(answer.get("action", ""))
        name = stage_label(str(payload.get("stage", "")), int(payload.get("part", 0)))
        with self._lock:
            row = self._row(name)
            if action == "approve":
                row.status, row.failed_check = "approved", not payload.get("ok")
            elif action == "edit":
                row.status, row.edited, row.summary = "edited", True, "validating the edit"
            elif action == "retry":
                row.status = "retry asked"
            elif action == "abort":
                row.status = "aborted"
        self._refresh()

    # ---- the screen ----------------------------------------------------------------------

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def start(self) -> None:
        """Show the table live (on a terminal; elsewhere it is printed at pauses and the end)."""
        if self._live is not None or not self.console.is_terminal:
            return
        self._live = Live(
            get_renderable=self.table,
            console=self.console,
            refresh_per_second=4,
            transient=True,
        )
        self._live.start()

    def _stop(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def pause(self) -> None:
        """Take the live table off the screen and print the table once (before a question)."""
        self._stop()
        self.console.print(self.table())
        self._shown = True

    def close(self) -> None:
        """Stop for good; print the final table unless it was just printed as it is."""
        self._stop()
        if not self._shown and self.rows:
            self.console.print(self.table())
            self._shown = True
