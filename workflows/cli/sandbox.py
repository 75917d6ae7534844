"""``beadline sandbox``: start a Docker engine, build the sandbox image, report their state."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from beadline.validators.sandbox.engine import EngineConfig, engine_status, start_engine
from beadline.validators.sandbox.image import build_image
from beadline.validators.sandbox.probe import DEFAULT_IMAGE, probe_docker

__all__ = ["sandbox"]

_IMAGE_OPTION = click.option(
    "--image",
    "image",
    default=DEFAULT_IMAGE,
    show_default=True,
    envvar="BEADLINE_SANDBOX_IMAGE",
    help="The sandbox image's tag.",
)


def _console() -> Console:
    return Console(width=120, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sandbox() -> None:
    """Set up the docker sandbox: start an engine, build the image, show their state."""


@sandbox.command("start-engine")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=EngineConfig.data_root,
    show_default=True,
    help="dockerd's --data-root (images and containers).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=EngineConfig.log_file,
    show_default=True,
    help="Where dockerd's output goes.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the engine to answer.",
)
def start_engine_command(data_root: Path, log_file: Path, timeout_s: float) -> None:
    """Start dockerd in the background (no service manager needed); idempotent.

    Does nothing when an engine already answers on /var/run/docker.sock.
    """
    config = EngineConfig(data_root=data_root, log_file=log_file)
    status = start_engine(config, timeout_s=timeout_s)
    console = _console()
    if status.started:
        console.print(f"[green]started[/] {status.detail}; log: {status.log_file}")
    else:
        console.print(f"[green]ok[/] {status.detail}")


@sandbox.command("build-image")
@_IMAGE_OPTION
@click.option("--force", is_flag=True, help="Rebuild even when the image exists.")
@click.option(
    "--method",
    type=click.Choice(["auto", "dockerfile", "debootstrap"]),
    default="auto",
    show_default=True,
    help="dockerfile needs a registry; debootstrap needs only a Debian mirror; auto picks.",
)
@click.option(
    "--python",
    "python_version",
    default="3.12",
    show_default=True,
    help="The python:X-slim base of the dockerfile method.",
)
@click.option("--mirror", default=None, help="Debian mirror for debootstrap (default: apt's).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result.")
def build_image_command(
    image: str, force: bool, method: str, python_version: str, mirror: str | None, quiet: bool
) -> None:
    """Build the sandbox image (Python 3 + pytest, no beadline code) unless it exists."""
    console = _console()

    def log(line: str) -> None:
        if not quiet:
            console.print(f"[dim]{line}[/]", markup=True, soft_wrap=True)

    report = build_image(
        image,
        method=method,  # type: ignore[arg-type]  # click.Choice restricts it
        force=force,
        python_version=python_version,
        mirror=mirror,
        log=log,
    )
    verb = "built" if report.built else "exists"
    how = f" with {report.method}" if report.built else ""
    console.print(
        f"[green]{verb}[/] {report.tag}{how} ({report.image_id[:19]}, {report.size_mb:.0f} MB, "
        f"Python {report.python_version}, pytest {report.pytest_version}) "
        f"in {report.duration_s:.1f} s"
    )


@sandbox.command("status")
@_IMAGE_OPTION
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=3.0,
    show_default=True,
    help="Seconds to wait for the engine to answer.",
)
def status_command(image: str, timeout_s: float) -> None:
    """Show whether an engine answers, whether the image exists, and what `auto` would pick.

    Exits 1 when the docker sandbox is not usable (the table says how to fix it).
    """
    engine_probe, image_probe = probe_docker(image, timeout=timeout_s)
    engine = engine_status(timeout=timeout_s)
    table = Table(title="beadline sandbox", show_lines=False)
    table.add_column("part")
    table.add_column("")
    table.add_column("found")
    table.add_column("to fix")
    mark = {True: "[green]ok[/]", False: "[red]missing[/]"}
    table.add_row("engine", mark[engine_probe.ok], engine.detail, engine_probe.fix)
    table.add_row("image", mark[image_probe.ok], image_probe.detail, image_probe.fix)
    usable = engine_probe.ok and image_probe.ok
    table.add_row(
        "auto",
        "",
        "docker (engine and image ready)" if usable else "local (docker not usable)",
        "",
    )
    _console().print(table)
    if not usable:
        raise click.ClickException("the docker sandbox is not usable; see the table")
