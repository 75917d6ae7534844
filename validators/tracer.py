"""Render line traces (:class:`~beadline.validators.executor.Trace`) as compact text for prompts.

The trace itself is recorded inside the sandbox by ``validators/runtime/tracing.py``; its JSON
form is :meth:`Trace.to_json`. :func:`render_trace` gives the text block EG-CFG's dynamic signal
shows a model: each executed line with its number and source, the variables that line changed,
calls with their arguments, return values and exceptions with their line. Example::

    call add(a=1, b=2)
      2 | c = a + b
        |   c = 3
      3 | return c
    return 3

Nested calls are indented two spaces per level. Output is deterministic for a given trace and
is cut at a line boundary to ``max_chars``, ending with ``... trace truncated`` whenever events
were dropped (in the sandbox or here).
"""

from __future__ import annotations

from collections.abc import Mapping

from beadline.validators.errors import UserError
from beadline.validators.executor import Trace, TraceEvent

__all__ = ["TRUNCATED_MARKER", "event_line", "render_trace"]

TRUNCATED_MARKER = "... trace truncated"
"""The last line of a rendering that does not show every event."""


def _assignments(values: Mapping[str, str]) -> str:
    return ", ".join(f"{name} = {value}" for name, value in values.items())


def _render_lines(trace: Trace) -> list[str]:
    out: list[str] = []
    pending_depth = 0
    for index, event in enumerate(trace.events):
        pad = "  " * event.depth
        if event.kind == "call":
            args = ", ".join(f"{k}={v}" for k, v in event.locals.items())
            out.append(f"{pad}call {event.function}({args})")
        elif event.kind == "line":
            if event.locals and index > 0:
                # Changes seen at a line event were made by the line before it.
                out.append(_state(pending_depth, event.locals))
            out.append(f"{pad}{event.line:>3} | {event.source}")
            pending_depth = event.depth
        elif event.kind == "return":
            if event.locals:
                out.append(_state(event.depth, event.locals))
            out.append(f"{pad}return {event.value}")
        elif event.kind == "exception":
            out.append(f"{pad}  ! line {event.line}: {event.value}")
    return out


def _state(depth: int, values: Mapping[str, str]) -> str:
    return f"{'  ' * depth}    |   {_assignments(values)}"


def render_trace(trace: Trace, *, max_chars: int = 2_000) -> str:
    """The compact text form of ``trace`` (see the module docstring).

    Args:
        trace: A recorded trace.
        max_chars: Largest result; whole lines are dropped from the end to fit, and the
            truncation marker is added.

    Returns:
        The text, one event per line, ending with a newline; ``""`` for an empty trace.

    Raises:
        UserError: ``max_chars`` is too small to hold the truncation marker.
    """
    if max_chars < len(TRUNCATED_MARKER) + 1:
        raise UserError(
            f"render_trace(max_chars={max_chars}) is too small: use at least "
            f"{len(TRUNCATED_MARKER) + 1}"
        )
    lines = _render_lines(trace)
    if not lines and not trace.truncated:
        return ""
    full = "\n".join(lines) + "\n"
    if not trace.truncated and len(full) <= max_chars:
        return full
    budget = max_chars - len(TRUNCATED_MARKER) - 1
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    kept.append(TRUNCATED_MARKER)
    return "\n".join(kept) + "\n"


def event_line(event: TraceEvent) -> str:
    """One event as a single line (for logs and records)."""
    detail = _assignments(event.locals) if event.locals else ""
    value = f" -> {event.value}" if event.value is not None else ""
    return f"{event.kind} {event.function}:{event.line} {event.source}{value} {detail}".rstrip()
