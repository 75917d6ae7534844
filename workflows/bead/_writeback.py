"""The end of a bead run: write the file, write the report, tell the tracker.

Used by :mod:`beadline.workflows.bead.runs`. What the tracker hears (``bd`` only; a JSONL
export is never written):

=================  ====================================================================
run start          ``bd update ID --claim`` (refused when someone else holds the bead)
stage failure      ``bd update ID --append-notes "beadline: <stage> attempt N failed: …"``
passed             ``bd close ID --reason "beadline: built; report .beadline/reports/T.md"``
passed, dry run    a note only (nothing was written, so the bead is not done)
failed             ``bd update ID --status blocked --append-notes "beadline: <reason>"``
baseline_failed,   the same (the repository or the bead must change before it can be built)
invalid
aborted            ``bd update ID --status open --append-notes`` (a reviewer stopped it)
=================  ====================================================================

A failed tracker write never loses the run: it is logged in the outcome's ``tracker_log``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beadline.workflows.bead._outcome import Event, RunOutcome
from beadline.workflows.bead.apply import apply_bead
from beadline.workflows.bead.report import build_report, write_report
from beadline.workflows.bead.spec import Bead
from beadline.workflows.bead.store import ThreadRecord
from beadline.workflows.bead.tracker import (
    DEFAULT_ACTOR,
    BdTracker,
    ClaimError,
    JsonlTracker,
    Tracker,
    TrackerError,
)

__all__ = ["TrackerLink", "conclude", "note_failure"]

_NOTE_LIMIT = 600
"""Characters of one note or reason at most (a verdict's summary can be long)."""


def _line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _NOTE_LIMIT else flat[: _NOTE_LIMIT - 1] + "…"


@dataclass
class TrackerLink:
    """A run's tie to the tracker its bead came from, and the log of what was written back."""

    tracker: Tracker | None
    """``None`` when the tracker is gone (``bd`` no longer on PATH at resume)."""
    bead_id: str
    kind: str
    """``bd`` or ``jsonl``."""
    actor: str = DEFAULT_ACTOR
    path: str | None = None
    """The repository (``bd``) or the export (``jsonl``)."""
    log: list[str] = field(default_factory=list)

    @property
    def writes_back(self) -> bool:
        """Whether writes reach the tracker."""
        return self.tracker is not None and self.tracker.writes_back

    @classmethod
    def start(cls, tracker: Tracker, bead_id: str, *, force: bool = False) -> TrackerLink:
        """Tie a new run to ``tracker`` and claim the bead there (``bd`` only).

        Raises:
            ClaimError: someone else holds the bead (or it is not open and ``force`` is off).
        """
        actor = tracker.actor
        link = cls(
            tracker=tracker,
            bead_id=bead_id,
            kind=tracker.name,
            actor=actor,
            path=str(tracker.location),
        )
        if tracker.writes_back:
            try:
                tracker.claim(bead_id)
                link.log.append(f"claimed {bead_id} as {actor}")
            except ClaimError as exc:
                if not force or "already claimed" in str(exc):
                    raise
                link.log.append(f"not claimed (--force): {exc}")
        return link

    def to_json(self) -> dict[str, Any]:
        """What is stored with the thread."""
        return {"kind": self.kind, "bead_id": self.bead_id, "actor": self.actor, "path": self.path}

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any] | None,
        repo: str | None,
        *,
        which: Callable[[str], str | None] = shutil.which,
    ) -> TrackerLink | None:
        """Reopen the tracker of a stored thread (``None`` for a bead that had none)."""
        if not data:
            return None
        kind, path = str(data.get("kind")), data.get("path") or repo
        link = cls(
            tracker=None,
            bead_id=str(data.get("bead_id")),
            kind=kind,
            actor=str(data.get("actor") or DEFAULT_ACTOR),
            path=path,
        )
        if kind == "bd" and path:
            bd = which("bd")
            if bd is None:
                link.log.append("bd is no longer on PATH: nothing is written back")
            else:
                link.tracker = BdTracker(Path(path), actor=link.actor, executable=bd)
        elif kind == "jsonl" and path:
            link.tracker = JsonlTracker(Path(path))
        return link

    def describe(self) -> str:
        """One line for people."""
        if self.tracker is not None:
            return self.tracker.describe()
        return f"{self.kind} in {self.path} (unavailable: nothing is written back)"

    def write(self, what: str, action: Callable[[Tracker], None]) -> Event | None:
        """Run one write-back; log it (or its failure); the event to show, if any."""
        if self.tracker is None or not self.tracker.writes_back:
            return None
        try:
            action(self.tracker)
        except TrackerError as exc:
            entry = f"could not {what} {self.bead_id}: {exc}"
            self.log.append(entry)
            return {"event": "tracker", "ok": False, "message": entry}
        entry = f"{what} {self.bead_id}"
        self.log.append(entry)
        return {"event": "tracker", "ok": True, "message": entry}


def note_failure(link: TrackerLink, event: Event) -> Event | None:
    """Append a note for a failed stage attempt (a ``stage_failed`` event)."""
    stage = str(event.get("stage", ""))
    label = f"body part {int(event.get('part', 0)) + 1}" if stage == "body" else stage
    text = _line(
        f"beadline: {label} attempt {event.get('attempt', '?')} failed: {event.get('summary', '')}"
    )
    return link.write("noted a failure on", lambda t: t.append_notes(link.bead_id, text))


def _apply(values: dict[str, Any], dry_run: bool) -> dict[str, Any] | None:
    bead = Bead.model_validate(values["bead"]) if values.get("bead") else None
    repo = values.get("repo")
    if values.get("status") != "passed" or bead is None or not repo:
        return None
    result = apply_bead(
        bead,
        Path(repo),
        str(values.get("function", "")),
        str(values.get("setup", "")),
        dry_run=dry_run,
    )
    return result.to_json()


def _tell_tracker(
    link: TrackerLink, status: str, message: str, report: str, dry_run: bool
) -> list[Event]:
    bead_id = link.bead_id
    events: list[Event | None] = []
    if status == "passed" and not dry_run:
        reason = _line(f"beadline: built; report {report}")
        events.append(link.write("closed", lambda t: t.close(bead_id, reason)))
    elif status == "passed":
        note = _line(f"beadline: passed in a dry run (nothing written); report {report}")
        events.append(link.write("noted the dry run on", lambda t: t.append_notes(bead_id, note)))
    elif status == "aborted":
        note = _line(f"beadline: stopped by the reviewer; report {report}")
        events.append(link.write("reopened", lambda t: t.reopen(bead_id, note)))
    else:
        reason = _line(f"beadline: {status}: {message}; report {report}")
        events.append(link.write("blocked", lambda t: t.block(bead_id, reason)))
    return [e for e in events if e is not None]


def conclude(
    record: ThreadRecord,
    values: dict[str, Any],
    link: TrackerLink | None,
    *,
    seconds: float,
    on_event: Callable[[Event], None] | None = None,
) -> RunOutcome:
    """Apply (or diff) the result, write the report, report back; the run's outcome."""
    options = record.options
    dry_run = bool(options.get("dry_run"))
    applied = _apply(values, dry_run)
    if applied is not None and on_event is not None:
        on_event({"event": "applied", **applied})
    report = build_report(values, thread_id=record.thread_id, applied=applied, seconds=seconds)
    report_dir = Path(
        str(options.get("report_dir") or Path(record.repo or ".") / ".beadline/reports")
    )
    json_path, md_path = write_report(report, report_dir)
    status = str(values.get("status") or "failed")
    message = str(values.get("message") or f"bead ended {status}")
    if link is not None:
        shown = str(md_path)
        if record.repo and md_path.is_relative_to(record.repo):
            shown = str(md_path.relative_to(record.repo))
        for event in _tell_tracker(link, status, message, shown, dry_run):
            if on_event is not None:
                on_event(event)
    return RunOutcome(
        thread_id=record.thread_id,
        bead_id=record.bead_id,
        status=status,  # type: ignore[arg-type]
        message=message,
        diff=str(applied["diff"]) if applied else "",
        written=bool(applied and applied["written"]),
        dry_run=dry_run,
        target=str(applied["path"]) if applied else None,
        backup=applied["backup"] if applied else None,
        report_json=str(json_path),
        report_md=str(md_path),
        program=str(values.get("program", "")),
        seconds=seconds,
        tracker=link.describe() if link else None,
        tracker_log=tuple(link.log) if link else (),
        cost=dict(values.get("cost") or {}),
    )
