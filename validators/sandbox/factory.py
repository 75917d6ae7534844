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


def _docker_ready(options: dict[str, Any]) -> bool:
    from beadline.validators.sandbox.probe import DEFAULT_IMAGE, probe_docker

    engine, image = probe_docker(str(options.get("image", DEFAULT_IMAGE)))
    return engine.ok and image.ok


def make_executor(kind: ExecutorKind | str = "auto", **options: Any) -> Executor:
    """Build an executor of the given kind.

    Args:
        kind: ``local``, ``docker`` or ``auto`` (docker when usable, else local).
        **options: Passed to the backend's constructor (e.g. ``workers=2``). With ``auto``,
            options only one backend knows are dropped for the other (``image`` for docker;
            ``drop_uid``, ``cgroup``, ``isolate_network``... for local).

    Returns:
        The executor; its ``name`` says which backend it is.

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
        return _docker_class()(**options)
    if kind == "auto":
        try:
            docker_cls = _docker_class()
        except SandboxUnavailableError:
            docker_cls = None
        if docker_cls is not None and _docker_ready(options):
            return docker_cls(**_only(options, docker=True))
        return _local(**_only(options, docker=False))
    return _local(**options)


_LOCAL_ONLY = {"drop_uid", "cgroup", "isolate_network", "pids_max", "python", "tmp_dir"}
_DOCKER_ONLY = {"image", "client", "recycle_after", "memory_mb", "pids_limit"}


def _only(options: dict[str, Any], *, docker: bool) -> dict[str, Any]:
    drop = _LOCAL_ONLY if docker else _DOCKER_ONLY
    return {k: v for k, v in options.items() if k not in drop}


def _local(**options: Any) -> Executor:
    from beadline.validators.sandbox.local import LocalExecutor

    try:
        return LocalExecutor(**options)
    except TypeError as exc:
        raise UserError(f"bad option for the local sandbox: {exc}") from exc
