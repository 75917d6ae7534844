"""Choose and build an executor: ``local``, ``docker`` or ``auto``.

``auto`` picks docker when an engine answers and the sandbox image exists, else local; the
returned executor's ``name`` says which was chosen.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from beadline.validators.errors import SandboxUnavailableError, UserError
from beadline.validators.executor import Executor

__all__ = ["ExecutorKind", "make_executor"]

ExecutorKind = Literal["local", "docker", "auto"]
"""The backends :func:`make_executor` knows."""

_KINDS = ("local", "docker", "auto")


def _docker_class() -> type[Executor]:
    try:
        module = importlib.import_module("beadline.validators.sandbox.docker")
        cls: type[Executor] = module.DockerExecutor
    except (ImportError, AttributeError) as exc:
        raise SandboxUnavailableError(
            f"the docker sandbox backend is not available in this installation ({exc}); "
            "use kind='local' (--sandbox local), or update beadline"
        ) from exc
    return cls


def _docker_ready(options: dict[str, Any]) -> tuple[bool, str]:
    """Whether an engine answers and the image exists, and the one-line reason."""
    from beadline.validators.sandbox.probe import DEFAULT_IMAGE, probe_docker

    engine, image = probe_docker(str(options.get("image", DEFAULT_IMAGE)))
    if engine.ok and image.ok:
        return True, f"{engine.detail} and {image.detail}"
    missing = engine if not engine.ok else image
    return False, f"{missing.detail} ({missing.fix})" if missing.fix else missing.detail


def _docker(reason: str, **options: Any) -> Executor:
    executor = _docker_class()
    try:
        built = executor(**options)
    except TypeError as exc:
        raise UserError(f"bad option for the docker sandbox: {exc}") from exc
    built.reason = reason
    return built


def make_executor(kind: ExecutorKind | str = "auto", **options: Any) -> Executor:
    """Build an executor of the given kind.

    Args:
        kind: ``local``, ``docker`` or ``auto`` (docker when usable, else local).
        **options: Passed to the backend's constructor (e.g. ``workers=2``). With ``auto``,
            options only one backend knows are dropped for the other (``image`` for docker;
            ``drop_uid``, ``cgroup``, ``isolate_network``... for local).

    Returns:
        The executor; its ``name`` says which backend it is and its ``reason`` why, in one
        line (e.g. ``local: docker is not usable: no Docker engine answers (...)``).

    Raises:
        UserError: unknown ``kind``.
        SandboxUnavailableError: ``docker`` was asked for and cannot run here.

    Example:
        >>> with make_executor("local", workers=1) as ex:  # doctest: +SKIP
        ...     print(ex.name)
        local
    """
    if kind not in _KINDS:
        raise UserError(f"unknown sandbox kind {kind!r}: use one of {', '.join(_KINDS)}")
    if kind == "docker":
        if options.get("site_packages"):
            raise UserError(
                "site_packages is an option of the local sandbox; for docker, build an image "
                "with the repository's requirements (see the README, 'Running in your "
                "repository') and pass it as image=..."
            )
        return _docker("docker: asked for", **options)
    if kind == "local":
        return _local("local: asked for", **options)
    if options.get("site_packages"):
        return _local("local: site_packages given (docker takes an image instead)", **options)
    try:
        _docker_class()
        ready, why = _docker_ready(options)
    except SandboxUnavailableError as exc:
        ready, why = False, str(exc)
    if ready:
        try:
            return _docker(f"docker: {why}", **_only(options, docker=True))
        except SandboxUnavailableError as exc:  # e.g. the engine went away meanwhile
            why = str(exc).splitlines()[0]
    return _local(f"local: docker is not usable: {why}", **_only(options, docker=False))


_LOCAL_ONLY = {
    "drop_uid",
    "pid_namespace",
    "cgroup",
    "isolate_network",
    "pids_max",
    "python",
    "tmp_dir",
    "site_packages",
}
_DOCKER_ONLY = {
    "image",
    "client",
    "recycle_after",
    "memory_mb",
    "pids_limit",
    "cpus",
    "tmpfs_mb",
    "command_memory_mb",
    "prestart",
}


def _only(options: dict[str, Any], *, docker: bool) -> dict[str, Any]:
    drop = _LOCAL_ONLY if docker else _DOCKER_ONLY
    return {k: v for k, v in options.items() if k not in drop}


def _local(reason: str, **options: Any) -> Executor:
    from beadline.validators.sandbox.local import LocalExecutor

    try:
        built = LocalExecutor(**options)
    except TypeError as exc:
        raise UserError(f"bad option for the local sandbox: {exc}") from exc
    built.reason = reason
    return built
