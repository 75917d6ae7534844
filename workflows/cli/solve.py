"""``beadline solve``: solve one task with the EG-CFG decoder and show the verdict per test.

The task comes from a YAML/JSON file (see :mod:`beadline.workflows.bench.tasks`) or from flags. Exit
status: 0 when the program passes the visible tests, 2 when it does not, 1 on an error.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from beadline.agents.models.base import Model
from beadline.agents.models.choice import ModelChoice
from beadline.agents.search import METHODS, default_grid
from beadline.agents.search import solve as solve_task
from beadline.agents.settings import DecoderSettings, merge_settings
from beadline.agents.task import SolveResult, Task
from beadline.validators.executor import Executor, RunResult
from beadline.workflows.bench.tasks import load_task_file, make_task
from beadline.workflows.cli._options import choice_from, grid_rounds_option, model_options
from beadline.workflows.errors import UserError

__all__ = ["open_executor", "open_model", "render_result", "solve", "summary_line"]

_STATUS = {
    "passed": "[green]passed[/]",
    "failed": "[red]failed[/]",
    "error": "[red]error[/]",
    "timeout": "[yellow]timeout[/]",
    "killed": "[yellow]killed[/]",
}


def summary_line(result: SolveResult) -> str:
    """One line: status, tests passed, configuration, cost."""
    parts = [result.status.upper()]
    if result.visible is not None:
        parts.append(f"visible {result.visible.n_passed}/{len(result.visible.results)}")
    if result.held_out is not None:
        parts.append(f"held-out {result.held_out.n_passed}/{len(result.held_out.results)}")
    if result.config.get("label"):
        parts.append(f"by {result.method} [{result.config['label']}]")
    c = result.cost
    parts.append(
        f"{c.seconds:.1f} s, {c.tokens_evaluated} tokens evaluated, "
        f"{c.tokens_generated} generated, {c.programs_executed} programs executed"
    )
    line = " · ".join(parts)
    return f"{line} — {result.message}" if result.message else line


def _verdict_rows(table: Table, label: str, run: RunResult | None) -> None:
    if run is None:
        return
    for r in run.results:
        detail = ""
        if not r.passed:
            detail = r.message or (
                f"expected {r.expected_repr}, got {r.return_repr}" if r.expected_repr else ""
            )
        table.add_row(
            label, Text(r.test.name or r.test.source), _STATUS.get(r.status, r.status), Text(detail)
        )


def render_result(console: Console, result: SolveResult) -> None:
    """Print the program, a verdict table and the summary line."""
    if result.program:
        console.print(
            Syntax(result.program.rstrip("\n"), "python", line_numbers=True, word_wrap=True)
        )
    else:
        console.print("[red](no program)[/]")
    table = Table(show_header=True, header_style="bold")
    for column in ("tests", "test", "verdict", "detail"):
        table.add_column(column)
    _verdict_rows(table, "visible", result.visible)
    _verdict_rows(table, "held-out", result.held_out)
    if table.row_count:
        console.print(table)
    colour = "green" if result.status == "solved" else "red"
    console.print(Text(summary_line(result), style=colour), soft_wrap=True)


def open_model(choice: ModelChoice) -> Model:
    """Load the model (:meth:`beadline.agents.models.choice.ModelChoice.load`)."""
    return choice.load()


def open_executor(kind: str) -> Executor:
    """Start the sandbox (:func:`beadline.validators.sandbox.factory.make_executor`)."""
    factory = importlib.import_module("beadline.validators.sandbox.factory")
    executor: Executor = factory.make_executor(kind)
    return executor


def _task(
    task_file: Path | None,
    description: str | None,
    tests: tuple[str, ...],
    signature: str | None,
    entry_point: str | None,
) -> Task:
    if task_file is not None:
        if description or tests:
            raise UserError("give either a TASK_FILE or --description/--test, not both")
        task = load_task_file(task_file)
        if signature or entry_point:
            task = make_task(
                description=task.description,
                tests=[t.source for t in task.tests],
                signature=signature or task.signature,
                entry_point=entry_point or task.entry_point,
                held_out_tests=[t.source for t in task.held_out_tests],
                setup=task.setup,
                task_id=task.task_id,
                prompt=task.prompt,
                where=str(task_file),
            )
        return task
    if not description:
        raise UserError("give a TASK_FILE, or --description and at least one --test")
    return make_task(
        description=description,
        tests=list(tests),
        signature=signature,
        entry_point=entry_point,
        where="command line",
    )


@click.command()
@click.argument("task_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--description", help="What the function must do (instead of a TASK_FILE).")
@click.option("--test", "tests", multiple=True, help="An assert line; repeat for more.")
@click.option("--signature", help="A given def line; the model continues after it.")
@click.option("--entry-point", help="Function name (inferred from the tests when absent).")
@model_options()
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "local", "docker"]),
    default="auto",
    show_default=True,
    help="Where candidates run.",
)
@click.option(
    "--method", type=click.Choice(METHODS), default="egcfg", show_default=True, help="Method."
)
@click.option("-s", "s", type=click.IntRange(1, 16), help="Candidates per guided line.")
@click.option("-t", "t", type=click.FloatRange(0, 2), help="Candidate temperature.")
@click.option("-d", "d", type=click.IntRange(1, 10), help="Lines each candidate looks ahead.")
@click.option("-k", "k", type=click.IntRange(1, 20), help="Guide every k-th line.")
@click.option("--gamma", type=click.FloatRange(0, 10), help="Guidance strength γ.")
@click.option(
    "--prompt-type",
    type=click.Choice(["auto", "fewshot", "chat", "humaneval"]),
    help="Prompt form.",
)
@click.option("--seed", type=int, help="Random seed.")
@click.option("--max-new-tokens", type=click.IntRange(1, 8192), help="Token budget per decode.")
@click.option("--time-budget", type=click.FloatRange(min=1), help="Seconds per task.")
@grid_rounds_option
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the decoding record (JSON) here; view it with `beadline show`.",
)
def solve(
    task_file: Path | None,
    description: str | None,
    tests: tuple[str, ...],
    signature: str | None,
    entry_point: str | None,
    model: str | None,
    backend: str,
    base_url: str | None,
    api_key_env: str | None,
    sandbox: str,
    method: str,
    s: int | None,
    t: float | None,
    d: int | None,
    k: int | None,
    gamma: float | None,
    prompt_type: str | None,
    seed: int | None,
    max_new_tokens: int | None,
    time_budget: float | None,
    grid_rounds: int,
    record_path: Path | None,
) -> None:
    """Solve one task (TASK_FILE, or --description with --test lines) and print the program,
    the verdict per test and a one-line summary.

    Flags -s -t -d -k --gamma set the first configuration; with --method egcfg the rest of the
    grid follows when it does not pass the visible tests.
    """
    choice = choice_from(model, backend, base_url, api_key_env)
    if choice.is_scripted:
        raise click.UsageError("scripted: generators are for `beadline bead`; pass a model")
    task = _task(task_file, description, tests, signature, entry_point)
    overrides: dict[str, Any] = {
        "s": s,
        "t": t,
        "d": d,
        "k": k,
        "gamma": gamma,
        "prompt_type": prompt_type,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "time_budget_s": time_budget,
    }
    settings = merge_settings(DecoderSettings(), overrides)
    grid = None
    if method == "egcfg" and any(overrides[x] is not None for x in ("s", "t", "d", "k", "gamma")):
        grid = [settings, *default_grid(settings)]
    console = Console()
    with console.status(f"loading {choice.describe()} and the {sandbox} sandbox"):
        loaded = open_model(choice)
        executor = open_executor(sandbox)
    try:
        with console.status(f"solving {task.task_id} with {method}"):
            result = solve_task(
                task,
                loaded,
                executor,
                method=method,
                settings=settings,
                grid=grid,
                grid_rounds=grid_rounds,
                time_budget_s=time_budget,
            )
    finally:
        executor.close()
        loaded.close()
    render_result(console, result)
    if record_path is not None and result.record is not None:
        record_path.write_text(json.dumps(result.record, indent=1) + "\n", encoding="utf-8")
        console.print(
            Text(f"record written to {record_path} (view it with `beadline show`)"),
            soft_wrap=True,
        )
    if result.status == "error":
        raise click.ClickException(result.message)
    if result.status != "solved":
        raise SystemExit(2)
