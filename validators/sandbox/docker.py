"""The docker backend: the shared worker inside long-lived, hardened containers.

Each pool slot is one container of the sandbox image (``beadline sandbox build-image``) started
with ``--network none --read-only --tmpfs /tmp --memory --memory-swap --pids-limit --cap-drop ALL
--cap-add CHOWN,DAC_OVERRIDE,KILL,SETGID,SETUID --security-opt no-new-privileges --user 0:0``.
Its command is the worker (``validators/runtime``, bind-mounted read-only), which forks one child
per test case and drops it to the container's own uid (leased host-wide from
:data:`~._uids.DOCKER_BASE` up: no two containers, and no local slot, share one; the engine has
no user-namespace remap, so it is a host uid); the host talks to the worker over the
container's attached stdin/stdout with the same signed line protocol as the local backend. A
run costs a fork inside a warm container, not a container start.

Containment, in layers:

- inside: children run as another uid than the worker (root without most capabilities), so
  they cannot open the worker's protocol descriptors, memory or environment nor signal it; the
  worker's answers are signed with a key only its signer process holds; the worker enforces
  each run's limits and kills the child's process group; as the container's PID 1 it also kills
  and reaps every orphan a run left behind; the container entry wipes ``/tmp`` and ``/dev/shm``
  after every request;
- outside: the host waits at most the request's limits plus a grace; a worker that does not
  answer in time, dies, or ran a program that had to be killed loses its container, which is
  removed and replaced in the background. Containers are also replaced after
  ``recycle_after`` test-case runs.

Every container carries a label naming its owner process; a new executor removes the containers
of owners that no longer run, and :meth:`DockerExecutor.close` (or the interpreter's exit)
removes its own.

``run_command`` (pytest files, integration commands) starts a short-lived container per command
with the directory mounted read-only; the worker copies it into the container's ``/tmp`` and
runs the command in that writable scratch copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from beadline.validators.errors import SandboxError, SandboxUnavailableError, UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
)
from beadline.validators.sandbox._channel import (
    Channel,
    ChannelError,
    FdStream,
    WorkerTimeout,
    command_deadline,
    failed_command,
    failed_run,
    run_deadline,
)
from beadline.validators.sandbox._container import (
    ContainerSpec,
    SandboxContainer,
    remove_stale_containers,
)
from beadline.validators.sandbox._uids import DOCKER_BASE, UidLease, lease_uid
from beadline.validators.sandbox.probe import DEFAULT_IMAGE

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = [
    "ENTRY_SCRIPT",
    "RUNTIME_DIR",
    "SNAPSHOT_MOUNT",
    "DockerExecutor",
    "DockerHardening",
    "pool_spec",
]

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
"""The worker folder, mounted read-only at ``/opt/beadline/runtime``."""

ENTRY_SCRIPT = Path(__file__).resolve().parent / "_container_entry.py"
"""The container's command, mounted read-only at ``/opt/beadline/entry.py``."""

_ENTRY_MOUNT = "/opt/beadline/entry.py"
_REPO_MOUNT = "/mnt/repo"
SNAPSHOT_MOUNT = "/opt/beadline/snapshots"
"""Where the snapshot store (:func:`~beadline.validators.snapshot.default_store_dir`) is
bind-mounted read-only in every pool container."""
_KILLED = frozenset({"timeout", "killed"})
_ENVIRONMENT = (
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("PYTHONHASHSEED", "0"),
    ("PYTHONIOENCODING", "utf-8"),
    ("LANG", "C.UTF-8"),
    ("LC_ALL", "C.UTF-8"),
    ("HOME", "/tmp"),
    ("TMPDIR", "/tmp"),
    ("USER", "sandbox"),
    ("LOGNAME", "sandbox"),
)


@dataclass(frozen=True, kw_only=True)
class DockerHardening:
    """The protections of the docker backend's containers (all applied on every container)."""

    image: str
    """The sandbox image."""
    user: str
    """``--user`` of the container's worker."""
    cap_add: tuple[str, ...]
    """The capabilities the worker keeps (``--cap-drop ALL`` first); children keep none."""
    memory_mb: int
    """``--memory`` = ``--memory-swap`` of a pool container."""
    pids_limit: int
    """``--pids-limit``."""
    cpus: float
    """``--cpus``."""
    tmpfs_mb: int
    """Size of the only writable directory, ``/tmp``."""
    child_uids: tuple[int, ...] = ()
    """The host uids the pool's children run as now (one per container)."""
    children_dropped: bool = True
    """The worker reported that its children drop to their own uid."""
    worker_uid: int | None = 0
    """The uid of the worker inside the container (holder of the protocol descriptors)."""
    signed: bool = True
    """Answers carry an HMAC with a per-container key the children never hold."""

    @classmethod
    def from_ready(
        cls, spec: ContainerSpec, ready: Mapping[str, Any], child_uids: Sequence[int]
    ) -> DockerHardening:
        """The protections of containers made from ``spec``, as one's worker reported them."""
        raw = ready.get("hardening") or {}
        worker_uid = raw.get("worker_uid")
        return cls(
            image=spec.image,
            user=spec.user,
            cap_add=spec.cap_add,
            memory_mb=spec.memory_mb,
            pids_limit=spec.pids_limit,
            cpus=spec.cpus,
            tmpfs_mb=spec.tmpfs_mb,
            child_uids=tuple(child_uids),
            children_dropped=bool(raw.get("uid_dropped")),
            worker_uid=worker_uid if isinstance(worker_uid, int) else None,
            signed=bool(raw.get("signed")),
        )

    def summary(self) -> str:
        """One line: what is active."""
        uids = ", ".join(map(str, self.child_uids)) or f"{DOCKER_BASE}+"
        children = (
            f"children uid {uids} (one per container)"
            if self.children_dropped
            else "CHILDREN KEEP THE WORKER'S UID"
        )
        return (
            f"no network, read-only rootfs, worker uid {self.user.split(':')[0]} with "
            f"{'+'.join(self.cap_add)} only, {children}, cap-drop ALL, no-new-privileges, "
            f"pids {self.pids_limit}, memory {self.memory_mb} MiB, {self.cpus:g} CPU, "
            f"/tmp {self.tmpfs_mb} MiB wiped per request"
            + (", signed answers" if self.signed else ", UNSIGNED answers")
        )

    def checks(self) -> list[tuple[str, bool, str, str]]:
        """``(name, active, detail, fix)`` per protection, for ``beadline doctor``."""
        channel = self.signed and self.children_dropped
        uids = ", ".join(map(str, self.child_uids)) or "none running"
        return [
            (
                "docker sandbox: verdict channel",
                channel,
                (
                    "answers HMAC-signed (key held by the worker's signer process); children "
                    f"run as another uid than the worker (uid {self.worker_uid}), so they "
                    "cannot open its protocol descriptors"
                )
                if channel
                else "the container's worker could not drop its children's uid or sign",
                "" if channel else "rebuild the image: `beadline sandbox build-image --force`",
            ),
            (
                "docker sandbox: runs isolated from each other",
                self.children_dropped,
                f"one container (PID namespace) and one host uid per slot (now {uids}), never "
                "shared with local children; inside, /proc shows the worker and its signer "
                "(pids 1-2) but not their descriptors, memory or environment",
                "" if self.children_dropped else "rebuild the image",
            ),
        ]


class _Slot:
    """One container with its channel; recycled after a number of runs or any kill.

    The container's children run as a uid leased for this container alone (released once
    the container is removed).
    """

    def __init__(self, client: DockerClient, spec: ContainerSpec, startup_s: float) -> None:
        self.lease: UidLease = lease_uid(DOCKER_BASE)
        spec = dataclasses.replace(spec, command=(*spec.command, "--drop-uid", str(self.lease.uid)))
        try:
            self.container = SandboxContainer(client, spec)
        except BaseException:
            self.lease.release()
            raise
        self.channel = Channel(
            FdStream(self.container.reader.fileno(), self.container.writer.fileno()),
            name=f"docker worker {self.container.short_id}",
            # A random start per container: a misrouted answer can never match.
            first_id=secrets.randbelow(1 << 40) + 1,
        )
        try:
            self.ready = self.channel.read_ready(startup_s)
        except ChannelError as exc:
            tail = self.container.stderr_tail().strip()
            self.close()
            raise SandboxError(
                f"the sandbox worker in container {self.container.short_id} did not start "
                f"({exc}); its stderr: {tail or '(empty)'}. Check the image with "
                "`beadline sandbox status`; rebuild it with `beadline sandbox build-image --force`"
            ) from exc
        self.runs = 0
        """Test-case runs served (a request of n tests counts n)."""

    @property
    def child_uid(self) -> int:
        """The host uid this container's children run as."""
        return self.lease.uid

    def close(self) -> None:
        self.container.close()
        self.lease.release()


def _remove_all(slots: list[_Slot]) -> None:
    """Finalizer: remove the containers still held (at close or interpreter exit)."""
    for slot in list(slots):
        slot.close()
    slots.clear()


class DockerExecutor(Executor):
    """Runs programs in a pool of warm, hardened sandbox containers.

    Args:
        image: The sandbox image.
        workers: Pool size: containers running at once (default: the CPU cores usable here).
        recycle_after: Replace a container after this many test-case runs.
        memory_mb: Memory (no swap) of each pool container.
        pids_limit: Processes allowed in each container at once.
        cpus: CPUs of each container.
        tmpfs_mb: Size of each container's writable ``/tmp``.
        command_memory_mb: Extra memory of a ``run_command`` container on top of the
            command's own limit.
        startup_s: Seconds a container's worker may take to become ready.
        grace_s: Seconds allowed on top of a request's limits before the worker counts as hung.
        client: A Docker SDK client (default: the environment's engine).
        prestart: Start every container now (otherwise each starts on first use).

    Raises:
        UserError: a bad option.
        SandboxUnavailableError: no engine answers, or the image is missing.

    Example:
        >>> with DockerExecutor(workers=1) as ex:  # doctest: +SKIP
        ...     ex.run(RunRequest(program="def f(x): return x", tests=(TestCase.from_assert("assert f(1) == 1"),)))
    """

    name: ClassVar[str] = "docker"

    def __init__(
        self,
        *,
        image: str = DEFAULT_IMAGE,
        workers: int | None = None,
        recycle_after: int = 1000,
        memory_mb: int = 1024,
        pids_limit: int = 64,
        cpus: float = 1.0,
        tmpfs_mb: int = 128,
        command_memory_mb: int = 256,
        startup_s: float = 30.0,
        grace_s: float = 2.0,
        client: DockerClient | None = None,
        prestart: bool = True,
    ) -> None:
        workers = _check_options(
            workers=workers,
            recycle_after=recycle_after,
            memory_mb=memory_mb,
            pids_limit=pids_limit,
            tmpfs_mb=tmpfs_mb,
            cpus=cpus,
            startup_s=startup_s,
            grace_s=grace_s,
        )
        self._client = _connect(image, client)
        self._own_client = client is None
        self._mount = _snapshot_mount()
        self.image = image
        self.workers = workers
        self.recycle_after = recycle_after
        self.grace_s = grace_s
        self.startup_s = startup_s
        self.command_memory_mb = command_memory_mb
        self.spec = pool_spec(
            image,
            memory_mb=memory_mb,
            pids_limit=pids_limit,
            cpus=cpus,
            tmpfs_mb=tmpfs_mb,
            mounts=(self._mount,),
        )
        self._start_pool(prestart)

    def _start_pool(self, prestart: bool) -> None:
        """The pool's book-keeping, then (when ``prestart``) every container."""
        self._closed = False
        self._lock = threading.Lock()
        self._live: list[_Slot] = []
        """Every container this executor holds (in use, free or being replaced)."""
        self._finalizer = weakref.finalize(self, _remove_all, self._live)
        self._free: queue.LifoQueue[_Slot | None] = queue.LifoQueue()
        for _ in range(self.workers):
            self._free.put(None)  # None: a slot whose container starts on first use
        self._replacing: list[threading.Thread] = []
        self.recycled = 0
        """Containers replaced so far (after a kill, a hang, a death, ``recycle_after``, a
        protocol violation or a failed clean-up)."""
        self._old_violations = 0
        if prestart:
            try:
                self.warm()
            except BaseException:
                self.close()  # remove the containers that did start
                raise

    # -- pool -----------------------------------------------------------------------------
    def _new_slot(self) -> _Slot:
        slot = _Slot(self._client, self.spec, self.startup_s)
        with self._lock:
            self._live.append(slot)
            closed = self._closed
        if closed:
            self._drop(slot)
            raise SandboxError("this DockerExecutor is closed; create a new one")
        return slot

    def _drop(self, slot: _Slot) -> None:
        slot.close()
        with self._lock:
            self._old_violations += slot.channel.violations
            slot.channel.violations = 0
            with contextlib.suppress(ValueError):
                self._live.remove(slot)

    def _take(self) -> _Slot:
        if self._closed:
            raise SandboxError("this DockerExecutor is closed; create a new one")
        slot = self._free.get()
        if self._closed:
            if slot is not None:
                self._drop(slot)
            self._free.put(None)  # wake the next waiter: it gets the same error
            raise SandboxError("this DockerExecutor is closed; create a new one")
        if slot is not None and not slot.container.alive:
            # The container died while idle (killed from outside, engine restart): replace it
            # now rather than lose the caller's request to it.
            self.recycled += 1
            self._drop(slot)
            slot = None
        if slot is None:
            try:
                slot = self._new_slot()
            except BaseException:
                self._free.put(None)
                raise
        return slot

    def _give(self, slot: _Slot, *, recycle: bool) -> None:
        if self._closed:
            self._drop(slot)
            return
        if not recycle and slot.runs < self.recycle_after and not slot.channel.broken:
            self._free.put(slot)
            return
        self.recycled += 1
        self._drop(slot)
        thread = threading.Thread(target=self._replace, name="beadline-docker-recycle", daemon=True)
        with self._lock:
            self._replacing = [t for t in self._replacing if t.is_alive()]
            self._replacing.append(thread)
        thread.start()

    def _replace(self) -> None:
        """Start a fresh container for a recycled slot (a failure leaves a lazy slot)."""
        try:
            fresh: _Slot | None = None if self._closed else self._new_slot()
        except (SandboxError, OSError):
            fresh = None
        self._free.put(fresh)

    def warm(self) -> None:
        """Start every pool container now (in parallel)."""
        slots: list[_Slot] = []
        errors: list[BaseException] = []

        def take() -> None:
            try:
                slots.append(self._take())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=take) for _ in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for slot in slots:
            self._free.put(slot)
        if errors:
            raise errors[0]

    @property
    def containers(self) -> list[str]:
        """Ids of the containers this executor holds now."""
        with self._lock:
            return [str(s.container.container.id) for s in self._live]

    def worker_pids(self) -> list[int]:
        """Host process ids of the running containers' workers (each container's PID 1)."""
        from docker.errors import DockerException

        pids = []
        for container_id in self.containers:
            with contextlib.suppress(DockerException, KeyError, TypeError):
                pid = int(self._client.api.inspect_container(container_id)["State"]["Pid"])
                if pid > 0:
                    pids.append(pid)
        return pids

    def child_uids(self) -> list[int]:
        """The host uids the containers' children run as (one per container)."""
        with self._lock:
            return [s.child_uid for s in self._live]

    @property
    def protocol_violations(self) -> int:
        """Lines dropped because they were not the signed answer in flight (each one also
        replaced its container)."""
        with self._lock:
            return self._old_violations + sum(s.channel.violations for s in self._live)

    @property
    def hardening(self) -> DockerHardening:
        """The protections every container of this executor has, as a worker reports them
        (starts a container if none runs)."""
        with self._lock:
            ready = next((s.ready for s in self._live), None)
        if ready is None:
            slot = self._take()
            ready = slot.ready
            self._give(slot, recycle=False)
        return DockerHardening.from_ready(self.spec, ready, self.child_uids())

    # -- Executor -------------------------------------------------------------------------
    def run(self, request: RunRequest) -> RunResult:
        """Run one program on its test cases in a warm container; see :class:`Executor`."""
        if not request.tests:
            return RunResult(results=(), backend=self.name)
        slot = self._take()
        start = time.monotonic()
        recycle = True
        try:
            slot.runs += len(request.tests)
            result = slot.channel.run(
                request, backend=self.name, grace_s=self.grace_s, mount=self._mount
            )
            recycle = any(r.status in _KILLED for r in result.results)
            return result
        except WorkerTimeout:
            waited = run_deadline(request, grace_s=self.grace_s)
            return failed_run(
                request,
                "timeout",
                f"the sandbox container did not answer within {waited:.1f} s and was replaced",
                backend=self.name,
                duration_s=time.monotonic() - start,
            )
        except ChannelError as exc:
            return failed_run(
                request,
                "killed",
                f"the sandbox container's worker died during the run and was replaced ({exc})",
                backend=self.name,
                duration_s=time.monotonic() - start,
            )
        finally:
            self._give(slot, recycle=recycle)

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        """Run requests concurrently, one per container; results keep their order."""
        if len(requests) <= 1 or self.workers == 1:
            return [self.run(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(requests))) as pool:
            return list(pool.map(self.run, requests))

    def run_command(self, request: CommandRequest) -> CommandResult:
        """Run a command in a short-lived container on a scratch copy of ``request.directory``.

        The directory is mounted read-only; the worker copies it into the container's ``/tmp``
        and runs the command there, so the original is never written.
        """
        if self._closed:
            raise SandboxError("this DockerExecutor is closed; create a new one")
        staged: str | None = None
        volumes: list[tuple[Path, str]] = [(ENTRY_SCRIPT, _ENTRY_MOUNT)]
        directory: str | None = None
        if request.directory is not None:
            source = Path(request.directory)
            if not source.is_dir():
                return failed_command(
                    "error", f"directory {source} does not exist or is not a directory"
                )
            mounted = source.resolve()
            if not _readable_by_others(mounted):
                # The command runs as an unprivileged uid: give it a copy it can read.
                staged = tempfile.mkdtemp(prefix="beadline-stage-")
                os.chmod(staged, 0o755)
                mounted = Path(staged) / "repo"
                shutil.copytree(source, mounted, symlinks=True)
                _open_up(mounted)
            volumes.append((mounted, _REPO_MOUNT))
            directory = _REPO_MOUNT
        spec = dataclasses.replace(
            self.spec,
            memory_mb=request.limits.memory_mb + self.command_memory_mb,
            pids_limit=max(self.spec.pids_limit, 256),
            tmpfs_mb=max(self.spec.tmpfs_mb, 512),
            volumes=tuple(volumes),
        )
        start = time.monotonic()
        slot: _Slot | None = None
        try:
            slot = _Slot(self._client, spec, self.startup_s)
            with self._lock:
                self._live.append(slot)
            return slot.channel.command(request, directory=directory, grace_s=self.grace_s)
        except WorkerTimeout:
            waited = command_deadline(request, grace_s=self.grace_s)
            return failed_command(
                "timeout",
                f"the command's sandbox container did not answer within {waited:.1f} s "
                "and was removed",
                duration_s=time.monotonic() - start,
            )
        except ChannelError as exc:
            return failed_command(
                "killed",
                f"the command's sandbox worker died and its container was removed ({exc})",
                duration_s=time.monotonic() - start,
            )
        finally:
            if slot is not None:
                self._drop(slot)
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)

    def close(self) -> None:
        """Remove every container of this executor. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            replacing = list(self._replacing)
        for thread in replacing:
            thread.join(timeout=self.startup_s)
        self._finalizer()
        self._free.put(None)  # a caller waiting for a container wakes up and is told
        if self._own_client:
            self._client.close()

    def __repr__(self) -> str:
        return (
            f"DockerExecutor(image={self.image!r}, workers={self.workers}, closed={self._closed})"
        )


def _check_options(
    *,
    workers: int | None,
    recycle_after: int,
    memory_mb: int,
    pids_limit: int,
    tmpfs_mb: int,
    cpus: float,
    startup_s: float,
    grace_s: float,
) -> int:
    """Validate :class:`DockerExecutor`'s options; return the pool size.

    Raises:
        UserError: a bad option, named with its value.
        SandboxError: the worker files are missing from this installation.
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    for label, value in (
        ("workers", workers),
        ("recycle_after", recycle_after),
        ("memory_mb", memory_mb),
        ("pids_limit", pids_limit),
        ("tmpfs_mb", tmpfs_mb),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserError(
                f"DockerExecutor({label}=...) must be a positive integer, got {value!r}"
            )
    if memory_mb < 64:
        raise UserError(f"DockerExecutor(memory_mb=...) must be at least 64, got {memory_mb}")
    if not (cpus > 0 and startup_s > 0 and grace_s > 0):
        raise UserError(
            "DockerExecutor cpus, startup_s and grace_s must be positive, got "
            f"{cpus!r}, {startup_s!r}, {grace_s!r}"
        )
    if not (RUNTIME_DIR / "worker.py").is_file() or not ENTRY_SCRIPT.is_file():
        raise SandboxError(f"the sandbox worker is missing at {RUNTIME_DIR}; reinstall beadline")
    return workers


def _connect(image: str, client: DockerClient | None) -> DockerClient:
    """A client of an engine that has ``image``; stale containers of dead owners removed.

    Raises:
        SandboxUnavailableError: no engine answers, or the image is missing.
    """
    from docker.errors import DockerException, ImageNotFound

    from beadline.validators.sandbox.image import docker_client

    connected = client or docker_client(timeout=60)
    try:
        connected.images.get(image)
    except ImageNotFound as exc:
        raise SandboxUnavailableError(
            f"the sandbox image {image} is missing: build it with `beadline sandbox build-image`"
        ) from exc
    except DockerException as exc:
        raise SandboxUnavailableError(f"the Docker engine cannot list images: {exc}") from exc
    with contextlib.suppress(DockerException):
        remove_stale_containers(connected)
    return connected


def pool_spec(
    image: str,
    *,
    memory_mb: int,
    pids_limit: int,
    cpus: float,
    tmpfs_mb: int,
    mounts: Sequence[tuple[str, str]] = (),
) -> ContainerSpec:
    """The container spec of a pool container: ``mounts`` are more read-only bind mounts
    ``(host directory, container directory)`` (the snapshot store); a slot adds its
    children's ``--drop-uid``."""
    return ContainerSpec(
        image=image,
        runtime_dir=RUNTIME_DIR,
        command=("python3", "-u", "-s", "-B", _ENTRY_MOUNT),
        memory_mb=memory_mb,
        pids_limit=pids_limit,
        cpus=cpus,
        tmpfs_mb=tmpfs_mb,
        volumes=((ENTRY_SCRIPT, _ENTRY_MOUNT), *((Path(h), c) for h, c in mounts)),
        environment=_ENVIRONMENT,
    )


def _snapshot_mount() -> tuple[str, str]:
    """The snapshot store (made now if missing) and where every container sees it, read-only."""
    from beadline.validators.snapshot import default_store

    return str(default_store().directory), SNAPSHOT_MOUNT


def _readable_by_others(root: Path) -> bool:
    """Whether any uid ("others") can read every file and enter every directory under ``root``."""
    for parent, _dirs, names in os.walk(root):
        if os.stat(parent).st_mode & 0o005 != 0o005:
            return False
        for name in names:
            path = os.path.join(parent, name)
            if not os.path.islink(path) and os.stat(path).st_mode & 0o004 == 0:
                return False
    return True


def _open_up(root: Path) -> None:
    """Make a staged copy readable by everyone (directories searchable)."""
    for parent, _dirs, names in os.walk(root):
        os.chmod(parent, 0o755)
        for name in names:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)
