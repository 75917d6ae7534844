"""The review question of ``beadline bead run --review`` in the terminal: the panel and the answer.

The panel shows where the stage under review lands: the target file around the function, as
it will read once the stage is accepted (``+`` lines the bead adds, ``▶`` this stage's lines,
``-`` lines it removes, with the file's line numbers). At ``integration`` it shows the unified
diff that approving writes — the setup's imports as well as the function. Without a target
repository it shows the function so far.

An edit opens ``$VISUAL``/``$EDITOR`` on the code, or reads typed (or pasted) lines until a line
holding only ``.`` (or ``EOF``), or Ctrl-D: each line is kept as typed, leading spaces and blank
lines included.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from beadline.workflows.cli._progress import stage_label

__all__ = ["END_MARKERS", "TerminalReviewer", "review_panel"]

END_MARKERS = (".", "EOF")
"""A typed edit ends at a line holding only one of these (or at Ctrl-D)."""

MAX_REGION_ROWS = 80
"""Rows of the file region shown before a stage's panel is cut (integration: never cut)."""

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_LEGEND = "[green]+[/] added  [bold yellow]▶[/] this stage  [red]-[/] removed"


def _in(ranges: Sequence[Sequence[int]], line: int) -> bool:
    return any(first <= line <= last for first, last in ranges)


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="dim")
    grid.add_column(width=1)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    return grid


def _add(grid: Table, number: int | None, mark: str, text: str) -> None:
    styles = {"+": "green", "▶": "bold yellow", "-": "red", "⋮": "dim", " ": ""}
    style = styles.get(mark, "")
    grid.add_row(
        "" if number is None else str(number),
        Text(mark, style=style),
        Text(text, style=style if mark in "-▶" else ""),
    )


def _region(diff: str, focus: Sequence[Sequence[int]]) -> tuple[Table, int]:
    """The new file's lines around the change, from a unified diff; and how many rows it has."""
    grid = _grid()
    rows = 0
    new_no = 0
    for line in diff.splitlines():
        match = _HUNK.match(line)
        if match:
            if rows:
                _add(grid, None, "⋮", "")
            new_no = int(match.group(2))
            rows += 1
            continue
        if line.startswith(("---", "+++", "\\")) or rows == 0:
            continue
        if rows > MAX_REGION_ROWS:
            rows += 1
            continue
        rows += 1
        kind, text = line[:1], line[1:]
        if kind == "-":
            _add(grid, None, "-", text)
            continue
        mark = "▶" if _in(focus, new_no) else ("+" if kind == "+" else " ")
        _add(grid, new_no, mark, text)
        new_no += 1
    if rows > MAX_REGION_ROWS + 1:
        grid.add_row("", "", Text(f"… {rows - MAX_REGION_ROWS - 1} more lines", style="dim"))
    return grid, rows


def _function_view(function: str, focus: Sequence[int]) -> Table:
    grid = _grid()
    first, last = (focus[0], focus[1]) if len(focus) == 2 else (0, -1)
    for number, text in enumerate(function.rstrip("\n").splitlines(), start=1):
        _add(grid, number, "▶" if first <= number <= last else " ", text)
    return grid


def _counts(diff: str) -> tuple[int, int]:
    lines = [line for line in diff.splitlines() if not line.startswith(("+++", "---"))]
    return (
        sum(line.startswith("+") for line in lines),
        sum(line.startswith("-") for line in lines),
    )


def _verdict(payload: Mapping[str, Any]) -> str:
    if payload.get("kind") == "budget":
        return "[red]attempt budget spent[/]"
    if payload.get("kind") == "edit":
        return "[red]your edit failed[/]"
    return "[green]validated[/]" if payload.get("ok") else "[red]failed[/]"


def _body(payload: Mapping[str, Any], dry_run: bool) -> list[RenderableType]:
    stage = str(payload.get("stage", ""))
    diff = str(payload.get("diff") or "")
    file = str(payload.get("file") or "")
    note = str(payload.get("note") or "")
    if "function" not in payload:  # a payload without the preview fields
        return [Syntax(str(payload.get("code") or "# (empty)"), "python")]
    if stage == "integration" and diff:
        added, removed = _counts(diff)
        counts = f"(+{added} −{removed} lines)"
        heading = (
            f"dry run: approving writes nothing; it would write to [bold]{file}[/] {counts}:"
            if dry_run
            else f"approving writes this to [bold]{file}[/] {counts}:"
        )
        return [
            Text.from_markup(heading),
            Syntax(diff.rstrip("\n"), "diff", word_wrap=True),
        ]
    if diff:
        focus = payload.get("focus_file") or []
        shown: list[RenderableType] = [
            Text.from_markup(f"[bold]{file}[/] once this stage is accepted · {_LEGEND}"),
            _region(diff, focus)[0],
        ]
        if not focus and stage != "integration":
            shown.append(Text("(this stage adds no line to the file)", style="dim"))
        return shown
    parts: list[RenderableType] = []
    function = str(payload.get("function") or "")
    if function:
        parts.append(Text.from_markup("the function so far · [bold yellow]▶[/] this stage"))
        parts.append(_function_view(function, payload.get("focus") or []))
    if note:
        parts.append(Text(note, style="dim"))
    elif file and function:
        parts.append(Text(f"{file} already holds this code: approving changes nothing", "dim"))
    return parts


def review_panel(payload: Mapping[str, Any], *, dry_run: bool = False) -> Panel:
    """The panel of one review question (see the module docstring); ``dry_run``: the run
    writes nothing (said at integration)."""
    stage = str(payload.get("stage", ""))
    where = stage_label(stage, int(payload.get("part", 0)))
    title = (
        f"{payload.get('bead_id', '')} · {where} · attempt {payload.get('attempt', '')}"
        f" — {_verdict(payload)}"
    )
    items = _body(payload, dry_run)
    summary = str(payload.get("summary") or "")
    if summary:
        colour = "green" if payload.get("ok") else "red"
        items.append(Text.from_markup(f"[{colour}]validation:[/] ").append(summary))
    return Panel(Group(*items), title=title, title_align="left")


class TerminalReviewer:
    """Asks a person in the terminal: approve, edit, retry (with a hint) or abort.

    Args:
        console: Where the question is shown.
        editor: The editor command (default ``$VISUAL``/``$EDITOR``; ``""``: none, the edit
            is typed in the terminal).
        ask: The prompt function (``rich.prompt.Prompt.ask``-like), replaceable in tests.
        read_line: Reads one typed line, as typed (default ``console.input``); raises
            ``EOFError`` at Ctrl-D.
        dry_run: The run writes nothing (the integration question says so).
    """

    def __init__(
        self,
        console: Console,
        *,
        editor: str | None = None,
        ask: Callable[..., str] | None = None,
        read_line: Callable[[], str] | None = None,
        dry_run: bool = False,
    ) -> None:
        self.console = console
        self.dry_run = dry_run
        self.editor = (
            editor if editor is not None else os.environ.get("VISUAL") or os.environ.get("EDITOR")
        )
        self.ask = ask or Prompt.ask
        self.read_line = read_line or (lambda: console.input(""))

    def __call__(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        self.console.print(review_panel(payload, dry_run=self.dry_run))
        if payload.get("error"):
            self.console.print(f"[red]{payload['error']}[/]")
        if not payload.get("ok"):
            for item in list(payload.get("evidence") or ())[:3]:
                self.console.print(Panel(str(item), title="evidence", border_style="red"))
        while True:
            action = self.ask(
                "approve / edit / retry / abort",
                choices=["approve", "edit", "retry", "abort", "a", "e", "r", "q"],
                default="approve" if payload.get("ok") else "retry",
            )
            action = {"a": "approve", "e": "edit", "r": "retry", "q": "abort"}.get(action, action)
            if action == "edit":
                code = self.edit(payload)
                if code is None:
                    self.console.print("[yellow]nothing was typed: the edit is cancelled[/]")
                    continue
                return {"action": "edit", "code": code}
            if action == "retry":
                return {
                    "action": "retry",
                    "hint": self.ask("hint for the next attempt", default=""),
                }
            return {"action": action}

    def edit(self, payload: Mapping[str, Any]) -> str | None:
        """The replacement: from the editor, or typed; ``None`` when nothing was given."""
        integration = payload.get("stage") == "integration"
        # at integration the edit is the whole program: the function and its imports
        start = str(payload.get("program") if integration else payload.get("code")) or ""
        if self.editor:
            return self._from_editor(start)
        what = (
            "the whole function (with the imports it needs)"
            if integration
            else f"the code of {stage_label(str(payload.get('stage')), int(payload.get('part', 0)))}"
        )
        ends = " or ".join(f"`{m}`" for m in END_MARKERS)
        self.console.print(
            f"Type or paste {what}. Lines are kept as typed: indent body lines as in the "
            f"function, blank lines too. End with a line holding only {ends}, or Ctrl-D."
        )
        return self._typed()

    def _from_editor(self, start: str) -> str | None:
        assert self.editor
        with tempfile.TemporaryDirectory(prefix="beadline-edit-") as tmp:
            path = Path(tmp) / "stage.py"
            path.write_text(start.rstrip("\n") + "\n", encoding="utf-8")
            subprocess.run([*shlex.split(self.editor), str(path)], check=False)
            text = path.read_text(encoding="utf-8")
        return text if text.strip() else None

    def _typed(self) -> str | None:
        lines: list[str] = []
        while True:
            try:
                entry = self.read_line()
            except EOFError:
                break
            # a line editor with bracketed paste hands a pasted block over in one piece
            chunk = entry.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            ends = [i for i, line in enumerate(chunk) if line.strip() in END_MARKERS]
            if ends:
                lines.extend(chunk[: ends[0]])
                break
            lines.extend(chunk)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines) if any(line.strip() for line in lines) else None
