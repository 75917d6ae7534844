"""The local backend: a pool of warm fork-server workers on this machine.

Each worker is ``validators/runtime/worker.py`` run with this Python. When running as root, it
becomes PID 1 of its own PID namespace with a private ``/proc`` (``hidepid=2``), cuts itself off
the network (a private network namespace), and forks a child per test case that drops to the
slot's own unprivileged uid (leased host-wide, :mod:`._uids`: no two slots, executors or docker
containers share one), joins the worker's private cgroup (pids + memory limits, when the cgroup
file system is writable), and runs under rlimits in a temporary working directory. Every answer
is signed with a per-worker key the children never hold (:mod:`._channel`).
:attr:`LocalExecutor.hardening` says which of these are active on this machine (``beadline
doctor`` reports it).

A child therefore cannot reach its worker's protocol descriptors (another uid, and its
``/proc`` does not show the worker), cannot forge an answer, and cannot see or signal a run of
another slot. It still shares the host's file system (read-only to it where the host's modes
say so) and kernel: this contains accidents and hostile programs of the kinds tested in
``tests/validators/test_hostile.py`` and ``test_integrity.py``; it is not a boundary against a
kernel exploit. Without root none of the namespaces or uids exist (see ``beadline doctor``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

from beadline.validators.errors import SandboxError, UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
)
from beadline.validators.runtime.cleanup import remove_tree
from beadline.validators.runtime.isolation import Cgroups
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
from beadline.validators.sandbox._uids import LOCAL_BASE, UidLease, lease_uid

__all__ = ["WORKER_SCRIPT", "Hardening", "LocalExecutor"]

WORKER_SCRIPT = Path(__file__).resolve().parent.parent / "runtime" / "worker.py"
"""The worker program both backends run."""

_HOST_CLEAN_S = 10.0

DropUid = int | Literal["per-slot"] | None
"""``"per-slot"``: each slot's children get a leased uid of their own; an ``int``: every slot
uses that uid (slots can then signal each other); ``None``: children keep root."""


@dataclass(frozen=True, kw_only=True)
class Hardening:
    """Which protections the local sandbox has on this machine (from a worker's ready line)."""

    net_isolated: bool
    """Children have no network (private network namespace)."""
    uid_dropped: bool
    """Children run as an unprivileged uid."""
    uid: int | None = None
    """That uid (of the slot that reported; every slot has its own when ``per_slot_uids``)."""
    per_slot_uids: bool = False
    """Each slot's children have a uid of their own, shared with nothing else on the host."""
    cgroup: str = ""
    """``"v1"``/``"v2"`` when children are in a private cgroup (pids limit), else ``""``."""
    cgroup_memory: bool = False
    """The cgroup also limits memory."""
    subreaper: bool = False
    """Orphaned descendants of a run are re-parented to the worker and killed."""
    pid_ns: bool = False
    """The worker is PID 1 of its own PID namespace (runs of other slots are not visible)."""
    proc_hidden: bool = False
    """The children's ``/proc`` is private and ``hidepid=2``: it shows only their own uid."""
    signed: bool = False
    """Every answer carries an HMAC with a per-worker key the children never hold."""
    worker_uid: int | None = None
    """The uid of the worker itself (holder of the protocol descriptors)."""
    details: Mapping[str, str] = field(default_factory=dict)
    """``net``/``uid``/``cgroup``/``pid_ns``: what the worker found."""

    @classmethod
    def from_ready(cls, ready: Mapping[str, Any], *, per_slot_uids: bool = False) -> Hardening:
        """Read the ``hardening`` object of a worker's ready line."""
        raw = ready.get("hardening") or {}
        uid = raw.get("uid") if isinstance(raw.get("uid"), int) else None
        worker_uid = raw.get("worker_uid") if isinstance(raw.get("worker_uid"), int) else None
        return cls(
            net_isolated=bool(raw.get("net_isolated")),
            uid_dropped=bool(raw.get("uid_dropped")),
            uid=uid,
            per_slot_uids=per_slot_uids and bool(raw.get("uid_dropped")),
            cgroup=str(raw.get("cgroup") or ""),
            cgroup_memory=bool(raw.get("cgroup_memory")),
            subreaper=bool(raw.get("subreaper")),
            pid_ns=bool(raw.get("pid_ns")),
            proc_hidden=bool(raw.get("proc_hidden")),
            signed=bool(raw.get("signed")),
            worker_uid=worker_uid,
            details={
                "net": str(raw.get("net_detail", "")),
                "uid": str(raw.get("uid_detail", "")),
                "cgroup": str(raw.get("cgroup_detail", "")),
                "pid_ns": str(raw.get("pid_ns_detail", "")),
            },
        )

    @property
    def channel_out_of_reach(self) -> bool:
        """Children cannot open the worker's protocol descriptors (another uid than the
        worker; the worker is also non-dumpable)."""
        return self.uid_dropped and self.uid != self.worker_uid

    def checks(self) -> list[tuple[str, bool, str, str]]:
        """``(name, active, detail, fix)`` per protection, for ``beadline doctor``."""
        return [
            self._net_check(),
            self._uid_check(),
            self._cgroup_check(),
            self._channel_check(),
            self._isolation_check(),
        ]

    def _net_check(self) -> tuple[str, bool, str, str]:
        return (
            "local sandbox: network cut off",
            self.net_isolated,
            self.details.get("net", ""),
            ""
            if self.net_isolated
            else "run as root or with CAP_SYS_ADMIN (or enable unprivileged user "
            "namespaces), or use --sandbox docker",
        )

    def _uid_check(self) -> tuple[str, bool, str, str]:
        root = os.geteuid() == 0
        return (
            "local sandbox: unprivileged uid",
            self.uid_dropped or not root,
            self.details.get("uid", "")
            if root
            else f"runs as uid {os.geteuid()} (not root; nothing to drop)",
            "" if self.uid_dropped or not root else "use --sandbox docker",
        )

    def _cgroup_check(self) -> tuple[str, bool, str, str]:
        return (
            "local sandbox: cgroup limits",
            bool(self.cgroup),
            self.details.get("cgroup", ""),
            ""
            if self.cgroup
            else "make the cgroup file system writable (run as root), or use --sandbox "
            "docker; until then fork bombs are only limited by RLIMIT_NPROC and the wall time",
        )

    def _channel_check(self) -> tuple[str, bool, str, str]:
        ok = self.signed and self.channel_out_of_reach
        if ok:
            detail = (
                f"answers HMAC-signed (key held by a separate signer process); the protocol "
                f"descriptors belong to uid {self.worker_uid}, children run as uid {self.uid}"
            )
        elif self.signed:
            detail = (
                "answers HMAC-signed (a forged line is dropped), but children share the "
                f"worker's uid {self.worker_uid}: they can kill it"
            )
        else:
            detail = "answers are not signed"
        return (
            "local sandbox: verdict channel",
            ok,
            detail,
            ""
            if ok
            else "run as root (children then drop to their own uid), or use --sandbox docker",
        )

    def _isolation_check(self) -> tuple[str, bool, str, str]:
        ok = self.per_slot_uids and self.pid_ns and self.proc_hidden
        parts = [
            "one uid per slot" if self.per_slot_uids else "slots share a uid",
            self.details.get("pid_ns", "") or "no PID namespace",
        ]
        return (
            "local sandbox: runs isolated from each other",
            ok,
            "; ".join(parts),
            ""
            if ok
            else "run as root (per-slot uids and a PID namespace need it), or use --sandbox "
            "docker; until then a program can signal or inspect a run of another slot",
        )

    def summary(self) -> str:
        """One line: what is active."""
        parts = [
            "no network" if self.net_isolated else "NETWORK REACHABLE",
            (f"uid {self.uid}" + (" (per slot)" if self.per_slot_uids else ""))
            if self.uid_dropped
            else f"uid {os.geteuid()}",
            f"cgroup {self.cgroup}" + (" pids+memory" if self.cgroup_memory else " pids")
            if self.cgroup
            else "no cgroup",
            "pid namespace" + (" + private /proc" if self.proc_hidden else "")
            if self.pid_ns
            else "shared pid namespace",
            "signed answers" if self.signed else "UNSIGNED answers",
            "rlimits",
        ]
        return ", ".join(parts)


class _Slot:
    """One worker process and its channel; restarted on demand.

    Args:
        index: Position in the pool.
        argv: The worker's command line, without ``--drop-uid``.
        env: Its environment.
        startup_s: Seconds it may take to send its ready line.
        drop_uid: Children's uid policy (:data:`DropUid`); ``"per-slot"`` leases a uid for
            every worker started (released once that worker and its children are dead).
    """

    def __init__(
        self,
        index: int,
        argv: list[str],
        env: dict[str, str],
        startup_s: float,
        drop_uid: DropUid = "per-slot",
    ) -> None:
        self.index = index
        self.argv = argv
        self.env = env
        self.startup_s = startup_s
        self.drop_uid = drop_uid
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.ready: dict[str, Any] = {}
        self.log: IO[bytes] | None = None
        self.lease: UidLease | None = None
        self.worker_pid = -1
        """Host pid of the worker process that forks the children (see :meth:`_start`)."""
        self._old_violations = 0
        self.restarts = 0
        self.started = False

    def ensure(self) -> Channel:
        if (
            self.channel is not None
            and not self.channel.broken
            and self.proc is not None
            and self.proc.poll() is None
        ):
            return self.channel
        if self.proc is not None or self.lease is not None:
            self.kill()
        return self._start()

    def _worker_argv(self) -> list[str]:
        """The command line, with the children's uid (leasing one when per slot)."""
        if self.drop_uid is None or os.geteuid() != 0:
            return list(self.argv)
        if self.drop_uid == "per-slot":
            self.lease = lease_uid(LOCAL_BASE)
            return [*self.argv, "--drop-uid", str(self.lease.uid)]
        return [*self.argv, "--drop-uid", str(self.drop_uid)]

    def _start(self) -> Channel:
        if self.started:
            self.restarts += 1
        self.started = True
        self.log = tempfile.TemporaryFile(prefix="beadline-worker-log")  # noqa: SIM115 - lives with the worker
        argv = self._worker_argv()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log,
                env=self.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            self.kill()
            raise SandboxError(
                f"cannot start the local sandbox worker {argv[0]}: {exc}; check that "
                "the Python interpreter exists"
            ) from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        channel = Channel(
            FdStream(self.proc.stdout.fileno(), self.proc.stdin.fileno()),
            name=f"local worker {self.proc.pid}",
        )
        try:
            self.ready = channel.read_ready(self.startup_s)
        except ChannelError as exc:
            tail = self._log_tail()
            self.kill()
            raise SandboxError(
                f"the local sandbox worker did not start: {exc}"
                + (f"; its stderr: {tail}" if tail else "")
            ) from exc
        self.channel = channel
        self.worker_pid = self._find_worker_pid(self.proc.pid)
        return channel

    def _find_worker_pid(self, started: int) -> int:
        """The host pid of the worker proper: in its own PID namespace it is the child of
        the process we started (a placeholder that only waits for it)."""
        if not (self.ready.get("hardening") or {}).get("pid_ns"):
            return started
        with contextlib.suppress(OSError, ValueError):
            children = Path(f"/proc/{started}/task/{started}/children").read_text().split()
            if children:
                return int(children[0])
        return started

    @property
    def violations(self) -> int:
        """Protocol violations seen on this slot's channels so far."""
        current = self.channel.violations if self.channel is not None else 0
        return self._old_violations + current

    @property
    def child_uid(self) -> int | None:
        """The uid this slot's children run as now (``None``: not started or not dropped)."""
        raw = self.ready.get("hardening") or {}
        uid = raw.get("uid")
        return uid if self.proc is not None and isinstance(uid, int) else None

    def _log_tail(self) -> str:
        if self.log is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self.log.seek(0)
            return self.log.read()[-600:].decode("utf-8", "replace").strip()
        return ""

    def kill(self) -> None:
        """Kill the worker (and, through its PID namespace and cgroup, everything it left
        behind), remove its scratch root, give its uid back."""
        if self.channel is not None:
            self._old_violations += self.channel.violations
        proc, self.proc, self.channel = self.proc, None, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            Cgroups.existing(f"beadline-{proc.pid}").close()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            scratch = (self.ready.get("hardening") or {}).get("scratch")
            if isinstance(scratch, str) and os.path.basename(scratch).startswith("beadline-w"):
                # What a killed worker could not clean up itself (bounded: a program's
                # million files must not hold up the caller for long).
                remove_tree(scratch, deadline_s=_HOST_CLEAN_S)
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def stop(self) -> None:
        """Ask the worker to exit, then make sure it did."""
        if self.proc is not None and self.channel is not None and self.proc.poll() is None:
            self.channel.send_exit()
            with contextlib.suppress(OSError):
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        self.kill()


def _searchable_by_others(path: Path) -> bool:
    current = Path("/")
    for part in path.resolve().parts[1:]:
        try:
            if not current.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
        current = current / part
    return True


def _site_dirs(site_packages: Sequence[str | Path]) -> list[str]:
    """Absolute, existing directories of ``site_packages``.

    Raises:
        UserError: one is not a directory (or a single string was passed instead of a list).
    """
    if isinstance(site_packages, str | Path):
        raise UserError(
            f"LocalExecutor(site_packages=...) takes a list of directories, got {site_packages!r}"
        )
    found = []
    for entry in site_packages:
        path = Path(entry).expanduser()
        if not path.is_dir():
            raise UserError(
                f"site-packages directory {str(entry)!r} does not exist; pass the repository's "
                "environment, e.g. .venv/lib/python3.11/site-packages"
            )
        found.append(str(path.resolve()))
    return found


class LocalExecutor(Executor):
    """Runs programs in a pool of warm fork-server workers on this machine.

    Args:
        workers: Pool size (default: the CPU cores this process may use).
        isolate_network: Cut children off the network (private network namespace).
        drop_uid: Children's uid when running as root: ``"per-slot"`` (a leased uid per slot,
            shared with nothing else), a fixed uid for every slot, or ``None`` (keep root: no
            protection of the channel or of other runs; for debugging only).
        pid_namespace: Run each worker as PID 1 of its own PID namespace with a private
            ``/proc`` (``hidepid=2``) when running as root.
        cgroup: Put each worker's children in a private cgroup when possible.
        pids_max: Processes a worker's children may have at once (cgroup).
        python: Interpreter for the workers (default: this one).
        tmp_dir: Parent directory of the per-run scratch directories.
        startup_s: Seconds a worker may take to start.
        grace_s: Seconds allowed on top of a request's limits before a worker is declared
            stuck and restarted.
        site_packages: Directories of the repository's own dependencies (its virtual
            environment's ``site-packages``), put on ``sys.path`` of runs in a module context
            (after the snapshot's import roots, before beadline's own environment) and on
            ``PYTHONPATH`` of commands. Made read-only for the children where the worker can
            (root). ``.pth`` files in them are not processed (an editable install of the
            repository would point at the working tree).

    Example:
        >>> with LocalExecutor() as ex:  # doctest: +SKIP
        ...     ex.run(RunRequest(program="def f(x): return x", tests=(TestCase.from_assert("assert f(1) == 1"),)))
    """

    name: ClassVar[str] = "local"

    def __init__(
        self,
        *,
        workers: int | None = None,
        isolate_network: bool = True,
        drop_uid: DropUid = "per-slot",
        pid_namespace: bool = True,
        cgroup: bool = True,
        pids_max: int = 128,
        python: str | None = None,
        tmp_dir: str | None = None,
        startup_s: float = 30.0,
        grace_s: float = 2.0,
        site_packages: Sequence[str | Path] = (),
    ) -> None:
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        if not isinstance(workers, int) or workers < 1:
            raise UserError(
                f"LocalExecutor(workers=...) must be a positive integer, got {workers!r}"
            )
        if grace_s <= 0 or startup_s <= 0:
            raise UserError(
                f"LocalExecutor grace_s and startup_s must be positive, got {grace_s!r}, {startup_s!r}"
            )
        if not WORKER_SCRIPT.is_file():
            raise SandboxError(
                f"the sandbox worker is missing at {WORKER_SCRIPT}; reinstall beadline"
            )
        if drop_uid is not None and drop_uid != "per-slot" and not isinstance(drop_uid, int):
            raise UserError(
                f"LocalExecutor(drop_uid=...) must be 'per-slot', a uid or None, got {drop_uid!r}"
            )
        self.grace_s = grace_s
        self._per_slot = drop_uid == "per-slot"
        argv = [python or sys.executable, "-u", "-s", "-B", str(WORKER_SCRIPT)]
        if pid_namespace:
            argv.append("--pid-ns")
        if isolate_network:
            argv.append("--unshare-net")
        if cgroup:
            argv += ["--cgroup", "--pids-max", str(pids_max)]
        if tmp_dir is not None:
            argv += ["--tmp", tmp_dir]
        for site in _site_dirs(site_packages):
            argv += ["--site-path", site]
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "MALLOC_ARENA_MAX": "2",
            "HOME": tmp_dir or tempfile.gettempdir(),
            "TMPDIR": tmp_dir or tempfile.gettempdir(),
        }
        self._slots = [_Slot(i, argv, env, startup_s, drop_uid) for i in range(workers)]
        self._free: queue.LifoQueue[_Slot] = queue.LifoQueue()
        for slot in reversed(self._slots):
            self._free.put(slot)
        self._lock = threading.Lock()
        self._closed = False
        self._hardening: Hardening | None = None

    # -- pool -----------------------------------------------------------------------------
    @property
    def workers(self) -> int:
        """Pool size."""
        return len(self._slots)

    @property
    def restarts(self) -> int:
        """How many times a worker was restarted (it died or stopped answering)."""
        return sum(s.restarts for s in self._slots)

    def worker_pids(self) -> list[int]:
        """Host process ids of the running workers, the processes that fork the children
        (for diagnostics and tests)."""
        return [s.worker_pid for s in self._slots if s.proc is not None and s.proc.poll() is None]

    def child_uids(self) -> list[int]:
        """The uids the running workers' children run as (one per slot when per slot)."""
        return [uid for s in self._slots if (uid := s.child_uid) is not None]

    def _take(self) -> _Slot:
        if self._closed:
            raise SandboxError("this LocalExecutor is closed; create a new one")
        return self._free.get()

    def _give(self, slot: _Slot) -> None:
        if self._closed:
            slot.stop()
        self._free.put(slot)

    def warm(self) -> None:
        """Start every worker now (otherwise each starts on first use)."""
        slots = [self._take() for _ in self._slots]
        try:
            with ThreadPoolExecutor(max_workers=len(slots)) as pool:
                list(pool.map(lambda s: s.ensure(), slots))
        finally:
            for slot in slots:
                self._give(slot)

    @property
    def hardening(self) -> Hardening:
        """Which protections are active (starts a worker if none has started yet)."""
        if self._hardening is None:
            slot = self._take()
            try:
                slot.ensure()
                self._hardening = Hardening.from_ready(slot.ready, per_slot_uids=self._per_slot)
            finally:
                self._give(slot)
        return self._hardening

    # -- Executor -------------------------------------------------------------------------
    def run(self, request: RunRequest) -> RunResult:
        """Run one program on its test cases in a worker; see :class:`Executor`."""
        if not request.tests:
            return RunResult(results=(), backend=self.name)
        slot = self._take()
        start = time.monotonic()
        try:
            channel = slot.ensure()
            if self._hardening is None:
                self._hardening = Hardening.from_ready(slot.ready, per_slot_uids=self._per_slot)
            try:
                return channel.run(request, backend=self.name, grace_s=self.grace_s)
            except WorkerTimeout:
                slot.kill()
                waited = run_deadline(request, grace_s=self.grace_s)
                return failed_run(
                    request,
                    "timeout",
                    f"the sandbox worker did not answer within {waited:.1f} s and was restarted",
                    backend=self.name,
                    duration_s=time.monotonic() - start,
                )
            except ChannelError as exc:
                slot.kill()
                return failed_run(
                    request,
                    "killed",
                    f"the sandbox worker died during the run and was restarted ({exc})",
                    backend=self.name,
                    duration_s=time.monotonic() - start,
                )
        finally:
            self._retire_if_needed(slot)
            self._give(slot)

    @staticmethod
    def _retire_if_needed(slot: _Slot) -> None:
        """Replace a worker that must not serve again (a protocol violation, or it could not
        clean up) now rather than on its next use."""
        if slot.channel is not None and slot.channel.broken:
            slot.kill()

    @property
    def protocol_violations(self) -> int:
        """Lines dropped because they were not the signed answer in flight (each one also
        replaced its worker)."""
        return sum(s.violations for s in self._slots)

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        """Run requests concurrently, one per worker; results keep their order."""
        if len(requests) <= 1 or len(self._slots) == 1:
            return [self.run(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(len(self._slots), len(requests))) as pool:
            return list(pool.map(self.run, requests))

    def run_command(self, request: CommandRequest) -> CommandResult:
        """Run a command in a scratch copy of ``request.directory``; see :class:`Executor`."""
        staged: str | None = None
        directory: str | None = None
        if request.directory is not None:
            source = Path(request.directory)
            if not source.is_dir():
                return failed_command(
                    "error", f"directory {source} does not exist or is not a directory"
                )
            directory = str(source.resolve())
            if not _searchable_by_others(source):
                # The worker hides directories only root may enter: stage a copy it can see.
                staged = tempfile.mkdtemp(prefix="beadline-stage")
                os.chmod(staged, 0o755)
                directory = os.path.join(staged, "d")
                shutil.copytree(source, directory, symlinks=True)
        slot = self._take()
        start = time.monotonic()
        try:
            channel = slot.ensure()
            try:
                return channel.command(request, directory=directory, grace_s=self.grace_s)
            except WorkerTimeout:
                slot.kill()
                waited = command_deadline(request, grace_s=self.grace_s)
                return failed_command(
                    "timeout",
                    f"the sandbox worker did not answer within {waited:.1f} s and was restarted",
                    duration_s=time.monotonic() - start,
                )
            except ChannelError as exc:
                slot.kill()
                return failed_command(
                    "killed",
                    f"the sandbox worker died during the command and was restarted ({exc})",
                    duration_s=time.monotonic() - start,
                )
        finally:
            self._retire_if_needed(slot)
            self._give(slot)
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)

    def close(self) -> None:
        """Stop every worker and everything they started. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for slot in self._slots:
            slot.stop()

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={len(self._slots)}, closed={self._closed})"
