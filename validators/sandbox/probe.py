"""Cheap probes of what this machine's sandboxes can use (for ``beadline doctor`` and ``auto``).

Each probe returns a :class:`Probe` and never raises: a missing feature is a fact to report,
with the fix, not an error.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

__all__ = ["DEFAULT_IMAGE", "Probe", "probe_docker", "probe_network_isolation"]

DEFAULT_IMAGE = "beadline-sandbox:latest"
"""The Docker image the docker backend runs (built by ``beadline sandbox build-image``)."""

_CLONE_NEWNET = 0x40000000


@dataclass(frozen=True, kw_only=True)
class Probe:
    """The outcome of one probe."""

    ok: bool
    """Whether the feature is available."""
    detail: str
    """What was found."""
    fix: str = ""
    """What to do when it is not available (empty when ``ok``)."""


def _unshare_net() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        return ctypes.get_errno()
    return 0


def probe_network_isolation() -> Probe:
    """Check, in a throw-away child process, that ``unshare(CLONE_NEWNET)`` is permitted."""
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        try:
            os._exit(0 if _unshare_net() == 0 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return Probe(ok=True, detail="children get a private network namespace (no network)")
    return Probe(
        ok=False,
        detail="unshare(CLONE_NEWNET) is not permitted: local sandbox children can reach the network",
        fix="run as root or with CAP_SYS_ADMIN, enable unprivileged user namespaces, or use --sandbox docker",
    )


def probe_docker(image: str = DEFAULT_IMAGE, *, timeout: float = 3.0) -> tuple[Probe, Probe]:
    """Check that a Docker engine answers and that the sandbox ``image`` exists.

    Returns:
        ``(engine, image)`` probes.
    """
    try:
        import docker
        from docker.errors import DockerException, ImageNotFound
    except ImportError:  # pragma: no cover - docker is a dependency
        missing = Probe(
            ok=False, detail="the docker Python SDK is not installed", fix="pip install docker"
        )
        return missing, missing
    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        client.ping()
        engine_version = client.version().get("Version", "?")
    except (DockerException, OSError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        engine = Probe(
            ok=False,
            detail=f"no Docker engine answers ({reason})",
            fix="start one: `beadline sandbox start-engine` (no service manager) or `systemctl start docker`",
        )
        return engine, Probe(
            ok=False, detail="not checked: no engine", fix="start the engine first"
        )
    engine = Probe(ok=True, detail=f"Docker engine {engine_version} answers")
    try:
        client.images.get(image)
        found = Probe(ok=True, detail=f"sandbox image {image} exists")
    except ImageNotFound:
        found = Probe(
            ok=False,
            detail=f"sandbox image {image} is missing",
            fix="build it: `beadline sandbox build-image`",
        )
    except (DockerException, OSError) as exc:
        found = Probe(
            ok=False, detail=f"could not list images: {exc}", fix="check the engine's logs"
        )
    finally:
        client.close()
    return engine, found
