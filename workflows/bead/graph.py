"""The K&V bead graph: build one function stage by stage, revising only the stage that fails.

::

    START → preflight → signature → setup → body ⟲ (one part at a time) → integration → finish → END
                              ↑ a failed validation routes back to the stage it points to ↑
                              ask_review → review (interrupt) between stages when review mode is on

* ``preflight`` (:mod:`~beadline.workflows.bead.preflight`) checks the input before any model
  time: the target can be placed in its module, the module imports in the sandbox, and the
  integration command's baseline on the unchanged repository (which tests already fail). A
  problem ends the run ``invalid`` (or ``baseline_failed``) with one line naming the fix.
* ``signature`` (validated: compiles and defines the target), ``setup`` (the module imports
  with it merged in), each ``body`` part (the partial function runs on the unit tests without
  crashing, and the part does something: smoke), ``integration`` (the unit tests pass and every
  part ran, then the bead's pytest file passes and the integration command shows no new
  failure). With a repository every check runs the whole target module, imported as part of its
  package from a snapshot (:mod:`~beadline.workflows.bead.validation`); the module text that
  passed integration is the run's ``module_text``, what
  :func:`~beadline.workflows.bead.write.write_result` writes.
* A failed validation re-opens only the stage its evidence points to — the same stage, or for
  integration the body part (or setup / signature) holding the failing line — with the evidence
  and the rejected code in the next prompt; accepted stages are kept. A retry that hands back the
  code that just failed is recorded as failed without running it again. Each stage has an attempt budget
  (:class:`~beadline.workflows.bead.spec.Budgets`); when it is spent the run ends ``failed`` with
  everything it learned, or, in review mode, asks a person.
* Review mode calls :func:`langgraph.types.interrupt` at each stage boundary and when a budget is
  spent; resume with ``Command(resume={"action": "approve" | "edit" | "retry" | "abort", ...})``
  (see :mod:`beadline.workflows.bead.review`). Interrupts need a checkpointer and a ``thread_id``; the
  review node re-runs from its start on resume, so it has no side effect before its
  ``interrupt``: the ``review_requested`` event comes from the ``ask_review`` node before it, once
  per review.
* ``apply=True`` (off by default, for a parent graph that wants the file written): on success
  ``finish`` merges the function into its target file and writes it atomically, as
  ``beadline bead run`` does (:func:`~beadline.workflows.bead.apply.apply_bead`); the output's
  ``applied`` holds the path, the backup and the diff.
* Progress events (``stage_started``, ``stage_validated``, ``stage_failed``,
  ``candidates_executed``, ``review_requested``, ``applied``, ``finished`` …) go to LangGraph's
  ``custom`` stream mode.

The state holds only JSON-like values, so any checkpointer can store it (the CLI uses SQLite:
one thread per bead run). Run with ``durability="sync"`` (as :func:`~.review.drive` does) and a
killed run resumes losing at most the stage in flight: each node is one stage attempt.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, cast

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, interrupt
from typing_extensions import TypedDict

from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost
from beadline.validators.errors import BeadlineError
from beadline.validators.executor import Executor
from beadline.workflows.bead._stage_checks import (
    clean_code,
)
from beadline.workflows.bead.apply import ApplyError, split_program
from beadline.workflows.bead.generation import (
    EgcfgGenerator,
    Feedback,
    GeneratedStage,
    ProgramLayout,
    StageGenerator,
    StageRequest,
    assemble_program,
    is_final_part,
    normalize_part,
    same_code,
)
from beadline.workflows.bead.in_repo import RepoTarget, open_target
from beadline.workflows.bead.preflight import preflight
from beadline.workflows.bead.review import ReviewAnswer, make_payload, parse_answer
from beadline.workflows.bead.spec import Bead
from beadline.workflows.bead.validation import StageInputs, StageValidator
from beadline.workflows.bead.write import write_result
from beadline.workflows.errors import BeadError, UserError

__all__ = [
    "BeadInput",
    "BeadOutput",
    "BeadState",
    "BeadStatus",
    "build_bead_graph",
    "make_default_graph",
]

BeadStatus = Literal["running", "passed", "failed", "baseline_failed", "invalid", "aborted"]
"""``passed``: the function passed every validation. ``failed``: a stage's budget ran out.
``baseline_failed``: the integration command fails on the unchanged repository. ``invalid``: the
input cannot be run (missing repository, command not found). ``aborted``: a reviewer stopped it."""

Stage = Literal["signature", "setup", "body", "integration"]
NodeName = Literal["signature", "setup", "body", "integration", "review", "finish"]
"""Where :meth:`_BeadNodes.route` goes; ``review`` is entered through ``ask_review``."""
_STAGES: tuple[Stage, ...] = ("signature", "setup", "body", "integration")
_REPEATED = "the generator returned the code that just failed"
_NOT_RUN = "); it was not run again"


class BeadInput(TypedDict):
    """What a run starts from."""

    bead: dict[str, Any]
    """The bead (``Bead.model_dump(mode="json")``)."""
    repo: NotRequired[str | None]
    """The target repository (required when the bead has an integration command or test file)."""


class BeadOutput(TypedDict, total=False):
    """What a run returns."""

    bead_id: str
    status: BeadStatus
    message: str
    repo: str | None
    """The target repository (``None`` for a function written alone)."""
    program: str
    """The assembled program: setup and the function (standalone)."""
    function: str
    """The function alone (signature and body)."""
    signature: str
    setup: str
    parts: list[str]
    history: list[dict[str, Any]]
    """Every attempt: stage, part, attempt, code, ok, summary, evidence, source."""
    feedback: dict[str, Any] | None
    """The evidence of the last failure (for a failed run: what it learned)."""
    cost: dict[str, float]
    baseline: dict[str, Any] | None
    """The integration command on the unchanged repository: ``failing``, ``pre_existing`` (do
    not block), ``must_pass`` (name the target: must pass after)."""
    module_text: str
    """In a repository: the whole module that passed integration — what is written, byte for
    byte."""
    original_digest: str
    """Digest of the module's text it was built on (the write refuses a file changed since)."""
    target: dict[str, Any] | None
    """Where the target is: file, module, qualname, exists, stub."""
    repo_view: dict[str, Any] | None
    """What the prompt showed of the repository, and what was cut to fit."""
    """The integration command on the unchanged repository."""
    applied: dict[str, Any] | None
    """With ``apply=True``: what was written (path, backup, diff, dry_run, written, created)."""


class BeadState(TypedDict, total=False):
    """The graph's state (JSON-like values only)."""

    bead: dict[str, Any]
    repo: str | None
    bead_id: str
    status: BeadStatus
    message: str
    stage: str
    """The next stage to work on (``done`` once integration passed)."""
    part: int
    """The body part being written (0-based)."""
    signature: str
    setup: str
    parts: list[str]
    body_done: bool
    attempts: dict[str, int]
    """Attempts per stage key (``signature``, ``setup``, ``body[2]``, ``integration``)."""
    grants: dict[str, int]
    """Attempts granted beyond a stage's budget (a repair the integration asked for, a
    reviewer's retry)."""
    feedback: dict[str, Any] | None
    """Evidence for the next attempt; ``for`` names the stage key it is meant for."""
    pending: dict[str, Any] | None
    """The last attempt when it awaits review or a retry; ``None`` once accepted."""
    history: Annotated[list[dict[str, Any]], operator.add]
    cost: dict[str, float]
    baseline: dict[str, Any] | None
    program: str
    function: str
    module_text: str
    original_digest: str
    target: dict[str, Any] | None
    repo_view: dict[str, Any] | None
    applied: dict[str, Any] | None


def _emit(event: dict[str, Any]) -> None:
    """Send a progress event to the ``custom`` stream (a no-op outside a graph run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    writer(event)


def _key(stage: str, part: int) -> str:
    return f"body[{part}]" if stage == "body" else stage


def _budget(bead: Bead, stage: str) -> int:
    budgets = bead.budgets
    return {
        "signature": budgets.signature,
        "setup": budgets.setup,
        "body": budgets.body_part,
        "integration": budgets.integration,
    }[stage]


def _add_cost(state: BeadState, cost: Cost) -> dict[str, float]:
    total = dict(state.get("cost") or {})
    for name in ("tokens_evaluated", "tokens_generated", "programs_executed", "seconds"):
        total[name] = total.get(name, 0) + getattr(cost, name)
    return total


class _BeadNodes:
    """The node functions, bound to one generator and one executor."""

    def __init__(
        self,
        generator: StageGenerator,
        executor: Executor,
        review: bool,
        apply: bool = False,
        dry_run: bool = False,
    ) -> None:
        self.generator = generator
        self.executor = executor
        self.review = review
        self.validator = StageValidator(executor)
        self.apply = apply
        self.dry_run = dry_run

    # ---- helpers -------------------------------------------------------------------------

    @staticmethod
    def bead(state: BeadState) -> Bead:
        return Bead.model_validate(state["bead"])

    @staticmethod
    def target(state: BeadState, bead: Bead) -> RepoTarget | None:
        """The target module in the repository's snapshot (``None`` without a repository).

        Raises:
            BeadError: the repository or the target changed so that it cannot be placed.
        """
        repo = state.get("repo")
        return open_target(bead, repo) if repo else None

    def layout(self, state: BeadState, parts: Sequence[str] | None = None) -> ProgramLayout:
        return assemble_program(
            state.get("setup", ""),
            state.get("signature", ""),
            list(state.get("parts", [])) if parts is None else parts,
        )

    def validate(
        self, state: BeadState, stage: Stage, part: int, code: str, done: bool
    ) -> dict[str, Any]:
        """Validate one stage's code; a record with ``ok``, verdicts and the retry target."""
        bead = self.bead(state)
        inputs = StageInputs(
            bead=bead,
            target=self.target(state, bead),
            setup=state.get("setup", ""),
            signature=state.get("signature", ""),
            parts=tuple(state.get("parts", [])),
            baseline=state.get("baseline"),
        )
        return self.validator.validate(inputs, stage, part, code, done)

    def current_code(self, state: BeadState, stage: str, part: int) -> str:
        """The accepted code of a stage (what an integration failure re-opens)."""
        if stage == "body":
            parts = state.get("parts", [])
            return parts[part] if part < len(parts) else ""
        return str(state.get(stage, "") or "") if stage in ("setup", "signature") else ""

    def record(
        self,
        state: BeadState,
        record: dict[str, Any],
        *,
        attempt: int,
        source: str,
        cost: Cost | None = None,
    ) -> dict[str, Any]:
        """The state update for a validated attempt (accepting it unless review mode holds it)."""
        bead = self.bead(state)
        stage, part = record["stage"], record["part"]
        key = _key(stage, part)
        attempts = {**state.get("attempts", {}), key: attempt}
        entry = {**record, "attempt": attempt, "source": source, "at": time.time()}
        for name in ("program", "function"):
            entry.pop(name, None)
        update: dict[str, Any] = {"attempts": attempts, "history": [entry]}
        if cost is not None:
            update["cost"] = _add_cost(state, cost)
        event = "stage_validated" if record["ok"] else "stage_failed"
        _emit(
            {
                "event": event,
                "bead": bead.id,
                "stage": stage,
                "part": part,
                "attempt": attempt,
                "summary": record["summary"],
            }
        )
        if record["ok"] and not (self.review and source == "model"):
            update.update(self.accept(state, record))
            return update
        update["pending"] = {**record, "attempt": attempt, "source": source}
        if not record["ok"]:
            target = record["retry"]
            target_key = _key(target["stage"], target["part"])
            # the code the evidence is about: this attempt's, or that of the stage it re-opens
            rejected = (
                record["code"]
                if target_key == key
                else self.current_code(state, target["stage"], int(target["part"]))
            )
            update["feedback"] = {
                "for": target_key,
                **Feedback(
                    stage=stage,
                    summary=record["summary"],
                    evidence=tuple(record["evidence"]),
                    code=rejected,
                ).to_json(),
            }
            if target_key != key:
                # Evidence points at another stage: it gets a fresh budget for this repair
                # (its earlier attempts become free); the failing stage's budget bounds the loop.
                grants = dict(state.get("grants", {}))
                grants[target_key] = int(attempts.get(target_key, 0))
                update["grants"] = grants
            if target["stage"] == "body":
                update["part"] = target["part"]
        return update

    def accept(self, state: BeadState, record: dict[str, Any]) -> dict[str, Any]:
        """The state update that accepts a validated stage and moves to the next one."""
        bead = self.bead(state)
        stage, code = record["stage"], record["code"]
        update: dict[str, Any] = {"pending": None, "feedback": None}
        if stage == "signature":
            update.update(signature=code, stage="setup")
            if code != state.get("signature") and state.get("parts"):
                update.update(parts=[], part=0, body_done=False)
        elif stage == "setup":
            update.update(setup=code, stage="integration" if state.get("body_done") else "body")
        elif stage == "body":
            part = record["part"]
            parts = list(state.get("parts", [])[:part])
            if code.strip():
                parts.append(code)
            done = bool(record.get("done")) or len(parts) >= bead.budgets.max_body_parts
            update.update(
                parts=parts,
                part=len(parts),
                body_done=done,
                stage="integration" if done else "body",
            )
        else:
            update.update(stage="done", program=record.get("program", ""))
            update["function"] = record.get("function", "")
            update["module_text"] = record.get("module_text", "")
            update["original_digest"] = record.get("original_digest", "")
        return update

    # ---- nodes ---------------------------------------------------------------------------

    def preflight(self, state: BeadState) -> dict[str, Any]:
        """Check the input before any model time (:mod:`beadline.workflows.bead.preflight`)."""
        return preflight(dict(state), self.executor, _emit, writes=self.apply)

    def stage(self, stage: Stage) -> Any:
        def node(state: BeadState) -> dict[str, Any]:
            bead = self.bead(state)
            part = int(state.get("part", 0)) if stage == "body" else 0
            key = _key(stage, part)
            attempt = int(state.get("attempts", {}).get(key, 0)) + 1
            _emit(
                {
                    "event": "stage_started",
                    "bead": bead.id,
                    "stage": stage,
                    "part": part,
                    "attempt": attempt,
                }
            )
            try:
                return self.attempt(state, bead, stage, part, attempt)
            except BeadError as exc:
                # the repository changed under the run so that the target cannot be placed
                return {"status": "invalid", "message": str(exc)}

        node.__name__ = stage
        return node

    def attempt(
        self, state: BeadState, bead: Bead, stage: Stage, part: int, attempt: int
    ) -> dict[str, Any]:
        """One attempt at a stage: generate its code (not for integration) and validate it."""
        key = _key(stage, part)
        if stage == "integration":
            record = self.validate(state, "integration", 0, "", True)
            return self.record(state, record, attempt=attempt, source="model")
        feedback_json = state.get("feedback")
        feedback = (
            Feedback.from_json(feedback_json)
            if feedback_json and feedback_json.get("for") == key
            else None
        )
        request = StageRequest(
            bead=bead,
            stage=stage,
            part=part,
            signature=state.get("signature", ""),
            setup=state.get("setup", ""),
            parts=tuple(state.get("parts", [])[:part]),
            feedback=feedback,
            attempt=attempt,
            emit=lambda event: _emit({"bead": bead.id, **event}),
            target=self.target(state, bead),
        )
        try:
            generated = self.generator.generate(request)
        except BeadlineError as exc:
            record = _not_validated(stage, part, "", f"the generator failed: {exc}")
            return self.record(state, record, attempt=attempt, source="model")
        code = clean_code(stage, generated)
        done = generated.done or (stage == "body" and is_final_part(code))
        if feedback is not None and feedback.code.strip() and same_code(code, feedback.code):
            # A retry must not hand back the code that just failed: it would fail the same way.
            why = feedback.summary
            if why.startswith(_REPEATED):  # keep the first reason, not a chain of repeats
                why = why.removeprefix(_REPEATED + " (").removesuffix(_NOT_RUN)
            record = _not_validated(
                stage,
                part,
                code,
                f"{_REPEATED} ({why}{_NOT_RUN}",
                evidence=[e for e in feedback.evidence if not e.startswith(_REPEATED)],
            )
        else:
            record = self.validate(state, stage, part, code, done)
        update = self.record(state, record, attempt=attempt, source="model", cost=generated.cost)
        if generated.context is not None:
            update["repo_view"] = generated.context
        return update

    def ask_review(self, state: BeadState) -> dict[str, Any]:
        """Announce a review (``review_requested``), once: the node after it interrupts.

        The event cannot be sent from :meth:`review_node` itself: a node that interrupts runs
        again from its start when the thread is resumed, so it would be sent twice.
        """
        pending = state.get("pending") or {}
        _emit(
            {
                "event": "review_requested",
                "bead": state.get("bead_id", ""),
                "stage": pending.get("stage", "integration"),
                "part": int(pending.get("part", 0)),
            }
        )
        return {}

    def review_node(self, state: BeadState) -> dict[str, Any]:
        """Show the pending stage to a person (``interrupt``) and apply the answer.

        Runs again from its start on resume: nothing before ``interrupt`` may have effects.
        """
        bead = self.bead(state)
        pending = dict(state.get("pending") or {})
        stage = cast(Stage, pending.get("stage", "integration"))
        part = int(pending.get("part", 0))
        exhausted = not pending.get("ok", False) and pending.get("source") != "edit"
        payload = make_payload(
            bead_id=bead.id,
            pending=pending,
            program=self.layout(state).program,
            exhausted=exhausted,
            bead=bead,
            state=state,
        )
        value = interrupt(payload)
        while True:
            try:
                answer: ReviewAnswer = parse_answer(value)
                break
            except UserError as exc:
                # A bad answer must not poison the thread: ask again, saying what was wrong.
                value = interrupt({**payload, "error": str(exc)})
        key = _key(stage, part)
        attempt = int(state.get("attempts", {}).get(key, 0))
        if answer.action == "abort":
            return {"status": "aborted", "message": f"bead {bead.id}: stopped by the reviewer"}
        if answer.action == "approve":
            update = self.accept(state, pending)
            entry = {**pending, "source": "reviewer", "approved": True, "at": time.time()}
            entry.pop("program", None)
            entry.pop("function", None)
            update["history"] = [entry]
            if not pending.get("ok"):
                update["message"] = (
                    f"{key} accepted by the reviewer despite: {pending.get('summary')}"
                )
            return update
        if answer.action == "edit":
            if stage == "integration":
                return self.edit_function(state, answer.code, attempt)
            code = clean_code(stage, GeneratedStage(code=answer.code))
            record = self.validate(state, stage, part, code, bool(pending.get("done")))
            if stage == "body" and code.strip():
                record["done"] = bool(pending.get("done"))
            return self.record(state, record, attempt=attempt, source="edit")
        # retry with a hint: one more attempt at the stage the evidence points to
        target = pending.get("retry") or {"stage": stage, "part": part}
        target_key = _key(target["stage"], target["part"])
        # one more attempt than already used, whatever the budget said
        grants = dict(state.get("grants", {}))
        used = int(state.get("attempts", {}).get(target_key, 0))
        grants[target_key] = max(
            grants.get(target_key, 0), used + 1 - _budget(bead, target["stage"])
        )
        feedback = Feedback(
            stage=stage,
            summary=pending.get("summary", "")
            if not pending.get("ok")
            else "the reviewer asked for another attempt",
            evidence=tuple(pending.get("evidence", ())),
            hint=answer.hint,
            code=pending.get("code", ""),
        )
        return {
            "pending": None,
            "feedback": {"for": target_key, **feedback.to_json()},
            "grants": grants,
            "stage": target["stage"],
            "part": int(target["part"]) if target["stage"] == "body" else state.get("part", 0),
        }

    def edit_function(self, state: BeadState, code: str, attempt: int) -> dict[str, Any]:
        """A reviewer's replacement of the whole function at the integration stage."""
        bead = self.bead(state)
        try:
            setup, signature, parts = split_program(code, bead.target.name)
        except BeadlineError as exc:
            record = {
                "stage": "integration",
                "part": 0,
                "code": code,
                "done": True,
                "ok": False,
                "summary": str(exc),
                "evidence": [str(exc)],
                "validations": [],
                "retry": {"stage": "integration", "part": 0},
            }
            return self.record(state, record, attempt=attempt, source="edit")
        edited: BeadState = {
            **state,
            "setup": setup or state.get("setup", ""),
            "signature": signature,
            "parts": [normalize_part(p) for p in parts],
        }
        record = self.validate(edited, "integration", 0, "", True)
        update = self.record(edited, record, attempt=attempt, source="edit")
        update.update(
            setup=edited["setup"],
            signature=edited["signature"],
            parts=edited["parts"],
            body_done=True,
        )
        return update

    def finish(self, state: BeadState) -> dict[str, Any]:
        """Settle the verdict and assemble what was learned."""
        bead_id = state.get("bead_id", "?")
        status = state.get("status", "running")
        message = state.get("message", "")
        layout = self.layout(state)
        function = assemble_program("", state.get("signature", ""), state.get("parts", [])).program
        if status == "running":
            if state.get("stage") == "done":
                status = "passed"
                message = message or f"bead {bead_id}: all stages validated"
            else:
                pending = state.get("pending") or {}
                stage = pending.get("stage", state.get("stage", "?"))
                key = _key(stage, int(pending.get("part", 0)))
                attempts = state.get("attempts", {}).get(key, 0)
                status = "failed"
                message = (
                    f"bead {bead_id}: stage {key} failed after {attempts} attempt(s): "
                    f"{pending.get('summary', '')}"
                )
        update: dict[str, Any] = {"program": layout.program, "function": function}
        if status == "passed" and self.apply:
            try:
                written = write_result(state, self.bead(state), self.executor, dry_run=self.dry_run)
            except ApplyError as exc:
                status = "failed"
                message = (
                    f"bead {bead_id}: all stages validated but the file was not written: {exc}"
                )
            else:
                result = written.applied
                update["applied"] = written.to_json(dry_run=self.dry_run)
                _emit(
                    {
                        "event": "applied",
                        "bead": bead_id,
                        "path": str(result.path),
                        "written": result.written,
                        "dry_run": result.dry_run,
                    }
                )
        _emit({"event": "finished", "bead": bead_id, "status": status, "message": message})
        return {"status": status, "message": message, **update}

    # ---- routing -------------------------------------------------------------------------

    def route(self, state: BeadState) -> NodeName:
        """Where to go after a stage or a review."""
        if state.get("status", "running") != "running":
            return "finish"
        pending = state.get("pending")
        if pending is None:
            stage = state.get("stage", "signature")
            return cast(NodeName, stage) if stage in _STAGES else "finish"
        if pending.get("ok"):
            return "review"
        if pending.get("source") == "edit":
            return "review"
        bead = self.bead(state)
        key = _key(pending["stage"], int(pending.get("part", 0)))
        used = int(state.get("attempts", {}).get(key, 0))
        allowed = _budget(bead, pending["stage"]) + int(state.get("grants", {}).get(key, 0))
        if used < allowed:
            return cast(NodeName, pending["retry"]["stage"])
        return "review" if self.review else "finish"

    def route_preflight(self, state: BeadState) -> Literal["signature", "finish"]:
        """Start generating, or end (invalid input, failing baseline)."""
        return "signature" if state.get("status") == "running" else "finish"


def _not_validated(
    stage: str, part: int, code: str, summary: str, *, evidence: Sequence[str] = ()
) -> dict[str, Any]:
    """The record of an attempt that was not validated (the generator failed or repeated)."""
    return {
        "stage": stage,
        "part": part,
        "code": code,
        "done": False,
        "ok": False,
        "summary": summary,
        "evidence": [summary, *evidence],
        "validations": [],
        "retry": {"stage": stage, "part": part},
    }


class _LazyGenerator:
    """Builds the real generator on first use (so ``langgraph dev`` can import the graph fast)."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.inner: StageGenerator | None = None

    def generate(self, request: StageRequest) -> GeneratedStage:
        if self.inner is None:
            self.inner = self.factory()
        assert self.inner is not None
        return self.inner.generate(request)


def build_bead_graph(
    model_or_generator: Any,
    executor: Executor,
    *,
    settings: DecoderSettings | None = None,
    checkpointer: Checkpointer = None,
    review: bool = False,
    apply: bool = False,
    dry_run: bool = False,
    interrupt_before: Sequence[str] | None = None,
    interrupt_after: Sequence[str] | None = None,
    name: str | None = None,
) -> CompiledStateGraph[BeadState, None, BeadInput, BeadOutput]:
    """Build the K&V bead graph.

    Args:
        model_or_generator: A :class:`~beadline.workflows.bead.generation.StageGenerator` (e.g.
            :class:`~beadline.workflows.bead.generation.ScriptedGenerator`), or a model, which is
            wrapped in an :class:`~beadline.workflows.bead.generation.EgcfgGenerator`.
        executor: The sandbox every validation (and the decoder's candidates) runs in.
        settings: ``DecoderSettings`` for the EG-CFG generator (ignored for a generator).
        checkpointer: Where state is saved (needed for review mode and resume); a parent graph's
            checkpointer is used when this graph runs as its subgraph.
        review: Interrupt at each stage boundary and when a budget is spent.
        apply: On success, merge the function into ``repo``/``target.file`` and write it
            atomically (the previous file kept as ``<name>.bak``), as ``beadline bead run``
            does; the output's ``applied`` says what was written. Off by default: an embedding
            graph may want to write (or not) itself. A run without a repository is ``invalid``.
        dry_run: With ``apply``, compute the diff (``applied["diff"]``) without writing.
        interrupt_before: Node names to pause before (passed to ``compile``).
        interrupt_after: Node names to pause after (passed to ``compile``).
        name: The compiled graph's name (default ``bead``).

    Returns:
        The compiled graph: input :class:`BeadInput`, output :class:`BeadOutput`.

    Raises:
        UserError: ``dry_run`` without ``apply``.

    Example:
        >>> from beadline.validators.testing import FakeExecutor
        >>> from beadline.workflows.bead.generation import ScriptedGenerator
        >>> graph = build_bead_graph(ScriptedGenerator(), FakeExecutor())
    """
    if isinstance(model_or_generator, StageGenerator):
        generator: StageGenerator = model_or_generator
    else:
        generator = EgcfgGenerator(model_or_generator, executor, settings)
    if dry_run and not apply:
        raise UserError("dry_run=True needs apply=True (it is the diff of what apply would write)")
    nodes = _BeadNodes(generator, executor, review, apply=apply, dry_run=dry_run)
    builder: StateGraph[BeadState, None, BeadInput, BeadOutput] = StateGraph(
        BeadState, input_schema=BeadInput, output_schema=BeadOutput
    )
    builder.add_node("preflight", nodes.preflight)
    for stage in _STAGES:
        builder.add_node(stage, nodes.stage(stage))
    builder.add_node("ask_review", nodes.ask_review)
    builder.add_node("review", nodes.review_node)
    builder.add_node("finish", nodes.finish)
    builder.add_edge(START, "preflight")
    builder.add_conditional_edges(
        "preflight", nodes.route_preflight, {"signature": "signature", "finish": "finish"}
    )
    path_map: dict[Any, str] = {n: n for n in (*_STAGES, "finish")}
    path_map["review"] = "ask_review"
    for source in (*_STAGES, "review"):
        builder.add_conditional_edges(source, nodes.route, path_map)
    builder.add_edge("ask_review", "review")
    builder.add_edge("finish", END)
    return builder.compile(
        checkpointer=checkpointer,
        interrupt_before=list(interrupt_before) if interrupt_before else None,
        interrupt_after=list(interrupt_after) if interrupt_after else None,
        name=name or "bead",
    )


def make_default_graph() -> CompiledStateGraph[BeadState, None, BeadInput, BeadOutput]:
    """The graph with defaults, for ``langgraph dev`` (see ``langgraph.json``).

    The packaged model (``smollm2-135m``) and the ``auto`` sandbox are created on first use;
    the server supplies the checkpointer. Review mode is on: the server's UI answers interrupts.
    """
    from beadline.agents.models.loader import load_model
    from beadline.validators.sandbox.factory import make_executor

    executor = make_executor("auto")

    def factory() -> StageGenerator:
        return EgcfgGenerator(load_model("smollm2-135m"), executor)

    return build_bead_graph(_LazyGenerator(factory), executor, review=True, name="bead")
