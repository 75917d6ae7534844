"""Start a Docker engine (``dockerd``) by hand on machines without a service manager.

On a machine with systemd, ``systemctl start docker`` is the ordinary way. Containers and CI
machines often have no service manager: :func:`start_engine` then starts ``dockerd`` as a
detached background process with its own pid file, log file, data root and exec root, listening
on the default socket (``/var/run/docker.sock``) so that ``docker.from_env()`` and the ``docker``
command find it without any environment variable. It is idempotent: when an engine already
answers, it returns at once and starts nothing.

Example:
    >>> status = start_engine()          # doctest: +SKIP
    >>> status.running, status.started   # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from beadline.validators.errors import SandboxUnavailableError

__all__ = [
    "DEFAULT_SOCKET",
    "EngineConfig",
    "EngineStatus",
    "engine_status",
    "engine_version",
    "start_engine",
    "stop_engine",
]

DEFAULT_SOCKET = "/var/run/docker.sock"
"""The socket path every Docker client looks at first."""


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Where a hand-started ``dockerd`` keeps its files."""

    data_root: Path = Path("/var/lib/beadline/docker")
    """Images, containers and volumes (``--data-root``)."""
    exec_root: Path = Path("/var/run/beadline-docker")
    """Runtime state (``--exec-root``)."""
    pidfile: Path = Path("/var/run/beadline-dockerd.pid")
    """The daemon's pid file (``--pidfile``)."""
    log_file: Path = Path("/var/log/beadline-dockerd.log")
    """The daemon's stdout and stderr."""
    socket: str = DEFAULT_SOCKET
    """The Unix socket it listens on (``-H unix://SOCKET``)."""
    extra_args: tuple[str, ...] = field(default_factory=tuple)
    """More ``dockerd`` flags, passed unchanged."""

    @property
    def base_url(self) -> str:
        """The Docker SDK's URL of the socket."""
        return f"unix://{self.socket}"

    def command(self, dockerd: str) -> list[str]:
        """The ``dockerd`` command line for this configuration."""
        return [
            dockerd,
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "--pidfile",
            str(self.pidfile),
            "-H",
            self.base_url,
            *self.extra_args,
        ]


@dataclass(frozen=True, kw_only=True)
class EngineStatus:
    """What :func:`engine_status` or :func:`start_engine` found."""

    running: bool
    """Whether an engine answers on the socket."""
    version: str = ""
    """The engine's version, when it answers."""
    started: bool = False
    """True when this call started the daemon (False when one already answered)."""
    pid: int | None = None
    """The hand-started daemon's pid, when its pid file names a live process."""
    socket: str = DEFAULT_SOCKET
    """The socket that was checked."""
    log_file: Path | None = None
    """The hand-started daemon's log file."""
    detail: str = ""
    """One line on what was found."""


def engine_version(base_url: str | None = None, *, timeout: float = 3.0) -> str | None:
    """The version of the engine answering at ``base_url`` (default: the environment's), or None."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency
        return None
    try:
        client = (
            docker.DockerClient(base_url=base_url, timeout=int(max(1, timeout)))
            if base_url
            else docker.from_env(timeout=int(max(1, timeout)))
        )
    except (DockerException, OSError):
        return None
    try:
        client.ping()
        return str(client.version().get("Version", "?"))
    except (DockerException, OSError):
        return None
    finally:
        client.close()


def _pid_from_file(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def engine_status(config: EngineConfig | None = None, *, timeout: float = 3.0) -> EngineStatus:
    """Whether an engine answers on ``config.socket``, and the hand-started daemon's pid if any."""
    config = config or EngineConfig()
    version = engine_version(config.base_url, timeout=timeout)
    pid = _pid_from_file(config.pidfile)
    if version is not None:
        who = f"dockerd pid {pid}, started by beadline" if pid else "not started by beadline"
        detail = f"Docker engine {version} answers on {config.socket} ({who})"
    elif pid is not None:
        detail = f"dockerd pid {pid} is running but does not answer on {config.socket} yet"
    else:
        detail = f"no Docker engine answers on {config.socket}"
    return EngineStatus(
        running=version is not None,
        version=version or "",
        pid=pid,
        socket=config.socket,
        log_file=config.log_file,
        detail=detail,
    )


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def _find_dockerd() -> str:
    found = shutil.which("dockerd")
    if found is None:
        for candidate in ("/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/local/bin/dockerd"):
            if os.access(candidate, os.X_OK):
                return candidate
        raise SandboxUnavailableError(
            "no `dockerd` binary found on PATH: install the engine with "
            "`apt-get install -y docker.io iptables` (Debian/Ubuntu), then run "
            "`beadline sandbox start-engine` again"
        )
    return found


def start_engine(config: EngineConfig | None = None, *, timeout_s: float = 60.0) -> EngineStatus:
    """Start ``dockerd`` in the background unless an engine already answers; wait until it does.

    The daemon is detached (its own session), so it outlives this process; stop it with
    :func:`stop_engine` or ``kill $(cat PIDFILE)``.

    Args:
        config: Where the daemon keeps its files (default: :class:`EngineConfig`).
        timeout_s: How long to wait for the engine to answer.

    Returns:
        The engine's status; ``started`` says whether this call started it.

    Raises:
        SandboxUnavailableError: no ``dockerd`` binary, not root, or the daemon died or did not
            answer in time (the message carries the end of its log).
    """
    config = config or EngineConfig()
    status = engine_status(config, timeout=2.0)
    if status.running:
        return status
    if status.pid is None:
        dockerd = _find_dockerd()
        if os.geteuid() != 0:
            raise SandboxUnavailableError(
                "starting dockerd needs root: run `sudo beadline sandbox start-engine`, or ask "
                "an administrator to start the Docker service"
            )
        for folder in (config.data_root, config.exec_root, config.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        with config.log_file.open("ab") as log:
            process = subprocess.Popen(
                config.command(dockerd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        pid: int | None = process.pid
    else:
        process, pid = None, status.pid  # a daemon of ours is still starting: wait for it
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        version = engine_version(config.base_url, timeout=2.0)
        if version is not None:
            return EngineStatus(
                running=True,
                version=version,
                started=process is not None,
                pid=pid,
                socket=config.socket,
                log_file=config.log_file,
                detail=f"Docker engine {version} answers on {config.socket} (dockerd pid {pid})",
            )
        if process is not None and process.poll() is not None:
            raise SandboxUnavailableError(
                f"dockerd exited with code {process.returncode} before answering; "
                f"the end of {config.log_file}:\n{_log_tail(config.log_file)}\n"
                "If it mentions iptables, `apt-get install -y iptables`; if another dockerd "
                "holds the pid file or socket, stop it first."
            )
        time.sleep(0.25)
    raise SandboxUnavailableError(
        f"dockerd (pid {pid}) did not answer on {config.socket} within {timeout_s:.0f} s; "
        f"the end of {config.log_file}:\n{_log_tail(config.log_file)}"
    )


def stop_engine(config: EngineConfig | None = None, *, timeout_s: float = 20.0) -> bool:
    """Stop the daemon that :func:`start_engine` started (by its pid file). Idempotent.

    Returns:
        True when a daemon was running and has stopped; False when there was none.
    """
    config = config or EngineConfig()
    pid = _pid_from_file(config.pidfile)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _pid_from_file(config.pidfile) != pid:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return True
