"""Human review of a bead run: interrupt payloads, answers, and the terminal review loop.

In review mode the bead graph calls ``interrupt(payload)`` (a :class:`ReviewPayload`) at every
stage boundary and when a stage's budget is spent. The run is resumed with
``Command(resume=answer)`` where ``answer`` is one of::

    {"action": "approve"}                       # accept the stage as it is
    {"action": "edit", "code": "..."}           # replace the stage's code (validated again)
    {"action": "retry", "hint": "use a loop"}   # one more attempt, with the hint in the prompt
    {"action": "abort"}                         # stop the run

(a bare string ``"approve"`` / ``"abort"`` works too). At the integration stage ``edit`` takes the
whole function. :func:`drive` runs a graph to the end, answering each interrupt with a reviewer
function — :class:`TerminalReviewer` asks a person in the terminal (rich), opening ``$EDITOR``
for edits.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NotRequired

from rich.console import Console
from rich.panel import Panel
from rich.prompt import Prompt
from rich.syntax import Syntax
from typing_extensions import TypedDict

from beadline.workflows.errors import UserError

__all__ = [
    "ReviewAction",
    "ReviewAnswer",
    "ReviewPayload",
    "Reviewer",
    "TerminalReviewer",
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
    *, bead_id: str, pending: Mapping[str, Any], program: str, exhausted: bool
) -> ReviewPayload:
    """The interrupt payload for a pending stage."""
    stage = str(pending.get("stage", ""))
    code = str(pending.get("code", ""))
    if stage == "integration":
        code = str(pending.get("function") or program)
    kind: Literal["stage", "budget", "edit"] = "stage"
    if not pending.get("ok"):
        kind = "budget" if exhausted else "edit"
    return ReviewPayload(
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


class TerminalReviewer:
    """Asks a person in the terminal: approve, edit (``$EDITOR`` or pasted text), retry, abort.

    Args:
        console: Where to show the stage.
        editor: The editor command (default ``$VISUAL``/``$EDITOR``; without one, the
            replacement is read from the terminal until a line with a single ``.``).
        ask: The prompt function (``rich.prompt.Prompt.ask``-like), replaceable in tests.
    """

    def __init__(
        self,
        console: Console,
        *,
        editor: str | None = None,
        ask: Callable[..., str] | None = None,
    ) -> None:
        self.console = console
        self.editor = (
            editor if editor is not None else os.environ.get("VISUAL") or os.environ.get("EDITOR")
        )
        self.ask = ask or Prompt.ask

    def __call__(self, payload: ReviewPayload) -> dict[str, Any]:
        title = f"{payload['bead_id']} · {payload['stage']}"
        if payload["stage"] == "body":
            title += f" part {payload['part'] + 1}"
        status = "[green]validated[/]" if payload["ok"] else "[red]failed[/]"
        if payload["kind"] == "budget":
            status = "[red]attempt budget spent[/]"
        body = Syntax(payload["code"] or "# (empty)", "python", line_numbers=False)
        self.console.print(Panel(body, title=f"{title} — {status}", subtitle=payload["summary"]))
        if "error" in payload:
            self.console.print(f"[red]{payload['error']}[/]")
        for item in payload["evidence"][:3]:
            self.console.print(Panel(item, title="evidence", border_style="red"))
        action = self.ask(
            "approve / edit / retry / abort",
            choices=["approve", "edit", "retry", "abort", "a", "e", "r", "q"],
            default="approve" if payload["ok"] else "retry",
        )
        action = {"a": "approve", "e": "edit", "r": "retry", "q": "abort"}.get(action, action)
        if action == "edit":
            return {"action": "edit", "code": self.edit(payload["code"])}
        if action == "retry":
            return {"action": "retry", "hint": self.ask("hint for the next attempt", default="")}
        return {"action": action}

    def edit(self, code: str) -> str:
        """The replacement code: from ``$EDITOR`` on a temp file, or typed in the terminal."""
        if self.editor:
            with tempfile.TemporaryDirectory(prefix="beadline-edit-") as tmp:
                path = Path(tmp) / "stage.py"
                path.write_text(code + "\n", encoding="utf-8")
                subprocess.run([*shlex.split(self.editor), str(path)], check=False)
                return path.read_text(encoding="utf-8")
        self.console.print("Type the replacement; end with a line holding a single '.'")
        lines: list[str] = []
        while True:
            line = self.ask("", default=".", show_default=False)
            if line.strip() == ".":
                break
            lines.append(line)
        return "\n".join(lines)
