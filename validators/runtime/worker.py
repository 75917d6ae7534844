"""The sandbox worker: a warm fork-server that runs each test case in a fresh, limited child.

Run it as ``python3 -u worker.py [flags]`` (standard library only; no beadline needed). It
imports once, then forks one child per test case (per command), so a run costs a fork, not an
interpreter start-up.

Flags (host-only hardening; inside Docker none is needed)::

    --drop-uid UID        children switch to UID (and --drop-gid, default UID) when root
    --drop-gid GID
    --unshare-net         put the worker (hence every child) in a new, empty network namespace
    --cgroup              give the worker a private cgroup (pids + memory) when writable
    --pids-max N          processes allowed in that cgroup at once (default 128)
    --nproc N             RLIMIT_NPROC of children (default: 256 when dropping to UID)
    --tmp DIR             where per-run scratch directories are made (default: $TMPDIR)
    --site-path DIR       (repeatable) a directory put on sys.path (after the snapshot's roots)
                          of module-mode runs and on PYTHONPATH of commands: the repository's
                          own dependencies (a virtual environment's site-packages); made
                          read-only for children where the worker can (root)

Line protocol (UTF-8 JSON, one object per line, ``\\n``-terminated; the worker's own stdout
carries nothing else: children write to private pipes and never see it)::

    worker -> host, once at start:
      {"ready": true, "protocol": 1, "pid": 123, "python": "3.11.7",
       "hardening": {"net_isolated": bool, "net_detail": str, "uid_dropped": bool,
                     "uid": int|null, "uid_detail": str, "cgroup": "v1"|"v2"|"", "cgroup_memory": bool,
                     "cgroup_detail": str, "subreaper": bool, "nproc": int|null}}
    host -> worker, then exactly one answer line per request, in order:
      {"op": "ping", "id": 1}                     -> {"id": 1, "ok": true, "pong": true}
      {"op": "run", "id": 2, "program": str, "setup": str, "trace": bool,
       "trace_function": str|null, "limits": {Limits fields},
       "module": null | {"name": str, "file": str, "package": bool, "roots": [str],
                         "tree": str, "origin": str|null}     (see runtime/modules.py)
       "tests": [{"kind": "assert"|"check"|"stdio"|"script", "source": str,
                  "entry_point": str|null, "stdin": str, "expected_stdout": str|null}]}
                                                  -> {"id": 2, "ok": true, "results": [
           {"status": "passed"|"failed"|"error"|"timeout"|"killed", "exc_type": str|null,
            "message": str, "line": int|null, "return_repr": str|null,
            "expected_repr": str|null, "stdout": str, "output_truncated": bool,
            "duration_s": float, "trace": {"events": [...], "truncated": bool}}, ...]}
      {"op": "command", "id": 3, "argv": [str], "files": {path: text},
       "directory": str|null, "junit_xml": str|null, "limits": {Limits fields},
       "pythonpath": [str]  (directories relative to the working directory, put on PYTHONPATH)}
                                                  -> {"id": 3, "ok": true, "result": {
           "status": ..., "exit_code": int|null, "stdout": str, "stderr": str,
           "duration_s": float, "message": str,
           "junit": [{"name", "classname", "status", "message"}]}}
      {"op": "exit"}                              -> the worker cleans up and exits (no answer)
      a malformed request                         -> {"id": ..., "ok": false, "error": str}

Each request's time is bounded by its limits (``wall_s`` per test case, plus a few ms); the
host adds a grace and restarts a worker that does not answer in time. End of stdin = exit.
Trace events have the JSON form of ``beadline.validators.executor.Trace``.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import json
import os
import select
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

if __name__ == "__main__" and not __package__:
    # Run as a script: import this folder as a package (its modules import each other
    # relatively), without leaving the folder or its parent on sys.path for the programs.
    import importlib

    _here = os.path.dirname(os.path.abspath(__file__))
    _parent = os.path.dirname(_here)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, _parent)
    try:
        _module = importlib.import_module(os.path.basename(_here) + ".worker")
    finally:
        sys.path.remove(_parent)
    raise SystemExit(_module.main())

from . import harnesses, isolation
from .commands import ScratchError, chown_tree, parse_junit, populate, python_path
from .outcomes import Outcome, compare_stdout, decode_child, ended_without_result, finish

__all__ = ["PROTOCOL_VERSION", "Options", "Worker", "main", "parse_args"]

PROTOCOL_VERSION = 1
"""Bumped on any incompatible change of the line protocol."""

_PRELOAD = (
    "array bisect collections copy dataclasses datetime decimal enum fractions functools "
    "heapq itertools json math operator random re statistics string textwrap typing "
    "unicodedata cmath numbers queue threading subprocess __future__"
)
"""Modules imported once by the worker so children never pay for them."""

_DEFAULT_LIMITS: dict[str, Any] = {
    "wall_s": 2.0,
    "cpu_s": 2.0,
    "memory_mb": 512,
    "output_bytes": 16_384,
    "trace_events": 200,
    "trace_chars": 6_000,
    "repr_chars": 80,
}
_CHILD_ERROR = 70
_WORKER_MEMORY_MB = 128
"""Headroom in the cgroup's memory limit for the worker itself (the child has RLIMIT_AS)."""
_SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class Options:
    """Command-line options of the worker."""

    drop_uid: int | None = None
    """Unprivileged uid for children (used only when the worker runs as root)."""
    drop_gid: int | None = None
    """Its gid (defaults to ``drop_uid``)."""
    unshare_net: bool = False
    """Cut the network off with a private network namespace."""
    cgroup: bool = False
    """Use a private cgroup when the cgroup fs is writable."""
    pids_max: int = 128
    """pids limit of that cgroup."""
    nproc: int | None = None
    """RLIMIT_NPROC of children."""
    tmp: str | None = None
    """Parent directory of the scratch directories."""
    site_paths: list[str] = field(default_factory=list)
    """Extra ``sys.path`` directories of module-mode runs (``--site-path``, repeatable)."""


def parse_args(argv: list[str]) -> Options:
    """Parse the worker's flags (see the module docstring).

    Raises:
        SystemExit: on an unknown flag or a bad value (exit status 2, message on stderr).
    """
    options = Options()
    args = list(argv)
    values = {"--drop-uid", "--drop-gid", "--pids-max", "--nproc", "--tmp", "--site-path"}
    while args:
        flag = args.pop(0)
        try:
            if flag in values:
                value = args.pop(0)
                if flag == "--tmp":
                    options.tmp = value
                elif flag == "--site-path":
                    if not os.path.isabs(value):
                        raise ValueError(f"--site-path needs an absolute directory, got {value!r}")
                    options.site_paths.append(value)
                else:
                    setattr(options, flag[2:].replace("-", "_"), int(value))
            elif flag == "--unshare-net":
                options.unshare_net = True
            elif flag == "--cgroup":
                options.cgroup = True
            else:
                raise ValueError(f"unknown flag {flag}")
        except (IndexError, ValueError) as exc:
            sys.stderr.write(f"worker.py: bad arguments: {exc}\n")
            raise SystemExit(2) from exc
    return options


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def _rmtree(path: str) -> None:
    def fix(func: Callable[..., Any], target: str, _info: Any) -> None:
        # A program may chmod its files read-only; make them removable and retry once.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            func(target)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=fix)
    else:
        shutil.rmtree(path, onerror=fix)


def _processes_of(uid: int) -> int:
    """How many processes ``uid`` has now."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
    return count


def _scratch_parent() -> str | None:
    """A memory-backed directory for the per-run scratch directories when the default one is
    on disk (creating and removing a directory per run costs ~3 ms on ext4, ~0.1 ms on tmpfs).
    ``None``: the default temporary directory."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    big_enough = stats.f_bavail * stats.f_frsize >= 1 << 30
    if big_enough and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


def _limits(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    limits = dict(_DEFAULT_LIMITS)
    for key, value in (raw or {}).items():
        if key in limits and isinstance(value, int | float) and value > 0:
            limits[key] = value
    return limits


class Worker:
    """The fork-server. :meth:`serve` runs the protocol loop on fds 0 and 1."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.hardening: dict[str, Any] = {}
        self.counter = 0
        self.base_dir = ""
        self.devnull = -1
        self.cgroups = isolation.Cgroups()
        self.drop: tuple[int, int] | None = None
        self.nproc: int | None = options.nproc
        self.has_pidfd = hasattr(os, "pidfd_open")
        self.oom_seen = 0
        self.shared_tmp_seen: dict[str, int] = {}
        self.read_only: dict[str, str | None] = {}
        """Paths made read-only for children (value: ``None``, or why that failed)."""

    # -- set-up ---------------------------------------------------------------------------
    def setup(self) -> None:
        """Apply worker-wide hardening, make the scratch root, preload modules."""
        options = self.options
        net_detail = "not requested"
        net_ok = False
        if options.unshare_net:
            problem = isolation.unshare_network()
            net_ok = problem is None
            net_detail = problem or "private network namespace (no interfaces up)"
        subreaper = isolation.set_subreaper()
        if options.drop_uid is not None and os.geteuid() == 0:
            gid = options.drop_gid if options.drop_gid is not None else options.drop_uid
            self.drop = (options.drop_uid, gid)
            if self.nproc is None:
                self.nproc = 256
        drop_detail = "not requested" if options.drop_uid is None else "not root"
        if self.drop is not None:
            drop_detail = self._make_reachable()
        if self.drop is None and self.nproc is None and os.geteuid() != 0:
            # RLIMIT_NPROC counts every process of the user: leave room for what runs already.
            self.nproc = _processes_of(os.getuid()) + 256
        if options.cgroup:
            self.cgroups = isolation.Cgroups.create(
                f"beadline-{os.getpid()}", pids_max=options.pids_max + 1
            )
            if self.cgroups.active:
                self.oom_seen = self.cgroups.oom_events()
                self.cgroups.join()
                isolation.set_oom_score(-500)  # the kernel should kill a child, not the worker
        self.base_dir = tempfile.mkdtemp(prefix="beadline-w", dir=options.tmp or _scratch_parent())
        os.chmod(self.base_dir, 0o711)
        for path in options.site_paths:
            self._protect(path)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        for name in _PRELOAD.split():
            with contextlib.suppress(ImportError):
                __import__(name)
        # Children touch few of the worker's objects: keep the collector off the inherited
        # ones so a child's GC does not copy every page of the worker (copy-on-write).
        gc.collect()
        gc.freeze()
        self.hardening = {
            "net_isolated": net_ok,
            "net_detail": net_detail,
            "uid_dropped": self.drop is not None,
            "uid": self.drop[0] if self.drop else None,
            "uid_detail": drop_detail,
            "cgroup": self.cgroups.version,
            "cgroup_memory": self.cgroups.has_memory,
            "cgroup_detail": (
                f"pids.max={options.pids_max}" + (" + memory" if self.cgroups.has_memory else "")
                if self.cgroups.active
                else (self.cgroups.reason or "not requested")
            ),
            "subreaper": subreaper,
            "nproc": self.nproc,
        }

    def _make_reachable(self) -> str:
        """Let the unprivileged uid reach the interpreter; give up the uid drop otherwise."""
        assert self.drop is not None
        stdlib = os.path.dirname(os.__file__)
        needs = [sys.executable, os.path.realpath(sys.executable), stdlib, sys.prefix]
        needs += [p for p in sys.path if os.path.isabs(p) and os.path.isdir(p)]
        needs += [p for p in self.options.site_paths if os.path.isdir(p)]
        staging = tempfile.mkdtemp(prefix="beadline-stage")
        try:
            problem = isolation.expose_to_others(needs, staging)
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(staging)
        probe = [os.path.realpath(sys.executable), os.path.join(stdlib, "socket.py")]
        pid = os.fork()
        if pid == 0:
            try:
                isolation.drop_privileges(*self.drop)
                ok = os.access(probe[0], os.X_OK) and os.access(probe[1], os.R_OK)
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            return f"children run as uid {self.drop[0]}"
        uid = self.drop[0]
        self.drop = None
        self.nproc = self.options.nproc
        return (
            f"uid {uid} cannot read the interpreter at {probe[0]} ({problem or 'permissions'}): "
            "children keep the worker's uid"
        )

    def _protect(self, path: str) -> None:
        """Make ``path`` read-only for every later child, once (root only; best effort: the
        children's uid and the files' modes still apply where this is not possible)."""
        if path in self.read_only or not os.path.isdir(path):
            return
        scratch = self.base_dir.rstrip("/") + "/"
        if os.geteuid() != 0:
            self.read_only[path] = "not root"
        elif scratch.startswith(path.rstrip("/") + "/"):
            self.read_only[path] = "holds the scratch directories"
        else:
            self.read_only[path] = isolation.bind_read_only(path)

    def _sweep_shared_tmp(self) -> None:
        """Remove what the unprivileged uid left in world-writable directories (``/tmp``...).

        Children get their own ``TMPDIR``; anything they put directly into a shared temporary
        directory is an effect outside their sandbox, undone here after every run.
        """
        if self.drop is None:
            return
        uid = self.drop[0]
        for shared in _SHARED_TMP:
            try:
                # A directory's mtime changes whenever an entry is added: skip unchanged ones.
                stamp = os.stat(shared).st_mtime_ns
                if self.shared_tmp_seen.get(shared) == stamp:
                    continue
                entries = os.scandir(shared)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.stat(follow_symlinks=False).st_uid != uid:
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            _rmtree(entry.path)
                        else:
                            os.unlink(entry.path)
                    except OSError:
                        continue
            with contextlib.suppress(OSError):
                stamp = os.stat(shared).st_mtime_ns
                # Trust the stamp only once the coarse file-system clock has moved past it.
                if time.time_ns() - stamp > 50_000_000:
                    self.shared_tmp_seen[shared] = stamp

    def close(self) -> None:
        """Kill what is left, remove the scratch root and the cgroup."""
        isolation.kill_adopted()
        self.cgroups.close()
        if self.base_dir:
            _rmtree(self.base_dir)
            self.base_dir = ""

    # -- one child ------------------------------------------------------------------------
    def _new_dir(self, prefix: str) -> str:
        self.counter += 1
        path = os.path.join(self.base_dir, f"{prefix}{self.counter}")
        os.mkdir(path, 0o700)
        if self.drop is not None:
            os.chown(path, *self.drop)
        return path

    def _launch(
        self,
        run_dir: str,
        limits: Mapping[str, Any],
        body: Callable[[int], None],
        *,
        stdin: str | None = None,
        command: bool = False,
    ) -> Outcome:
        """Fork a child that isolates itself and calls ``body(result_fd)``; watch it."""
        out_cap = int(limits["output_bytes"])
        hard_cap = max(1 << 20, 64 * out_cap)
        wall = float(limits["wall_s"])
        memory_mb = int(limits["memory_mb"])
        self.cgroups.set_memory(memory_mb + _WORKER_MEMORY_MB)
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe() if command else (-1, -1)
        in_fd = self.devnull
        if stdin:
            data = stdin.encode("utf-8", "surrogateescape")
            if len(data) <= 60_000:
                in_fd, in_w = os.pipe()
                _write_all(in_w, data)
                os.close(in_w)
            else:
                path = os.path.join(run_dir, ".stdin")
                with open(path, "wb") as handle:
                    handle.write(data)
                in_fd = os.open(path, os.O_RDONLY)
        start = time.perf_counter()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # ------------------------------------------------------------ child
            try:
                os.setsid()
                if self.cgroups.active:
                    isolation.set_oom_score(1000)
                os.dup2(in_fd, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w if command else self.devnull, 2)
                for fd in {res_r, out_r, err_r, out_w, err_w, in_fd, self.devnull} - {-1, 0, 1, 2}:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                os.chdir(run_dir)
                os.environ["HOME"] = os.environ["TMPDIR"] = run_dir
                isolation.apply_rlimits(
                    memory_mb=memory_mb,
                    cpu_s=float(limits["cpu_s"]),
                    fsize_mb=memory_mb if command else min(memory_mb, 64),
                    nofile=1024 if command else 256,
                    nproc=self.nproc,
                )
                if self.drop is not None:
                    isolation.drop_privileges(*self.drop)
                isolation.die_with_parent()
                if os.getppid() != parent:  # the worker died before we could notice
                    os._exit(_CHILD_ERROR)
                body(res_w)
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    message = f"sandbox child set-up failed: {type(exc).__name__}: {exc}"
                    _write_all(res_w, json.dumps({"child_error": message}).encode())
            os._exit(_CHILD_ERROR)
        # ---------------------------------------------------------------------- parent
        for fd in (res_w, out_w, err_w):
            if fd >= 0:
                os.close(fd)
        if in_fd != self.devnull:
            os.close(in_fd)
        outcome = self._watch(pid, start, wall, hard_cap, res_r, out_r, err_r)
        for fd in (res_r, out_r, err_r):
            if fd >= 0:
                os.close(fd)
        killed = os.WIFSIGNALED(outcome.wait_status) and (
            os.WTERMSIG(outcome.wait_status) == signal.SIGKILL
        )
        if killed and self.cgroups.has_memory:  # only then is the counter worth reading
            count = self.cgroups.oom_events()
            outcome.oom = count > self.oom_seen
            self.oom_seen = count
        return outcome

    def _watch(
        self, pid: int, start: float, wall: float, hard_cap: int, res_r: int, out_r: int, err_r: int
    ) -> Outcome:
        outcome = Outcome()
        buffers: dict[int, list[bytes]] = {res_r: [], out_r: []}
        sizes = {res_r: 0, out_r: 0}
        if err_r >= 0:
            buffers[err_r] = []
            sizes[err_r] = 0
        pidfd = -1
        if self.has_pidfd:
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                self.has_pidfd = False
        poller = select.poll()
        for fd in buffers:
            poller.register(fd, select.POLLIN)
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        deadline = start + wall
        exited = False
        reaped = False
        status = 0

        def take(fd: int) -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                poller.unregister(fd)
                open_fds.discard(fd)
                return
            sizes[fd] += len(data)
            if sizes[fd] <= hard_cap:
                buffers[fd].append(data)

        open_fds = set(buffers)
        while True:
            now = time.perf_counter()
            if now >= deadline:
                outcome.timed_out = True
                break
            timeout_ms = (deadline - now) * 1000.0
            if pidfd < 0:
                timeout_ms = min(timeout_ms, 2.0)
            try:
                events = poller.poll(max(1, int(timeout_ms + 1)))
            except InterruptedError:
                continue
            for fd, _event in events:
                if fd == pidfd:
                    exited = True
                else:
                    take(fd)
            if pidfd < 0:
                done, status = os.waitpid(pid, os.WNOHANG)
                reaped = done != 0
                exited = exited or reaped
            if sizes[out_r] > hard_cap or (err_r >= 0 and sizes[err_r] > hard_cap):
                outcome.output_exceeded = True
                break
            if exited:
                break
        if not exited or outcome.output_exceeded:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        isolation.kill_group(pid)
        if not reaped:
            try:
                _, status, usage = os.wait4(pid, 0)
                outcome.cpu_s = usage.ru_utime + usage.ru_stime
            except ChildProcessError:  # pragma: no cover - reaped elsewhere
                status = 0
        if self.cgroups.active:
            self.cgroups.kill_all()
        outcome.duration_s = time.perf_counter() - start
        outcome.wait_status = status
        isolation.kill_adopted()
        # Everything that could write is dead: drain what is still buffered in the pipes.
        for fd in list(open_fds):
            os.set_blocking(fd, False)
            while fd in open_fds and sizes[fd] <= hard_cap:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                sizes[fd] += len(data)
                buffers[fd].append(data)
        if pidfd >= 0:
            os.close(pidfd)
        outcome.result = b"".join(buffers[res_r])
        outcome.stdout = b"".join(buffers[out_r])
        outcome.stdout_total = sizes[out_r]
        if err_r >= 0:
            outcome.stderr = b"".join(buffers[err_r])
            outcome.extra["stderr_total"] = sizes[err_r]
        if sizes[out_r] > hard_cap or (err_r >= 0 and sizes[err_r] > hard_cap):
            outcome.output_exceeded = True
        return outcome

    # -- run requests ---------------------------------------------------------------------
    def run(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run every test case of a ``run`` request, each in its own child."""
        limits = _limits(request.get("limits"))
        prepared = harnesses.prepare({**request, "limits": limits}, site=self.options.site_paths)
        if prepared.module is not None:
            for path in (prepared.module.tree, prepared.module.origin):
                if path:
                    self._protect(path)
        results = []
        for case in prepared.cases:
            if prepared.error is not None or case.error is not None:
                ready = dict(prepared.error or case.error or {})
                results.append(finish(ready, b"", 0, 0.0, limits))
                continue
            results.append(self._run_case(prepared, case, limits))
        return results

    def _run_case(
        self, prepared: harnesses.Prepared, case: harnesses.PreparedCase, limits: dict[str, Any]
    ) -> dict[str, Any]:
        run_dir = self._new_dir("r")

        def body(result_fd: int) -> NoReturn:
            me = os.getpid()
            sys.stdin = io.TextIOWrapper(
                io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="replace"
            )
            sys.stdout = io.TextIOWrapper(
                io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
            )
            sys.stderr = io.TextIOWrapper(
                io.FileIO(2, "w", closefd=False),
                encoding="utf-8",
                errors="backslashreplace",
                line_buffering=True,
            )
            result = harnesses.run_case(prepared, case)
            if os.getpid() != me:  # a process the program forked: never report
                os._exit(0)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            _write_all(result_fd, json.dumps(result).encode("ascii"))
            os._exit(0)

        try:
            outcome = self._launch(run_dir, limits, body, stdin=case.stdin or None)
        finally:
            _rmtree(run_dir)
            self._sweep_shared_tmp()
        if outcome.timed_out:
            result: dict[str, Any] = {
                "status": "timeout",
                "exc_type": None,
                "message": f"timed out after {limits['wall_s']} s",
            }
        elif outcome.output_exceeded:
            result = {
                "status": "killed",
                "exc_type": None,
                "message": f"output limit exceeded: the program wrote more than {max(1 << 20, 64 * int(limits['output_bytes']))} bytes",
            }
        else:
            result = decode_child(outcome, limits)
            if case.kind == "stdio" and result.get("status") == "passed":
                result.update(compare_stdout(outcome.stdout, case.expected_stdout, limits))
        return finish(result, outcome.stdout, outcome.stdout_total, outcome.duration_s, limits)

    # -- command requests -----------------------------------------------------------------
    def command(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Run a ``command`` request in a scratch copy of its directory."""
        raw_limits = {"wall_s": 120.0, "cpu_s": 120.0, "memory_mb": 1024}
        raw_limits.update(request.get("limits") or {})
        limits = _limits(raw_limits)
        argv = [str(a) for a in request.get("argv") or ()]
        if not argv:
            return {"status": "error", "exit_code": None, "message": "empty argv"}
        if argv[0] == "python":
            argv[0] = sys.executable
        run_dir = self._new_dir("c")
        try:
            try:
                populate(run_dir, request.get("directory"), request.get("files") or {})
                if self.drop is not None:
                    chown_tree(run_dir, *self.drop)
            except ScratchError as exc:
                return {"status": "error", "exit_code": None, "message": str(exc)}
            env = {
                "PATH": os.pathsep.join(
                    [os.path.dirname(sys.executable), os.environ.get("PATH", "/usr/bin:/bin")]
                ),
                "LANG": "C.UTF-8",
                "PYTHONHASHSEED": "0",
                "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": run_dir,
                "TMPDIR": run_dir,
            }
            pythonpath = python_path(run_dir, request.get("pythonpath"), self.options.site_paths)
            if pythonpath:
                env["PYTHONPATH"] = pythonpath

            def body(result_fd: int) -> NoReturn:
                for number in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
                    signal.signal(number, signal.SIG_DFL)
                try:
                    os.execvpe(argv[0], argv, env)
                except OSError as exc:
                    reason = (
                        f"command not found: {argv[0]}"
                        if exc.errno == errno.ENOENT
                        else f"cannot run {argv[0]}: {exc.strerror}"
                    )
                    _write_all(result_fd, json.dumps({"exec_error": reason}).encode())
                os._exit(127)

            outcome = self._launch(run_dir, limits, body, command=True)
            junit: list[dict[str, Any]] = []
            problem = ""
            if request.get("junit_xml"):
                try:
                    junit_path = os.path.join(run_dir, str(request["junit_xml"]))
                    junit, problem = parse_junit(junit_path)
                except OSError as exc:
                    problem = f"cannot read the JUnit report: {exc}"
        finally:
            _rmtree(run_dir)
            self._sweep_shared_tmp()
        cap = int(limits["output_bytes"])
        result: dict[str, Any] = {
            "exit_code": None,
            "stdout": outcome.stdout[:cap].decode("utf-8", "replace"),
            "stderr": outcome.stderr[:cap].decode("utf-8", "replace"),
            "duration_s": round(outcome.duration_s, 6),
            "junit": junit,
        }
        exec_error = ""
        if outcome.result:
            with contextlib.suppress(ValueError, AttributeError):
                exec_error = str(json.loads(outcome.result).get("exec_error", ""))
        if outcome.timed_out:
            result.update(status="timeout", message=f"timed out after {limits['wall_s']} s")
        elif outcome.output_exceeded:
            result.update(status="killed", message="output limit exceeded")
        elif exec_error:
            result.update(status="error", message=exec_error)
        elif os.WIFEXITED(outcome.wait_status):
            code = os.WEXITSTATUS(outcome.wait_status)
            result.update(
                status="passed" if code == 0 else "failed",
                exit_code=code,
                message=f"exit status {code}" + (f"; {problem}" if problem else ""),
            )
        else:
            status, message = ended_without_result(outcome, limits)
            result.update(status=status, message=message)
        return result

    # -- protocol loop --------------------------------------------------------------------
    def handle(self, line: bytes) -> dict[str, Any] | None:
        """Answer one request line (``None`` for ``exit``)."""
        request_id: Any = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request must be a JSON object")
            request_id = request.get("id")
            op = request.get("op")
            if op == "ping":
                return {"id": request_id, "ok": True, "pong": True}
            if op == "run":
                return {"id": request_id, "ok": True, "results": self.run(request)}
            if op == "command":
                return {"id": request_id, "ok": True, "result": self.command(request)}
            if op == "exit":
                return None
            raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # a malformed request must never take the worker down
            return {"id": request_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def serve(self, in_fd: int = 0, out_fd: int = 1) -> None:
        """Print the ready line, then answer requests until ``exit`` or end of input."""
        ready = {
            "ready": True,
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "python": ".".join(map(str, sys.version_info[:3])),
            "hardening": self.hardening,
        }
        _write_all(out_fd, json.dumps(ready).encode("ascii") + b"\n")
        pending = b""
        while True:
            newline = pending.find(b"\n")
            if newline < 0:
                try:
                    chunk = os.read(in_fd, 1 << 20)
                except InterruptedError:
                    continue
                if not chunk:
                    return
                pending += chunk
                continue
            line, pending = pending[:newline], pending[newline + 1 :]
            if not line.strip():
                continue
            answer = self.handle(line)
            if answer is None:
                return
            _write_all(out_fd, json.dumps(answer).encode("ascii") + b"\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python3 -u worker.py [flags]``."""
    options = parse_args(sys.argv[1:] if argv is None else argv)
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Reprs of sets/dicts must not change run to run: restart with a fixed hash seed.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Protocol I/O goes through fds 0/1 directly; keep Python's objects off them.
    sys.stdout = sys.stderr
    worker = Worker(options)
    try:
        worker.setup()
        worker.serve()
    finally:
        worker.close()
    return 0
