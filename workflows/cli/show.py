"""``beadline show RECORD``: render a decoding record so a person sees why each line was written.

For the guided decoder each line is shown with the candidates sampled before it, what their
partial programs did on each test, and the tokens where guidance changed the model's choice
(plain → guided probability). For the beam, each line's scored candidates with the parts of
their score. ``--signal`` adds the dynamic-signal text, ``--tokens`` every token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from beadline.agents.record import BeamStepRecord, DecodeRecord, LineRecord
from beadline.workflows.errors import UserError

__all__ = ["load_record", "render_record", "show"]

_MARK = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "error": "[red]E[/]"}


def load_record(path: Path) -> DecodeRecord:
    """Read a record file (a record, or a result line holding one under ``record``).

    Raises:
        UserError: the file is missing or holds no record.
    """
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"record file {str(path)!r} does not exist: check the path") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a JSON record ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("record"), dict):
        data = data["record"]
    try:
        return DecodeRecord.from_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(
            f"{path}: not a decoding record ({where}: {first['msg']}); "
            "write one with `beadline solve --record FILE`"
        ) from None


def _header(record: DecodeRecord) -> Panel:
    s = record.settings
    cost = record.cost
    lines = [
        f"[bold]{record.task_id}[/] · function [bold]{record.entry_point}[/] · model {record.model}",
        f"strategy {s.get('strategy')} · prompt {record.prompt_type} · s={s.get('s')} "
        f"t={s.get('t')} d={s.get('d')} k={s.get('k')} γ={s.get('gamma')}",
        f"status [bold]{record.status}[/] · stopped by {record.stop_reason}"
        + (f" · {record.message}" if record.message else ""),
        f"{cost.get('seconds', 0)} s · {int(cost.get('tokens_evaluated', 0))} tokens evaluated · "
        f"{int(cost.get('tokens_generated', 0))} generated · "
        f"{int(cost.get('programs_executed', 0))} programs executed",
    ]
    return Panel("\n".join(lines), title="decoding record", expand=False)


def _candidates_table(line: LineRecord) -> Table | None:
    step = line.guided
    if step is None:
        return None
    table = Table(show_header=True, header_style="dim", box=None, padding=(0, 1))
    table.add_column("#", justify="right")
    table.add_column("candidate (d lines ahead)")
    table.add_column("tests")
    table.add_column("outcome")
    for i, c in enumerate(step.candidates, start=1):
        marks = " ".join(_MARK.get(t.status, f"[yellow]{t.status}[/]") for t in c.tests)
        flags = []
        if c.program is None:
            flags.append("not executable")
        if c.duplicate:
            flags.append("duplicate")
        elif c.cached:
            flags.append("cached")
        if c.complete:
            flags.append("complete")
        first_fail = next((t.outcome for t in c.tests if t.status != "passed"), "")
        outcome = "; ".join([*flags, first_fail] if first_fail else flags)
        table.add_row(str(i), Text(c.text.rstrip("\n")), marks or "-", Text(outcome))
    return table


def _token_text(line: LineRecord, every: bool) -> Text | None:
    out = Text()
    shown = False
    for tok in line.tokens:
        changed = tok.plain_top is not None and tok.p_guided is not None
        if not (every or changed):
            continue
        shown = True
        plain = "?" if tok.p_plain is None else f"{tok.p_plain:.2f}"
        guided = "" if tok.p_guided is None else f" → {tok.p_guided:.2f}"
        style = "bold magenta" if changed else "dim"
        out.append(f"{tok.text!r} {plain}{guided}", style=style)
        if changed:
            out.append(f" (plain model preferred {tok.plain_top!r})", style="magenta")
        out.append("  ")
    return out if shown else None


def _beam_table(step: BeamStepRecord) -> Table:
    table = Table(title=f"beam line {step.index}", header_style="dim", title_justify="left")
    for column in ("from", "line", "log P", "syn", "run", "pass", "trace", "E", "score", ""):
        table.add_column(column)
    for c in step.candidates:
        run = f"{c.runtime_ok:.2f}" if c.static_ok is None else f"static {c.static_ok:.0f}"
        table.add_row(
            str(c.parent),
            Text(c.line.rstrip("\n")),
            f"{c.logp:.2f}",
            f"{c.syntax_ok:.0f}",
            run,
            f"{c.tests_passed:.2f}",
            f"{c.trace_quality:.2f}",
            f"{c.e:.2f}",
            f"{c.score:.2f}",
            ("[green]kept[/]" if c.kept else "") + (" end" if c.finished else ""),
        )
    return table


def render_record(
    console: Console, record: DecodeRecord, *, signal: bool = False, tokens: bool = False
) -> None:
    """Print ``record`` readably (see the module docstring)."""
    console.print(_header(record))
    if record.program:
        console.print(Syntax(record.program.rstrip("\n"), "python", line_numbers=True))
    if record.program_prefix:
        console.print(Text("given: ", style="dim") + Text(record.program_prefix.rstrip("\n")))
    for line in record.lines:
        parts: list[Any] = []
        table = _candidates_table(line)
        if table is not None and line.guided is not None:
            note = f" · {line.guided.note}" if line.guided.note else ""
            agree = f" · agreements {line.guided.agreements}" if line.guided.agreements else ""
            parts.append(Text(f"guided: {len(line.guided.candidates)} candidates{agree}{note}"))
            parts.append(table)
            if signal and line.guided.signal:
                parts.append(Panel(Text(line.guided.signal), title="signal", style="dim"))
        toks = _token_text(line, tokens)
        if toks is not None:
            parts.append(toks)
        title = Text(f"{line.index:>3} │ ", style="dim") + Text(line.text, style="bold")
        if parts:
            console.print(Panel(Group(*parts), title=title, title_align="left", expand=True))
        else:
            console.print(title)
    for step in record.beam:
        console.print(_beam_table(step))


@click.command()
@click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--signal", is_flag=True, help="Also print the dynamic-signal text of each step.")
@click.option(
    "--tokens",
    is_flag=True,
    help="Print every token's probabilities, not only the ones guidance changed.",
)
@click.option("--width", type=click.IntRange(60, 400), help="Console width.")
def show(record: Path, signal: bool, tokens: bool, width: int | None) -> None:
    """Render a decoding RECORD (from `beadline solve --record`) line by line."""
    console = Console(width=width)
    render_record(console, load_record(record), signal=signal, tokens=tokens)
