"""One hardened, long-lived sandbox container and the byte streams to the worker inside it.

The worker (``validators/runtime/worker.py``) is bind-mounted read-only and started as the
container's command; this module attaches to the container's stdin and stdout *before* starting
it (so the worker's ready line cannot be missed) and turns Docker's multiplexed attach stream
into two plain byte streams for the line protocol:

- ``writer``: the attach socket itself (what is written there reaches the worker's stdin
  unframed);
- ``reader``: the read end of a pipe that a small thread fills with the payload of the
  ``stdout`` frames. The worker's ``stderr`` frames are kept in a short tail for error messages.

Containers carry the label :data:`CONTAINER_LABEL` with the owning process's id, so leftovers of
a crashed process can be found and removed (:func:`remove_stale_containers`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from beadline.validators.errors import SandboxError, SandboxUnavailableError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

__all__ = [
    "CONTAINER_LABEL",
    "RUNTIME_MOUNT",
    "ContainerSpec",
    "SandboxContainer",
    "remove_stale_containers",
]

CONTAINER_LABEL = "org.beadline.sandbox.owner"
"""Label on every container the docker backend creates; its value is ``HOST:PID`` of the owner."""

RUNTIME_MOUNT = "/opt/beadline/runtime"
"""Where the worker folder is bind-mounted (read-only) inside the container."""

_FRAME = struct.Struct(">BxxxI")


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """How sandbox containers are made: image, hardening and resource limits."""

    image: str
    """The sandbox image."""
    runtime_dir: Path
    """The host folder holding the worker, mounted read-only at :data:`RUNTIME_MOUNT`."""
    command: tuple[str, ...]
    """The container's command (the worker, started with ``python3 -u``)."""
    memory_mb: int = 1024
    """``--memory`` and ``--memory-swap`` (no swap) of the whole container."""
    pids_limit: int = 64
    """``--pids-limit``: stops fork bombs."""
    cpus: float = 1.0
    """``--cpus``."""
    tmpfs_mb: int = 128
    """Size of the writable ``/tmp`` (the only writable place besides a small ``/dev/shm``)."""
    user: str = "0:0"
    """``--user`` of the worker: root *inside* the container, with only the capabilities in
    :attr:`cap_add`; it drops every child to the uid given in the command's ``--drop-uid``, so
    children hold no capability and another uid than the protocol's holder."""
    cap_add: tuple[str, ...] = ("CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID")
    """The only capabilities left (``--cap-drop ALL`` first): give a run's scratch directory
    to its uid (CHOWN), remove whatever it left there whatever the modes (DAC_OVERRIDE), kill
    it (KILL), drop to its uid (SETGID, SETUID). ``no-new-privileges`` keeps children from
    regaining any."""
    volumes: tuple[tuple[Path, str], ...] = ()
    """More read-only bind mounts: (host path, container path)."""
    environment: tuple[tuple[str, str], ...] = field(
        default=(("PYTHONDONTWRITEBYTECODE", "1"), ("HOME", "/tmp"), ("TMPDIR", "/tmp"))
    )
    """Environment of the worker."""

    def create_kwargs(self) -> dict[str, Any]:
        """The ``containers.create`` keyword arguments: every hardening flag in one place."""
        volumes = {str(self.runtime_dir): {"bind": RUNTIME_MOUNT, "mode": "ro"}}
        for host, inside in self.volumes:
            volumes[str(host)] = {"bind": inside, "mode": "ro"}
        return {
            "command": list(self.command),
            "stdin_open": True,
            "tty": False,
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_mb}m,mode=1777"},
            "shm_size": "8m",
            "mem_limit": f"{self.memory_mb}m",
            "memswap_limit": f"{self.memory_mb}m",
            "pids_limit": self.pids_limit,
            "nano_cpus": int(self.cpus * 1e9),
            "cap_drop": ["ALL"],
            "cap_add": list(self.cap_add),
            "security_opt": ["no-new-privileges"],
            "user": self.user,
            "working_dir": "/tmp",
            "environment": dict(self.environment),
            "volumes": volumes,
            "labels": {CONTAINER_LABEL: _owner()},
            "auto_remove": False,
        }


def remove_stale_containers(client: DockerClient, *, only_dead_owners: bool = True) -> int:
    """Remove sandbox containers left behind by processes that no longer run.

    Args:
        client: The engine's client.
        only_dead_owners: Keep containers whose owner (same host) is still alive; False removes
            every sandbox container (all owners).

    Returns:
        How many containers were removed.
    """
    from docker.errors import DockerException

    host = socket.gethostname()
    removed = 0
    for container in client.containers.list(all=True, filters={"label": CONTAINER_LABEL}):
        owner = str(container.labels.get(CONTAINER_LABEL, ""))
        owner_host, _, pid_text = owner.rpartition(":")
        if only_dead_owners and owner_host == host and pid_text.isdigit():
            pid = int(pid_text)
            if pid == os.getpid():
                continue
            try:
                os.kill(pid, 0)
                continue  # the owner still runs: its containers are in use
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        elif only_dead_owners and owner_host != host:
            continue
        with contextlib.suppress(DockerException):
            container.remove(force=True)
            removed += 1
    return removed


class SandboxContainer:
    """A started container running the worker, with ``reader``/``writer`` streams to it.

    Not thread-safe: one request at a time (the executor's pool hands a container to one caller).
    """

    def __init__(self, client: DockerClient, spec: ContainerSpec) -> None:
        from docker.errors import DockerException, ImageNotFound

        self.spec = spec
        self._client = client
        self._stderr: deque[bytes] = deque(maxlen=32)
        self._closed = False
        try:
            self.container: Container = client.containers.create(spec.image, **spec.create_kwargs())
        except ImageNotFound as exc:
            raise SandboxUnavailableError(
                f"the sandbox image {spec.image} is missing: `beadline sandbox build-image`"
            ) from exc
        except DockerException as exc:
            raise SandboxError(f"could not create a sandbox container: {exc}") from exc
        try:
            attach: Any = client.api.attach_socket(
                str(self.container.id), params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            self._sock: socket.socket = attach._sock
            # A long-lived stream: no client timeout may apply to it (an idle worker would
            # look dead), and writes of large requests must block, not fail with EAGAIN.
            self._sock.settimeout(None)
            self._attach = attach
            read_fd, write_fd = os.pipe()
            self.reader: BinaryIO = os.fdopen(read_fd, "rb", buffering=0)
            """The worker's stdout, demultiplexed."""
            self._pipe_w = write_fd
            self.writer: BinaryIO = self._sock.makefile("wb", buffering=0)
            """The worker's stdin."""
            self._pump = threading.Thread(
                target=self._demux, name=f"beadline-attach-{self.short_id}", daemon=True
            )
            self._pump.start()
            self.container.start()
        except (DockerException, OSError) as exc:
            self.close()
            raise SandboxError(f"could not start a sandbox container: {exc}") from exc

    @property
    def short_id(self) -> str:
        """The container's short id."""
        return str(self.container.id)[:12]

    @property
    def alive(self) -> bool:
        """False once the worker's output ended (the container stopped) or after :meth:`close`."""
        return not self._closed and self._pump.is_alive()

    def stderr_tail(self) -> str:
        """The last lines the worker wrote to its stderr (for error messages)."""
        return b"".join(self._stderr).decode(errors="replace")[-2000:]

    def _demux(self) -> None:
        """Copy stdout frames into the pipe, keep stderr frames; close the pipe at the end."""
        buffer = b""
        try:
            while True:
                while len(buffer) < _FRAME.size:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                stream, size = _FRAME.unpack_from(buffer)
                while len(buffer) < _FRAME.size + size:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                payload = buffer[_FRAME.size : _FRAME.size + size]
                buffer = buffer[_FRAME.size + size :]
                if stream == 2:
                    self._stderr.append(payload)
                elif stream == 1:
                    view = memoryview(payload)
                    while view:
                        view = view[os.write(self._pipe_w, view) :]
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                os.close(self._pipe_w)

    def close(self) -> None:
        """Kill and remove the container and close the streams. Idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        from docker.errors import DockerException

        with contextlib.suppress(DockerException, OSError):
            self.container.remove(force=True)
        for stream in ("writer", "_attach"):
            with contextlib.suppress(OSError, AttributeError):
                getattr(self, stream).close()
        with contextlib.suppress(OSError, AttributeError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError, AttributeError):
            self._sock.close()
        with contextlib.suppress(OSError, AttributeError):
            self.reader.close()  # a pump blocked on a full pipe now gets EPIPE
        pump = getattr(self, "_pump", None)
        if pump is None or pump.ident is None:
            with contextlib.suppress(OSError, AttributeError):
                os.close(self._pipe_w)  # the pump never started: it cannot close it
        elif pump is not threading.current_thread():
            pump.join(timeout=5)
