"""The bead service's value types: what a run is started with, what it returns, a thread's line.

Re-exported by :mod:`beadline.workflows.bead.runs` (import them from there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from beadline.agents.models.choice import ModelChoice
from beadline.workflows.bead.runtime import DECODE_SECONDS, SandboxKind
from beadline.workflows.bead.store import ThreadRecord
from beadline.workflows.bead.tracker import DEFAULT_ACTOR

__all__ = ["FINAL_STATUSES", "BeadRunOptions", "Event", "RunOutcome", "RunStatus", "ThreadInfo"]

Event = dict[str, Any]
"""A progress event: ``{"event": name, ...}``."""

RunStatus = Literal["passed", "failed", "baseline_failed", "invalid", "aborted", "waiting_review"]
"""How a call ended: the graph's final statuses, or ``waiting_review`` (paused on a question)."""

FINAL_STATUSES = frozenset({"passed", "failed", "baseline_failed", "invalid", "aborted"})
"""Statuses of a thread that has ended (it is never run again)."""


class BeadRunOptions(BaseModel):
    """What to build and how: the input of :func:`~beadline.workflows.bead.runs.start_run`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bead: str | dict[str, Any] = Field(
        description="A YAML/JSON bead file, a tracker id (bd-a1b2, bd-a1b2.1), or the bead's "
        "fields inline."
    )
    repo: str | None = Field(
        default=None,
        description="The target repository (default: the bead's, or the tracker's directory).",
    )
    beads_file: str | None = Field(
        default=None, description="A bd JSONL export to read ids from (read-only)."
    )
    model: ModelChoice = Field(default_factory=ModelChoice, description="The model.")
    sandbox: SandboxKind = Field(default="auto", description="Where code runs.")
    review: bool = Field(default=False, description="Ask a reviewer at each stage boundary.")
    dry_run: bool = Field(default=False, description="Compute the diff; write nothing.")
    decode_seconds: float = Field(
        default=DECODE_SECONDS, ge=1.0, description="Time budget of one stage attempt."
    )
    db: str | None = Field(
        default=None,
        description="The store: a SQLite path or postgresql://... (default "
        "REPO/.beadline/beads.sqlite).",
    )
    thread: str | None = Field(default=None, description="The thread id (default BEAD-TIME).")
    force: bool = Field(
        default=False,
        description="Build a closed or blocked bead, or one with open dependencies, anyway.",
    )
    actor: str = Field(
        default=DEFAULT_ACTOR, min_length=1, description="Who tracker writes are made as."
    )
    report_dir: str | None = Field(
        default=None, description="Where reports go (default REPO/.beadline/reports)."
    )

    def stored(self) -> dict[str, Any]:
        """The options as stored with the thread (JSON)."""
        return self.model_dump(mode="json")


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """What a start or resume ended with."""

    thread_id: str
    bead_id: str
    status: RunStatus
    message: str
    """One line: what happened (the failure's reason, the reviewer's verdict...)."""
    diff: str = ""
    """Unified diff of the target file: what was written, or would be (``dry_run``)."""
    written: bool = False
    """Whether the repository was changed."""
    dry_run: bool = False
    target: str | None = None
    """The target file (absolute), once the bead passed."""
    backup: str | None = None
    """Where the previous file was kept (``<file>.bak``)."""
    report_json: str | None = None
    report_md: str | None = None
    pending_review: dict[str, Any] | None = None
    """The question of a run paused for review (a ``ReviewPayload``); answer it with
    ``resume_run(thread, decision={"action": ...})``."""
    program: str = ""
    """The code built so far (setup and function)."""
    seconds: float = 0.0
    """Wall time of this call."""
    tracker: str | None = None
    """The tracker (one line), when the bead came from one."""
    tracker_log: tuple[str, ...] = ()
    """What was written back to the tracker, and any write that failed."""
    already_finished: bool = False
    """The thread had ended before this call: this is its stored outcome; nothing ran."""
    cost: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON (``already_finished`` left out)."""
        data = asdict(self)
        data.pop("already_finished")
        data["tracker_log"] = list(self.tracker_log)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], *, already_finished: bool = False) -> RunOutcome:
        """The outcome stored by :meth:`to_json`."""
        known = {f for f in cls.__dataclass_fields__ if f != "already_finished"}
        values = {k: v for k, v in data.items() if k in known}
        values["tracker_log"] = tuple(values.get("tracker_log") or ())
        return cls(**values, already_finished=already_finished)

    @classmethod
    def waiting(
        cls,
        record: ThreadRecord,
        values: dict[str, Any],
        question: dict[str, Any],
        *,
        seconds: float,
        tracker: str | None = None,
    ) -> RunOutcome:
        """The outcome of a run paused on a review ``question``."""
        stage = str(question.get("stage", ""))
        if stage == "body":
            stage = f"body part {int(question.get('part', 0)) + 1}"
        return cls(
            thread_id=record.thread_id,
            bead_id=record.bead_id,
            status="waiting_review",
            message=f"waiting for a review of {stage}: {question.get('summary', '')}".strip(),
            dry_run=bool(record.options.get("dry_run")),
            pending_review=dict(question),
            program=str(values.get("program") or question.get("program") or ""),
            seconds=seconds,
            tracker=tracker,
            cost=dict(values.get("cost") or {}),
        )


@dataclass(frozen=True, kw_only=True)
class ThreadInfo:
    """One line of ``beadline bead threads``."""

    thread_id: str
    bead_id: str
    repo: str | None
    status: str
    """A :data:`RunStatus`, or ``running`` (a process holds it now), ``stopped`` (killed or
    crashed: resumable), ``interrupted`` (Ctrl-C: resumable)."""
    last_stage: str
    created_at: float
    updated_at: float
    db: str
    """The store the thread is in."""
    report: str | None = None
    """The Markdown report, once it ended."""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """The line as JSON."""
        return asdict(self)
