"""egcfg's grid entry by entry: where its time went and which entry found what.

egcfg tries its configurations in order (γ=0 first) until one solves the visible tests; every
result line records each attempt under ``config.solved_by.tried`` (label, seconds, status).
:func:`grid_entries` adds those up over a setting's tasks: how often each entry ran, its share
of egcfg's attempt time, how many visible solves it made, and how many of those pass held out.
It answers "does guidance pay here": on the issue-14 runs the γ=0 entry made about half of
egcfg's held-out passes for a few percent of its time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["GridEntry", "grid_entries"]


@dataclass(frozen=True, kw_only=True)
class GridEntry:
    """One position of egcfg's grid over a setting's tasks."""

    attempt: int
    """The position in the grid (0 = tried first)."""
    label: str
    """The configuration, e.g. ``cfg s=2 t=0.75 d=2 k=1 γ=1 auto`` (the most common label at
    this position, when tasks ran different grids)."""
    runs: int
    """Tasks this entry ran on (later entries run only where the earlier ones did not solve)."""
    seconds: float
    """Wall seconds this entry spent, over all its runs."""
    share: float
    """``seconds`` as a percentage of every entry's seconds."""
    solved: int
    """Runs that solved the visible tests (the search stopped there)."""
    held_out: int
    """Of those, tasks whose held-out verdict passed."""
    refused: int
    """Programs the overfit guard refused in this entry's runs."""


def _tried(line: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    config = line.get("config") or {}
    solved_by = config.get("solved_by") or {}
    tried = solved_by.get("tried") if isinstance(solved_by, Mapping) else None
    return [t for t in tried or [] if isinstance(t, Mapping)]


def grid_entries(lines: Sequence[Mapping[str, Any]]) -> tuple[GridEntry, ...]:
    """Per grid position, over egcfg's result ``lines`` (other methods' lines are ignored;
    lines without a ``tried`` summary, e.g. from before it was recorded, add nothing)."""
    acc: dict[int, dict[str, Any]] = {}
    for line in lines:
        if line.get("method") != "egcfg":
            continue
        for t in _tried(line):
            entry = acc.setdefault(
                int(t.get("attempt", 0)),
                {"labels": {}, "runs": 0, "seconds": 0.0, "solved": 0, "held": 0, "refused": 0},
            )
            label = str(t.get("label", ""))
            entry["labels"][label] = entry["labels"].get(label, 0) + 1
            entry["runs"] += 1
            entry["seconds"] += float(t.get("seconds") or 0.0)
            entry["refused"] += len(t.get("overfit") or [])
            if t.get("status") == "solved":
                entry["solved"] += 1
                entry["held"] += bool(line.get("passed"))
    total = sum(e["seconds"] for e in acc.values()) or 1.0
    return tuple(
        GridEntry(
            attempt=attempt,
            label=max(e["labels"], key=e["labels"].get),
            runs=e["runs"],
            seconds=e["seconds"],
            share=100.0 * e["seconds"] / total,
            solved=e["solved"],
            held_out=e["held"],
            refused=e["refused"],
        )
        for attempt, e in sorted(acc.items())
    )
