"""The sandbox worker: a warm fork-server that runs each test case in a fresh, limited child.

Run it as ``python3 -u worker.py [flags]`` (standard library only; no beadline needed). It
imports once, then forks one child per test case (per command), so a run costs a fork, not an
interpreter start-up.

Flags (host-only hardening; inside Docker only ``--drop-uid`` is used)::

    --drop-uid UID        children switch to UID (and --drop-gid, default UID) when root
    --drop-gid GID
    --pid-ns              become PID 1 of a new PID namespace with a private /proc (hidepid=2)
    --unshare-net         put the worker (hence every child) in a new, empty network namespace
    --cgroup              give the worker a private cgroup (pids + memory) when writable
    --pids-max N          processes allowed in that cgroup at once (default 128)
    --nproc N             RLIMIT_NPROC of children (default: 256 when dropping to UID)
    --tmp DIR             where per-run scratch directories are made (default: $TMPDIR)
    --site-path DIR       (repeatable) a directory put on sys.path (after the snapshot's roots)
                          of module-mode runs and on PYTHONPATH of commands: the repository's
                          own dependencies (a virtual environment's site-packages); made
                          read-only for children where the worker can (root)

Line protocol, version 3 (the worker's own stdout carries nothing else: children write to
private pipes, never see the protocol descriptors, and run as another uid)::

    host -> worker, first: 32 raw bytes, the per-worker key (read by the signer process only,
      see ``signing.py``); then one JSON request per line.
    worker -> host: one line per answer, ``JSON \t HMAC-hex \n``, the MAC over the request id
      (0 for the ready line) and the JSON bytes; the host drops any line that does not verify.
      Once at start:
      {"ready": true, "protocol": 2, "pid": 123, "python": "3.11.7",
       "hardening": {"net_isolated": bool, "net_detail": str, "uid_dropped": bool,
                     "uid": int|null, "uid_detail": str, "cgroup": "v1"|"v2"|"", "cgroup_memory": bool,
                     "cgroup_detail": str, "subreaper": bool, "nproc": int|null,
                     "pid_ns": bool, "proc_hidden": bool, "pid_ns_detail": str,
                     "worker_uid": int, "signed": true, "scratch": str}}
    host -> worker, then exactly one answer line per request, in order:
      {"op": "ping", "id": 1}                     -> {"id": 1, "ok": true, "pong": true}
      {"op": "run", "id": 2, "program": str, "setup": str, "trace": bool,
       "trace_function": str|null, "limits": {Limits fields},
       "module": null | {"name": str, "file": str, "package": bool, "roots": [str],
                         "tree": str, "origin": str|null}     (see runtime/modules.py)
       "tests": [{"kind": "value"|"assert"|"check"|"stdio"|"script", "source": str,
                  "entry_point": str|null, "stdin": str, "expected_stdout": str|null,
                  "truth": bool (value), "record": bool (check)}]}
                  (see runtime/harnesses.py; the host keeps what it judges itself)
                                                  -> {"id": 2, "ok": true, "results": [
           {"status": "passed"|"failed"|"error"|"timeout"|"killed", "exc_type": str|null,
            "message": str, "line": int|null, "return_repr": str|null,
            "expected_repr": str|null, "stdout": str, "output_truncated": bool,
            "duration_s": float, "trace": {"events": [...], "truncated": bool},
            "value": [...] (value), "truth": bool (value, when asked), "records": [[i, [...],
            bool|null], ...] (recording check), "stdout_digest": hex (stdio)}, ...]}
      {"op": "command", "id": 3, "argv": [str], "files": {path: text},
       "directory": str|null, "junit_xml": str|null, "limits": {Limits fields},
       "pythonpath": [str]  (directories relative to the working directory, put on PYTHONPATH)}
                                                  -> {"id": 3, "ok": true, "result": {
           "status": ..., "exit_code": int|null, "stdout": str, "stderr": str,
           "duration_s": float, "message": str,
           "junit": [{"name", "classname", "status", "message"}]}}
      {"op": "exit"}                              -> the worker cleans up and exits (no answer)
      a malformed request                         -> {"id": ..., "ok": false, "error": str}
    Any answer may carry ``"recycle": "why"``: the worker could not clean up after a program
    (e.g. a tree it could not remove); the answer is valid, but the host should replace it.

Each request's time is bounded by its limits (``wall_s`` per test case, plus a few ms); the
host adds a grace and restarts a worker that does not answer in time. End of stdin = exit.
Every text in an answer is capped (``outcomes.py``). Trace events have the JSON form of
``beadline.validators.executor.Trace``.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
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
from .cleanup import remove_tree
from .commands import (
    ScratchError,
    chown_tree,
    command_env,
    command_result,
    exec_body,
    populate,
    python_path,
    read_junit,
    remove_stale_report,
)
from .outcomes import (
    Outcome,
    cap_command,
    case_result,
    finish,
)
from .signing import Signer, SignerError, frame
from .watch import ChildWatch, Pipes

__all__ = ["PROTOCOL_VERSION", "Options", "Worker", "main", "parse_args"]

PROTOCOL_VERSION = 3
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
_CLEAN_S = 1.0
"""Seconds a run's scratch removal may take; past that the worker asks to be recycled."""


@dataclass
class Options:
    """Command-line options of the worker."""

    drop_uid: int | None = None
    """Unprivileged uid for children (used only when the worker runs as root)."""
    drop_gid: int | None = None
    """Its gid (defaults to ``drop_uid``)."""
    pid_ns: bool = False
    """Run as PID 1 of a private PID namespace with a private ``/proc``."""
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


_SWITCHES = {"--unshare-net": "unshare_net", "--cgroup": "cgroup", "--pid-ns": "pid_ns"}


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
            elif flag in _SWITCHES:
                setattr(options, _SWITCHES[flag], True)
            else:
                raise ValueError(f"unknown flag {flag}")
        except (IndexError, ValueError) as exc:
            sys.stderr.write(f"worker.py: bad arguments: {exc}\n")
            raise SystemExit(2) from exc
    return options


# Taken at import, before any program runs: a child whose program rebinds ``os.write``,
# ``os._exit`` or ``json.dumps`` does not change what the harness sends.
_os_write = os.write
_os_exit = os._exit
_getpid = os.getpid
_dumps = json.dumps


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = _os_write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


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
    """The fork-server. :meth:`serve` runs the protocol loop on fds 0 and 1.

    Args:
        options: The parsed flags.
        signer: The process holding the key (:meth:`serve` needs one; see ``signing.py``).
        host_pid: The worker's pid as the host sees it (names the cgroup).
        pid_ns: What the PID namespace set-up achieved.
    """

    def __init__(
        self,
        options: Options,
        *,
        signer: Signer | None = None,
        host_pid: int | None = None,
        pid_ns: isolation.PidNamespace | None = None,
    ) -> None:
        self.options = options
        self.signer = signer
        self.host_pid = host_pid if host_pid is not None else os.getpid()
        self.pid_ns = pid_ns or isolation.PidNamespace()
        self.hardening: dict[str, Any] = {}
        self.counter = 0
        self.base_dir = ""
        self.devnull = -1
        self.cgroups = isolation.Cgroups()
        self.cgroup_holds_children = False
        """The worker is in its cgroup, so every child is born there (and cannot leave)."""
        self.drop: tuple[int, int] | None = None
        self.nproc: int | None = options.nproc
        self.has_pidfd = hasattr(os, "pidfd_open")
        self.oom_seen = 0
        self.shared_tmp_seen: dict[str, int] = {}
        self.recycle_reason = ""
        """Set when a clean-up failed: the next answer asks the host to replace the worker."""
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
        # Processes of the worker's own uid may not open its /proc files or ptrace it.
        isolation.set_dumpable(False)
        drop_detail = self._setup_drop()
        self._setup_cgroup()
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
        self.hardening = self._report(net_ok, net_detail, drop_detail, subreaper)

    def _setup_drop(self) -> str:
        """Decide the children's uid (and RLIMIT_NPROC); return what the report says."""
        options = self.options
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
        return drop_detail

    def _setup_cgroup(self) -> None:
        options = self.options
        if not options.cgroup:
            return
        self.cgroups = isolation.Cgroups.create(
            f"beadline-{self.host_pid}", pids_max=options.pids_max + 1
        )
        if self.cgroups.active:
            self.oom_seen = self.cgroups.oom_events()
            self.cgroups.join()
            self.cgroup_holds_children = os.getpid() in self.cgroups.members()
            isolation.set_oom_score(-500)  # the kernel should kill a child, not the worker

    def _report(
        self, net_ok: bool, net_detail: str, drop_detail: str, subreaper: bool
    ) -> dict[str, Any]:
        """The ``hardening`` object of the ready line."""
        options = self.options
        return {
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
            "pid_ns": self.pid_ns.active,
            "proc_hidden": self.pid_ns.proc_hidden,
            "pid_ns_detail": self.pid_ns.detail,
            "worker_uid": os.geteuid(),
            "signed": self.signer is not None,
            "scratch": self.base_dir,
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

    # -- clean-up -------------------------------------------------------------------------
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
                    except OSError:
                        continue
                    if not remove_tree(entry.path, deadline_s=_CLEAN_S):
                        self.recycle_reason = f"could not remove {entry.path}"
            with contextlib.suppress(OSError):
                stamp = os.stat(shared).st_mtime_ns
                # Trust the stamp only once the coarse file-system clock has moved past it.
                if time.time_ns() - stamp > 50_000_000:
                    self.shared_tmp_seen[shared] = stamp

    def _clean(self, run_dir: str) -> None:
        """Remove a run's scratch directory and its litter; never raises. What cannot be
        removed makes the worker ask to be recycled (the result still goes out)."""
        if not remove_tree(run_dir, deadline_s=_CLEAN_S):
            self.recycle_reason = f"could not remove the scratch directory {run_dir}"
        self._sweep_shared_tmp()

    def _kill_leftovers(self) -> None:
        """Kill every process a run left (cgroup members, adopted orphans) but the signer."""
        if self.cgroups.active and self.cgroups.kill_all() == 0 and self.cgroup_holds_children:
            # Every process a run starts is born in the worker's cgroup and cannot leave it:
            # an empty cgroup means nothing is left to kill, only zombies to collect (this
            # skips the /proc walk of kill_adopted on the common path).
            isolation.reap_zombies()
            return
        keep = frozenset({self.signer.pid}) if self.signer is not None else frozenset()
        isolation.kill_adopted(keep)

    def close(self) -> None:
        """Kill what is left, remove the scratch root and the cgroup, stop the signer."""
        self._kill_leftovers()
        self.cgroups.close()
        if self.base_dir:
            remove_tree(self.base_dir)
            self.base_dir = ""
        if self.signer is not None:
            self.signer.close()

    # -- one child ------------------------------------------------------------------------
    def _new_dir(self, prefix: str, *, chown: bool = True) -> str:
        """A fresh scratch directory, given to the children's uid unless ``chown`` is False
        (a command's is filled first, then given away as a whole)."""
        self.counter += 1
        path = os.path.join(self.base_dir, f"{prefix}{self.counter}")
        os.mkdir(path, 0o700)
        if chown and self.drop is not None:
            os.chown(path, *self.drop)
        return path

    def _stdin_fd(self, run_dir: str, stdin: str | None) -> int:
        """A descriptor the child reads as stdin: /dev/null, a pipe, or a file for big inputs."""
        if not stdin:
            return self.devnull
        data = stdin.encode("utf-8", "surrogateescape")
        if len(data) <= 60_000:
            read_end, write_end = os.pipe()
            _write_all(write_end, data)
            os.close(write_end)
            return read_end
        path = os.path.join(run_dir, ".stdin")
        with open(path, "wb") as handle:
            handle.write(data)
        return os.open(path, os.O_RDONLY)

    def _become_child(
        self, run_dir: str, limits: Mapping[str, Any], fds: tuple[int, int, int], command: bool
    ) -> None:
        """In the forked child, before any program code: isolate, limit, drop privileges.

        ``fds`` are (stdin, stdout, stderr) for the child. Every other descriptor but the
        result pipe's write end is closed first, the protocol's and the signer's included.
        """
        os.setsid()
        if self.cgroups.active:
            isolation.set_oom_score(1000)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        memory_mb = int(limits["memory_mb"])
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
        hard_cap = max(1 << 20, 64 * int(limits["output_bytes"]))
        self.cgroups.set_memory(int(limits["memory_mb"]) + _WORKER_MEMORY_MB)
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe() if command else (-1, -1)
        in_fd = self._stdin_fd(run_dir, stdin)
        start = time.perf_counter()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # ------------------------------------------------------------ child
            try:
                self._become_child(
                    run_dir, limits, (in_fd, out_w, err_w if command else self.devnull), command
                )
                isolation.close_fds_except({res_w})
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
        pipes = Pipes(result=res_r, out=out_r, err=err_r)
        try:
            outcome = self._watch(pid, pipes, start, float(limits["wall_s"]), hard_cap)
        finally:
            for fd in pipes.all():
                os.close(fd)
        return outcome

    def _watch(self, pid: int, pipes: Pipes, start: float, wall_s: float, hard_cap: int) -> Outcome:
        """Wait for the child (see :class:`ChildWatch`), kill what it left, read its pipes."""
        watch = ChildWatch(pid, pipes, hard_cap=hard_cap, use_pidfd=self.has_pidfd)
        self.has_pidfd = watch.pidfd_works
        outcome = watch.wait(start, wall_s)
        self._kill_leftovers()
        watch.finish(outcome)
        killed = os.WIFSIGNALED(outcome.wait_status) and (
            os.WTERMSIG(outcome.wait_status) == signal.SIGKILL
        )
        if killed and self.cgroups.has_memory:  # only then is the counter worth reading
            count = self.cgroups.oom_events()
            outcome.oom = count > self.oom_seen
            self.oom_seen = count
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
        try:
            outcome = self._launch(
                run_dir, limits, partial(_case_body, prepared, case), stdin=case.stdin or None
            )
        finally:
            self._clean(run_dir)
        return case_result(outcome, case.kind, case.expected_stdout, limits)

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
        run_dir = self._new_dir("c", chown=False)
        try:
            try:
                populate(run_dir, request.get("directory"), request.get("files") or {})
                remove_stale_report(run_dir, request.get("junit_xml"))
                if self.drop is not None:
                    chown_tree(run_dir, *self.drop)
            except ScratchError as exc:
                return {"status": "error", "exit_code": None, "message": str(exc)}
            env = command_env(run_dir)
            pythonpath = python_path(run_dir, request.get("pythonpath"), self.options.site_paths)
            if pythonpath:
                env["PYTHONPATH"] = pythonpath
            body = partial(exec_body, argv, env)
            outcome = self._launch(run_dir, limits, body, command=True)
            junit, problem = read_junit(run_dir, request.get("junit_xml"))
        finally:
            self._clean(run_dir)
        return cap_command(command_result(outcome, limits, junit, problem))

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

    def send(self, out_fd: int, request_id: int, answer: dict[str, Any]) -> None:
        """Write one signed answer line (see ``signing.py``).

        Raises:
            SignerError: the worker has no signer, or it is gone.
        """
        if self.signer is None:
            raise SignerError("this worker has no signer: start it through main()")
        if self.recycle_reason:
            answer["recycle"] = self.recycle_reason
        body = json.dumps(answer).encode("ascii")
        _write_all(out_fd, frame(body, self.signer.sign(request_id, body)))

    def serve(self, in_fd: int = 0, out_fd: int = 1) -> None:
        """Print the ready line, then answer requests until ``exit`` or end of input."""
        ready = {
            "ready": True,
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "host_pid": self.host_pid,
            "python": ".".join(map(str, sys.version_info[:3])),
            "hardening": self.hardening,
        }
        self.send(out_fd, 0, ready)
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
            request_id = answer.get("id")
            if not isinstance(request_id, int) or isinstance(request_id, bool):
                request_id = -1  # a request without an id: the host cannot be waiting for it
            self.send(out_fd, request_id, answer)


# -- what runs in the children ------------------------------------------------------------
def _case_body(
    prepared: harnesses.Prepared, case: harnesses.PreparedCase, result_fd: int
) -> NoReturn:
    """A run's child: wire up the standard streams, run the test case, send the result."""
    me = _getpid()
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
    if _getpid() != me:  # a process the program forked: never report
        _os_exit(0)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    try:
        data = _dumps(result).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. a value nested too deep
        data = _dumps(
            {"status": "error", "exc_type": None, "message": f"unsendable result: {exc}"}
        ).encode("ascii")
    _write_all(result_fd, data)
    _os_exit(0)


# -- start-up -----------------------------------------------------------------------------
def main(argv: list[str] | None = None, *, worker_class: type[Worker] = Worker) -> int:
    """Entry point: ``python3 -u worker.py [flags]`` (the container entry passes its subclass).

    Order matters: the PID namespace first (its placeholder process never reads input), then
    the signer, which reads the key from fd 0 before the worker reads anything and before any
    other process is forked.
    """
    options = parse_args(sys.argv[1:] if argv is None else argv)
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Reprs of sets/dicts must not change run to run: restart with a fixed hash seed.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Protocol I/O goes through fds 0/1 directly; keep Python's objects off them.
    sys.stdout = sys.stderr
    host_pid = os.getpid()
    pid_ns = isolation.pid_namespace(options.pid_ns)
    try:
        signer = Signer.start(0)
    except SignerError as exc:
        sys.stderr.write(f"worker.py: {exc}\n")
        return 3
    worker = worker_class(options, signer=signer, host_pid=host_pid, pid_ns=pid_ns)
    try:
        worker.setup()
        worker.serve()
    except SignerError as exc:
        sys.stderr.write(f"worker.py: {exc}\n")
        return 3
    finally:
        worker.close()
    return 0
