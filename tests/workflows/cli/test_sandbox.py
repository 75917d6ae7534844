"""``beadline sandbox``: status, start-engine and build-image through the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from beadline.validators.errors import SandboxUnavailableError
from beadline.validators.sandbox.probe import DEFAULT_IMAGE, Probe
from beadline.workflows.cli import cli
from beadline.workflows.cli import sandbox as sandbox_command


def test_help_lists_the_three_subcommands() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    for name in ("build-image", "start-engine", "status"):
        assert name in result.output


def test_status_without_engine_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    down = Probe(ok=False, detail="no Docker engine answers", fix="start one: `beadline ...`")
    monkeypatch.setattr(sandbox_command, "probe_docker", lambda image, timeout: (down, down))
    result = CliRunner().invoke(cli, ["sandbox", "status", "--timeout", "0.5"])
    assert result.exit_code == 1
    assert "local (docker not usable)" in result.output
    assert "Error: the docker sandbox is not usable; see the table" in result.output


def test_start_engine_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(config: object, timeout_s: float) -> None:
        raise SandboxUnavailableError("no `dockerd` binary found on PATH: install docker.io")

    monkeypatch.setattr(sandbox_command, "start_engine", refuse)
    result = CliRunner().invoke(cli, ["sandbox", "start-engine"])
    assert result.exit_code == 1
    assert result.output == "Error: no `dockerd` binary found on PATH: install docker.io\n"


@pytest.mark.docker
def test_status_start_engine_and_build_image_on_a_ready_machine() -> None:
    runner = CliRunner()
    status = runner.invoke(cli, ["sandbox", "status"], catch_exceptions=False)
    assert status.exit_code == 0, status.output
    assert "docker (engine and image ready)" in status.output
    started = runner.invoke(cli, ["sandbox", "start-engine"], catch_exceptions=False)
    assert started.exit_code == 0
    assert started.output.startswith("ok Docker engine ")
    built = runner.invoke(cli, ["sandbox", "build-image", "--quiet"], catch_exceptions=False)
    assert built.exit_code == 0
    assert built.output.startswith(f"exists {DEFAULT_IMAGE} (sha256:")
    assert "pytest 7" in built.output or "pytest 8" in built.output
