"""The ``beadline`` command line: a thin click group whose subcommands load lazily.

Each subcommand lives in its own module of :mod:`beadline.workflows.cli`, imported only when it runs,
so ``beadline --help`` stays fast and a broken optional backend cannot break unrelated commands.
Library errors (:class:`~beadline.validators.errors.BeadlineError`) become a clear one-line
message and exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from beadline.validators.errors import BeadlineError

__all__ = ["cli", "main"]

_COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:attribute, one-line help shown by `beadline --help`)
    "doctor": (
        "beadline.workflows.cli.doctor:doctor",
        "Report what this machine offers beadline.",
    ),
    "generate": (
        "beadline.workflows.cli.generate:generate",
        "Continue a prompt, optionally with guidance.",
    ),
    "sandbox": (
        "beadline.workflows.cli.sandbox:sandbox",
        "Build the sandbox image, start a Docker engine.",
    ),
    "solve": ("beadline.workflows.cli.solve:solve", "Solve one task with the EG-CFG decoder."),
    "show": ("beadline.workflows.cli.show:show", "Render a decoding record readably."),
    "bench": (
        "beadline.workflows.cli.bench:bench",
        "Run and report benchmarks (MBPP, HumanEval).",
    ),
    "bead": (
        "beadline.workflows.cli.bead:bead",
        "Build a bead stage by stage (K&V workflow).",
    ),
    "mcp": (
        "beadline.workflows.cli.mcp:mcp",
        "Serve the bead workflow to agents over MCP.",
    ),
}


def _version() -> str:
    try:
        return version("beadline")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class _LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(n for n in _COMMANDS if self._available(n))})

    @staticmethod
    def _available(name: str) -> bool:
        module = _COMMANDS[name][0].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _COMMANDS or not self._available(cmd_name):
            return found
        target, _help = _COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):  # pragma: no cover - programming error
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx) if name in _COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BeadlineError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "-V", "--version", prog_name="beadline")
def cli() -> None:
    """beadline: execution-guided, line-by-line code generation in a K&V bead workflow."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="beadline")
