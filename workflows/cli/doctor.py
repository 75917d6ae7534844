"""``beadline doctor``: print what this machine offers and what to do about what is missing."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from beadline.workflows.doctor import run_checks

_MARK = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


@click.command()
@click.option(
    "--docker-timeout",
    type=click.FloatRange(min=0.1),
    default=3.0,
    show_default=True,
    help="Seconds to wait for a Docker engine to answer.",
)
def doctor(docker_timeout: float) -> None:
    """Report Python, llama-cpp-python, packaged models, Docker and sandbox isolation.

    Exits 1 only when the default job (the packaged model on the local sandbox) cannot run.
    """
    checks = run_checks(docker_timeout=docker_timeout)
    table = Table(title="beadline doctor", show_lines=False)
    table.add_column("check")
    table.add_column("")
    table.add_column("found")
    table.add_column("to fix")
    for c in checks:
        table.add_row(escape(c.name), _MARK[c.level], escape(c.detail), escape(c.fix))
    Console(width=160).print(table)
    failed = [c.name for c in checks if c.level == "fail"]
    if failed:
        raise click.ClickException("the default job cannot run: fix " + ", ".join(failed))
