"""The local backend: a pool of warm fork-server workers on this machine.

Each worker is ``validators/runtime/worker.py`` run with this Python. It cuts itself off the
network (a private network namespace, when permitted), forks a child per test case that drops
to an unprivileged uid when running as root, joins the worker's private cgroup (pids + memory
limits, when the cgroup file system is writable), and runs under rlimits in a temporary working
directory. :attr:`LocalExecutor.hardening` says which of these are active on this machine
(``beadline doctor`` reports it).

This contains accidents and ordinary hostile programs; it is not a hardened security boundary
against a determined attacker. Use the docker backend for untrusted code where an engine exists.
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
from typing import IO, Any, ClassVar

from beadline.validators.errors import SandboxError, UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
)
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

__all__ = ["WORKER_SCRIPT", "Hardening", "LocalExecutor"]

WORKER_SCRIPT = Path(__file__).resolve().parent.parent / "runtime" / "worker.py"
"""The worker program both backends run."""

_UNPRIVILEGED_UID = 65534


@dataclass(frozen=True, kw_only=True)
class Hardening:
    """Which protections the local sandbox has on this machine (from a worker's ready line)."""

    net_isolated: bool
    """Children have no network (private network namespace)."""
    uid_dropped: bool
    """Children run as an unprivileged uid."""
    uid: int | None = None
    """That uid."""
    cgroup: str = ""
    """``"v1"``/``"v2"`` when children are in a private cgroup (pids limit), else ``""``."""
    cgroup_memory: bool = False
    """The cgroup also limits memory."""
    subreaper: bool = False
    """Orphaned descendants of a run are re-parented to the worker and killed."""
    details: Mapping[str, str] = field(default_factory=dict)
    """``net``/``uid``/``cgroup``: what the worker found."""

    @classmethod
    def from_ready(cls, ready: Mapping[str, Any]) -> Hardening:
        """Read the ``hardening`` object of a worker's ready line."""
        raw = ready.get("hardening") or {}
        return cls(
            net_isolated=bool(raw.get("net_isolated")),
            uid_dropped=bool(raw.get("uid_dropped")),
            uid=raw.get("uid") if isinstance(raw.get("uid"), int) else None,
            cgroup=str(raw.get("cgroup") or ""),
            cgroup_memory=bool(raw.get("cgroup_memory")),
            subreaper=bool(raw.get("subreaper")),
            details={
                "net": str(raw.get("net_detail", "")),
                "uid": str(raw.get("uid_detail", "")),
                "cgroup": str(raw.get("cgroup_detail", "")),
            },
        )

    def checks(self) -> list[tuple[str, bool, str, str]]:
        """``(name, active, detail, fix)`` per protection, for ``beadline doctor``."""
        root = os.geteuid() == 0
        return [
            (
                "local sandbox: network cut off",
                self.net_isolated,
                self.details.get("net", ""),
                ""
                if self.net_isolated
                else "run as root or with CAP_SYS_ADMIN (or enable unprivileged user "
                "namespaces), or use --sandbox docker",
            ),
            (
                "local sandbox: unprivileged uid",
                self.uid_dropped or not root,
                self.details.get("uid", "")
                if root
                else f"runs as uid {os.geteuid()} (not root; nothing to drop)",
                "" if self.uid_dropped or not root else "use --sandbox docker",
            ),
            (
                "local sandbox: cgroup limits",
                bool(self.cgroup),
                self.details.get("cgroup", ""),
                ""
                if self.cgroup
                else "make the cgroup file system writable (run as root), or use --sandbox "
                "docker; until then fork bombs are only limited by RLIMIT_NPROC and the wall time",
            ),
        ]

    def summary(self) -> str:
        """One line: what is active."""
        parts = [
            "no network" if self.net_isolated else "NETWORK REACHABLE",
            f"uid {self.uid}" if self.uid_dropped else f"uid {os.geteuid()}",
            f"cgroup {self.cgroup}" + (" pids+memory" if self.cgroup_memory else " pids")
            if self.cgroup
            else "no cgroup",
            "rlimits",
        ]
        return ", ".join(parts)


class _Slot:
    """One worker process and its channel; restarted on demand."""

    def __init__(self, index: int, argv: list[str], env: dict[str, str], startup_s: float):
        self.index = index
        self.argv = argv
        self.env = env
        self.startup_s = startup_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.ready: dict[str, Any] = {}
        self.log: IO[bytes] | None = None
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
        if self.proc is not None:
            self.kill()
        return self._start()

    def _start(self) -> Channel:
        if self.started:
            self.restarts += 1
        self.started = True
        self.log = tempfile.TemporaryFile(prefix="beadline-worker-log")  # noqa: SIM115 - lives with the worker
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log,
                env=self.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxError(
                f"cannot start the local sandbox worker {self.argv[0]}: {exc}; check that "
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
        return channel

    def _log_tail(self) -> str:
        if self.log is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self.log.seek(0)
            return self.log.read()[-600:].decode("utf-8", "replace").strip()
        return ""

    def kill(self) -> None:
        """Kill the worker (and, through its cgroup, everything it left behind)."""
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
        if self.log is not None:
            self.log.close()
            self.log = None

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
        drop_uid: Unprivileged uid for children when running as root (``None``: keep root).
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
        drop_uid: int | None = _UNPRIVILEGED_UID,
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
        self.grace_s = grace_s
        argv = [python or sys.executable, "-u", "-s", "-B", str(WORKER_SCRIPT)]
        if isolate_network:
            argv.append("--unshare-net")
        if drop_uid is not None:
            argv += ["--drop-uid", str(drop_uid)]
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
        self._slots = [_Slot(i, argv, env, startup_s) for i in range(workers)]
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
        """Process ids of the running workers (for diagnostics and tests)."""
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.poll() is None]

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
                self._hardening = Hardening.from_ready(slot.ready)
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
                self._hardening = Hardening.from_ready(slot.ready)
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
            self._give(slot)

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
