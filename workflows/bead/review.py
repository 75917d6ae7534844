"""Human review of a bead run: interrupt payloads, answers, and the terminal review loop.

In review mode the bead graph calls ``interrupt(payload)`` (a :class:`ReviewPayload`) at every
stage boundary and when a stage's budget is spent. The run is resumed with
``Command(resume=answer)`` where ``answer`` is one of::

    {"action": "approve"}                       # accept the stage as it is
    {"action": "edit", "code": "..."}           # replace the stage's code (validated again)
    {"action": "retry", "hint": "use a loop"}   # one more attempt, with the hint in the prompt
    {"action": "abort"}                         # stop the run

(a bare string ``"approve"`` / ``"abort"`` works too). At the integration stage ``edit`` takes the
whole function (with the imports it needs). :func:`drive` runs a graph to the end, answering each
interrupt with a reviewer function; ``beadline bead run --review`` asks a person in the terminal
(:mod:`beadline.workflows.cli._review_screen`).

Besides the stage's own code, a payload shows the function so far and where it lands in its
file (``function``, ``focus``, ``file``, ``diff``, ``focus_file``; see
:func:`~beadline.workflows.bead._review_preview.review_preview`): at ``integration`` its ``diff``
is exactly what approving writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NotRequired

from typing_extensions import TypedDict

from beadline.workflows.errors import UserError

if TYPE_CHECKING:
    from beadline.workflows.bead.spec import Bead

__all__ = [
    "ReviewAction",
    "ReviewAnswer",
    "ReviewPayload",
    "Reviewer",
    "drive",
    "make_payload",
    "parse_answer",
    "pending_interrupts",
]

ReviewAction = Literal["approve", "edit", "retry", "abort"]
"""What a reviewer can do with a stage."""


class ReviewPayload(TypedDict):
    """What an interrupt shows a reviewer."""

    kind: Literal["stage", "budget", "edit"]
    """``stage``: a stage passed its validation; ``budget``: a stage's attempts ran out;
    ``edit``: a reviewer's edit failed its validation."""
    bead_id: str
    stage: str
    part: int
    attempt: int
    ok: bool
    code: str
    """The stage's code (the whole function at ``integration``)."""
    summary: str
    evidence: list[str]
    program: str
    """The program accepted so far."""
    actions: list[str]
    error: NotRequired[str]
    """Why the previous answer was not understood (the question is asked again)."""
    function: NotRequired[str]
    """The function as it stands once this stage is accepted (the accepted stages and this
    one; a signature without a body yet ends in ``...``)."""
    focus: NotRequired[list[int]]
    """``[first, last]``: this stage's lines in ``function`` (1-based; ``[]``: none)."""
    file: NotRequired[str]
    """The target file, relative to the repository."""
    diff: NotRequired[str]
    """The unified diff of ``file`` with ``function`` (and the setup) merged in, as the final
    write makes it; at ``integration`` exactly what approving writes. Empty without a
    repository (see ``note``)."""
    focus_file: NotRequired[list[list[int]]]
    """``[[first, last], ...]``: the lines of the new ``file`` holding this stage's code."""
    note: NotRequired[str]
    """Why there is no ``diff`` (no repository, the file does not parse …), or ``""``."""


@dataclass(frozen=True, kw_only=True)
class ReviewAnswer:
    """A parsed resume value."""

    action: ReviewAction
    code: str = ""
    """Replacement code (``edit``)."""
    hint: str = ""
    """A hint for the next attempt (``retry``)."""


Reviewer = Callable[[ReviewPayload], Mapping[str, Any] | str]
"""Answers one review payload with a resume value."""


def make_payload(
    *,
    bead_id: str,
    pending: Mapping[str, Any],
    program: str,
    exhausted: bool,
    bead: Bead | None = None,
    state: Mapping[str, Any] | None = None,
) -> ReviewPayload:
    """The interrupt payload for a pending stage.

    Args:
        bead_id: The bead's id.
        pending: The stage attempt under review (the graph state's ``pending``).
        program: The program accepted so far.
        exhausted: The stage's attempts ran out (``kind`` ``budget``).
        bead: With ``state``: add the preview fields (``function``, ``diff`` …), reading the
            target file from ``state["repo"]``.
        state: The graph state (``repo``, ``setup``, ``signature``, ``parts``).
    """
    stage = str(pending.get("stage", ""))
    code = str(pending.get("code", ""))
    if stage == "integration":
        code = str(pending.get("function") or program)
    kind: Literal["stage", "budget", "edit"] = "stage"
    if not pending.get("ok"):
        kind = "budget" if exhausted else "edit"
    payload = ReviewPayload(
        kind=kind,
        bead_id=bead_id,
        stage=stage,
        part=int(pending.get("part", 0)),
        attempt=int(pending.get("attempt", 0)),
        ok=bool(pending.get("ok")),
        code=code,
        summary=str(pending.get("summary", "")),
        evidence=[str(e) for e in pending.get("evidence", ())],
        program=program,
        actions=["approve", "edit", "retry", "abort"],
    )
    if bead is not None and state is not None:
        from beadline.workflows.bead._review_preview import review_preview

        payload.update(review_preview(bead, state, pending))  # type: ignore[typeddict-item]
    return payload


def parse_answer(value: object) -> ReviewAnswer:
    """Validate a resume value.

    Raises:
        UserError: the value is not one of the documented forms.
    """
    if isinstance(value, str):
        value = {"action": value.strip().lower()}
    if not isinstance(value, Mapping):
        raise UserError(
            f"review answer {value!r} is not understood; resume with "
            '{"action": "approve" | "edit" | "retry" | "abort"}'
        )
    action = str(value.get("action", "")).lower()
    if action == "approve":
        return ReviewAnswer(action="approve")
    if action == "abort":
        return ReviewAnswer(action="abort")
    if action == "retry":
        return ReviewAnswer(action="retry", hint=str(value.get("hint", "")))
    if action == "edit":
        code = value.get("code")
        if not isinstance(code, str) or not code.strip():
            raise UserError(
                'an "edit" answer needs the replacement code: {"action": "edit", "code": "..."}'
            )
        return ReviewAnswer(action="edit", code=code)
    raise UserError(f"review action {action!r} is unknown; use approve, edit, retry or abort")


def pending_interrupts(graph: Any, config: Mapping[str, Any]) -> list[Any]:
    """The interrupts a thread is waiting on (including those raised inside subgraphs)."""
    state = graph.get_state(config, subgraphs=True)
    found: list[Any] = list(getattr(state, "interrupts", ()) or ())
    if not found:
        for task in getattr(state, "tasks", ()) or ():
            found.extend(getattr(task, "interrupts", ()) or ())
    return found


def drive(
    graph: Any,
    graph_input: Any,
    config: Mapping[str, Any],
    *,
    reviewer: Reviewer | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run a (bead) graph to its end, answering interrupts with ``reviewer``.

    Args:
        graph: A compiled graph with a checkpointer.
        graph_input: The input, or ``None`` to continue the thread where it stopped.
        config: ``{"configurable": {"thread_id": ...}}``.
        reviewer: Answers each interrupt; without one the function returns at the first
            interrupt (the state's values, with ``__interrupt__`` set to the payloads).
        on_event: Receives each ``custom`` stream event (progress).

    Returns:
        The thread's final state values.
    """
    from langgraph.types import Command

    next_input: Any = graph_input
    while True:
        for event in _custom_events(graph, next_input, config):
            if on_event is not None:
                on_event(event)
        waiting = pending_interrupts(graph, config)
        values = dict(graph.get_state(config).values)
        if not waiting:
            return values
        if reviewer is None:
            values["__interrupt__"] = [i.value for i in waiting]
            return values
        next_input = Command(resume=reviewer(waiting[0].value))


def _custom_events(
    graph: Any, graph_input: Any, config: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    # "sync": a checkpoint is on disk before the next stage starts, so a killed process loses
    # at most the stage in flight.
    for chunk in graph.stream(
        graph_input, config, stream_mode="custom", subgraphs=True, durability="sync"
    ):
        event = chunk[1] if isinstance(chunk, tuple) else chunk
        if isinstance(event, dict):
            yield event
