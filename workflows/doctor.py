"""What this machine offers beadline, as a list of checks (``beadline doctor`` prints them)."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from beadline.agents.models.registry import DEFAULT_MODEL, PACKAGED_MODELS
from beadline.validators.sandbox.probe import probe_docker

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One line of the doctor's report."""

    name: str
    """What was checked."""
    level: Literal["ok", "warn", "fail"]
    """``fail`` only for what the default job (packaged model, local sandbox) cannot do without."""
    detail: str
    """What was found."""
    fix: str = ""
    """What to do about it."""


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _local_sandbox_checks() -> list[Check]:
    """Start one real sandbox worker and report which protections it has (about 0.3 s)."""
    from beadline.validators.errors import SandboxError
    from beadline.validators.sandbox.local import LocalExecutor

    try:
        executor = LocalExecutor(workers=1)
        try:
            lines = executor.hardening.checks()
        finally:
            executor.close()
    except (SandboxError, OSError) as exc:
        return [
            Check(
                name="local sandbox",
                level="fail",
                detail=f"the sandbox worker did not start: {exc}",
                fix="run `beadline doctor` again; if it persists, report the message above",
            )
        ]
    return [
        Check(name=name, level="ok" if active else "warn", detail=detail, fix=fix)
        for name, active, detail, fix in lines
    ]


def _docker_sandbox_checks() -> list[Check]:
    """Start one sandbox container and report what its worker says it has (about 1-2 s)."""
    from beadline.validators.errors import SandboxError
    from beadline.validators.sandbox.docker import DockerExecutor

    try:
        executor = DockerExecutor(workers=1)
        try:
            hardening = executor.hardening
        finally:
            executor.close()
        lines = hardening.checks()
        summary = hardening.summary()
    except (SandboxError, OSError) as exc:
        return [
            Check(
                name="docker sandbox",
                level="warn",
                detail=f"a sandbox container did not start: {exc}",
                fix="`beadline sandbox status`; rebuild with `beadline sandbox build-image --force`",
            )
        ]
    checks = [Check(name="docker sandbox", level="ok", detail=summary)]
    checks += [
        Check(name=name, level="ok" if active else "warn", detail=detail, fix=fix)
        for name, active, detail, fix in lines
    ]
    return checks


def run_checks(*, docker_timeout: float = 3.0) -> list[Check]:
    """Run every check. Never raises; a missing piece is a ``warn`` or ``fail`` line."""
    checks: list[Check] = []
    py_ok = sys.version_info >= (3, 11)
    checks.append(
        Check(
            name="python",
            level="ok" if py_ok else "fail",
            detail=f"Python {platform.python_version()} ({sys.executable})",
            fix="" if py_ok else "install Python 3.11 or newer",
        )
    )
    llama = _dist_version("llama-cpp-python")
    checks.append(
        Check(
            name="llama-cpp-python",
            level="ok" if llama else "fail",
            detail=f"version {llama}" if llama else "not installed",
            fix="" if llama else "run `make setup` (builds it from source, about 7 minutes)",
        )
    )
    for model in PACKAGED_MODELS.values():
        path = model.path() if model.locate is None else None
        if model.locate is not None:
            # Locating Gemma may join a 253 MB file: only report whether its package is there.
            from importlib.util import find_spec

            installed = find_spec(model.module) is not None
            level: Literal["ok", "warn", "fail"] = "ok" if installed else "warn"
            detail = f"{model.description}: " + ("installed" if installed else "not installed")
            checks.append(
                Check(
                    name=f"model {model.name}",
                    level=level,
                    detail=detail,
                    fix="" if installed else model.install,
                )
            )
            continue
        default = model.name == DEFAULT_MODEL
        if path is not None:
            checks.append(
                Check(name=f"model {model.name}", level="ok", detail=f"{model.description}: {path}")
            )
        else:
            checks.append(
                Check(
                    name=f"model {model.name}",
                    level="fail" if default else "warn",
                    detail=f"{model.description}: not installed",
                    fix=model.install,
                )
            )
    checks.extend(_local_sandbox_checks())
    engine, image = probe_docker(timeout=docker_timeout)
    checks.append(
        Check(
            name="docker engine",
            level="ok" if engine.ok else "warn",
            detail=engine.detail,
            fix=engine.fix,
        )
    )
    checks.append(
        Check(
            name="docker sandbox image",
            level="ok" if image.ok else "warn",
            detail=image.detail,
            fix=image.fix,
        )
    )
    if engine.ok and image.ok:
        checks.extend(_docker_sandbox_checks())
    return checks
