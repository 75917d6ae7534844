"""What the agents' entry points (MCP tools, the LangChain tool) take and return.

Typed, JSON-ready shapes over the bead service (:mod:`beadline.workflows.bead.runs`): a review
question a calling agent can answer, a decision, a run's result, a thread's status, a ready
bead. Both entry points build their answers here, so an agent sees the same fields whichever
way it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BeadResult",
    "ReadyBeadInfo",
    "ReviewDecision",
    "ReviewQuestion",
    "ThreadStatus",
    "one_line",
]

_ANSWER_HINT = (
    "answer with resume_bead(thread={thread!r}, decision={{'action': 'approve'}}); or "
    "{{'action': 'edit', 'code': '...'}} to replace the code (the whole function at "
    "integration), {{'action': 'retry', 'hint': '...'}} for another attempt, "
    "{{'action': 'abort'}} to stop"
)
"""How a calling agent is told to answer a review question."""


class ReviewDecision(BaseModel):
    """The answer to a review question."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "edit", "retry", "abort"] = Field(
        description="approve: accept the stage as shown; edit: replace its code (validated "
        "again); retry: one more attempt, with `hint` in the prompt; abort: stop the run."
    )
    code: str | None = Field(
        default=None,
        description="edit: the replacement code, indented as in the function (at the "
        "integration stage: the whole function).",
    )
    hint: str | None = Field(default=None, description="retry: a hint for the next attempt.")

    def to_resume(self) -> dict[str, Any]:
        """The resume value of the bead graph's review (:mod:`beadline.workflows.bead.review`)."""
        value: dict[str, Any] = {"action": self.action}
        if self.code is not None:
            value["code"] = self.code
        if self.hint is not None:
            value["hint"] = self.hint
        return value


class ReviewQuestion(BaseModel):
    """A stage waiting for a review: what to look at and how to answer."""

    stage: str = Field(description="signature, setup, body or integration.")
    part: int = Field(description="The body part (0-based), for the body stage.")
    kind: str = Field(
        description="stage: it passed its validation; budget: its attempts ran out; edit: a "
        "reviewer's edit failed its validation."
    )
    ok: bool = Field(description="Whether the stage passed its validation.")
    code: str = Field(description="The stage's code (the whole function at integration).")
    summary: str = Field(description="The validation's one line.")
    evidence: list[str] = Field(description="Why it failed (error, failing test, output).")
    program: str = Field(description="The code accepted so far.")
    error: str | None = Field(
        default=None, description="Why the previous answer was not understood."
    )
    how_to_answer: str = Field(description="The call that answers this question.")

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], thread: str) -> ReviewQuestion:
        """From the graph's interrupt payload (a ``ReviewPayload``)."""
        return cls(
            stage=str(payload.get("stage", "")),
            part=int(payload.get("part", 0)),
            kind=str(payload.get("kind", "stage")),
            ok=bool(payload.get("ok")),
            code=str(payload.get("code", "")),
            summary=str(payload.get("summary", "")),
            evidence=[str(e) for e in payload.get("evidence", ())],
            program=str(payload.get("program", "")),
            error=str(payload["error"]) if payload.get("error") else None,
            how_to_answer=_ANSWER_HINT.format(thread=thread),
        )


class BeadResult(BaseModel):
    """How a bead run (or one leg of it, up to a review question) ended."""

    thread_id: str = Field(description="The run's thread: for bead_status and resume_bead.")
    bead_id: str
    status: str = Field(
        description="passed, failed, baseline_failed, invalid, aborted, or waiting_review "
        "(answer `question` with resume_bead)."
    )
    message: str = Field(description="One line: what happened.")
    diff: str = Field(description="Unified diff of the target file: written, or would be.")
    written: bool = Field(description="Whether the repository was changed.")
    dry_run: bool
    target: str | None = Field(description="The target file, once the bead passed.")
    report_path: str | None = Field(description="The Markdown report (its .json beside it).")
    question: ReviewQuestion | None = Field(
        description="The pending review question (status waiting_review)."
    )
    program: str = Field(description="The code built so far (setup and function).")
    already_finished: bool = Field(
        description="The thread had ended before this call: its stored result, nothing ran."
    )
    seconds: float

    @classmethod
    def from_outcome(cls, outcome: Any) -> BeadResult:
        """From a :class:`~beadline.workflows.bead.runs.RunOutcome`."""
        pending = outcome.pending_review
        return cls(
            thread_id=outcome.thread_id,
            bead_id=outcome.bead_id,
            status=outcome.status,
            message=outcome.message,
            diff=outcome.diff,
            written=outcome.written,
            dry_run=outcome.dry_run,
            target=outcome.target,
            report_path=outcome.report_md,
            question=ReviewQuestion.from_payload(pending, outcome.thread_id) if pending else None,
            program=outcome.program,
            already_finished=outcome.already_finished,
            seconds=round(float(outcome.seconds), 3),
        )


class ThreadStatus(BaseModel):
    """A thread: where it stands, and its result once it ended or paused on a question."""

    thread_id: str
    bead_id: str
    status: str = Field(
        description="passed, failed, baseline_failed, invalid, aborted, waiting_review, or "
        "running / stopped / interrupted (resumable with resume_bead)."
    )
    last_stage: str
    repo: str | None
    updated_at: float = Field(description="Seconds since the epoch.")
    report_path: str | None
    message: str
    result: BeadResult | None = Field(
        description="The result (with the question, while one is pending)."
    )


class ReadyBeadInfo(BaseModel):
    """A bead the tracker says is ready (open, unblocked), highest priority first."""

    id: str
    title: str
    priority: int
    buildable: bool = Field(description="False when the issue cannot be read as a bead.")
    problem: str = Field(description="Why it cannot be built (empty when buildable).")


def one_line(exc: BaseException) -> str:
    """An error as the one line a calling agent sees (no traceback).

    beadline's own errors already say what was wrong and how to fix it; anything else is a
    bug, named as one.
    """
    from beadline.validators.errors import BeadlineError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, BeadlineError):
        return text
    return f"internal error ({type(exc).__name__}: {text}); this is a bug in beadline"
