"""``beadline mcp``: serve the bead workflow and the solver to agents over MCP.

Stdio by default (what a coding agent's ``mcpServers`` entry starts); ``--http`` serves
streamable HTTP on 127.0.0.1 only (the tools run code and write files: never expose them).
The model, backend and sandbox given here are what every call uses (a call may name another
model of the same backend). Nothing but the protocol goes to stdout.
"""

from __future__ import annotations

from pathlib import Path

import click

from beadline.workflows.cli._options import choice_from, model_options
from beadline.workflows.errors import UserError

__all__ = ["mcp"]

HOST = "127.0.0.1"
"""The only address ``--http`` binds."""


@click.command("mcp")
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The repository calls mean when they name none [default: the current directory].",
)
@model_options(scripted=True)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "local", "docker"]),
    default="auto",
    show_default=True,
    help="Where code runs.",
)
@click.option(
    "--decode-seconds",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Time budget of one stage attempt [default: the bead command's].",
)
@click.option("--http", "http", is_flag=True, help=f"Serve streamable HTTP on {HOST}.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="The HTTP port (with --http); the endpoint is http://127.0.0.1:PORT/mcp.",
)
def mcp(
    repo: Path | None,
    model: str | None,
    backend: str,
    base_url: str | None,
    api_key_env: str | None,
    sandbox: str,
    decode_seconds: float | None,
    http: bool,
    port: int,
) -> None:
    """Serve beadline's tools over MCP: implement_bead, resume_bead, bead_status,
    list_ready_beads, solve_task."""
    try:
        from beadline.workflows.agent_api.mcp_server import build_server
        from beadline.workflows.agent_api.operations import AgentDefaults
    except ImportError as exc:
        raise UserError(
            f"beadline mcp needs the MCP SDK ({exc.name} is missing): "
            "pip install 'beadline[agents]'"
        ) from None
    from beadline.workflows.cli.bead import thread_index

    choice = choice_from(model, backend, base_url, api_key_env)
    where = (repo or Path.cwd()).resolve()
    if not where.is_dir():
        raise UserError(f"--repo {str(repo)!r} is not a directory; pass an existing repository")
    defaults = AgentDefaults(
        repo=where,
        model=choice,
        sandbox=sandbox,
        decode_seconds=decode_seconds,
        index=thread_index(),
    )
    server = build_server(defaults)
    if http:
        click.echo(f"beadline mcp: http://{HOST}:{port}/mcp (repo {where})", err=True)
        server.run("streamable-http", host=HOST, port=port)
    else:
        server.run()
