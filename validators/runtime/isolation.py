"""Process isolation used by the worker: rlimits, privileges, network, cgroups, clean-up.

Every function here is best effort where the machine may not allow it and says so in its
return value (the worker reports what is active in its ready line); none of them raises for a
missing kernel feature. This contains accidents and ordinary hostile programs; it is not a
hardened security boundary (use the docker backend for that).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import time
from dataclasses import dataclass, field

__all__ = [
    "MAX_FD",
    "Cgroups",
    "PidNamespace",
    "apply_rlimits",
    "bind_read_only",
    "close_fds_except",
    "die_with_parent",
    "drop_privileges",
    "enter_pid_namespace",
    "expose_to_others",
    "kill_adopted",
    "kill_group",
    "pid_namespace",
    "reap_zombies",
    "set_dumpable",
    "set_oom_score",
    "set_subreaper",
    "unshare_network",
]

MAX_FD = 1 << 20
"""Upper bound for closing inherited descriptors (``close_range`` makes the range cheap)."""

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_CLONE_NEWPID = 0x20000000
_MS_NOEXEC = 8
_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_NOSUID = 2
_MS_NODEV = 4
_MNT_DETACH = 2
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_MIB = 1024 * 1024


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def unshare_network() -> str | None:
    """Move the calling process into a new, empty network namespace.

    Returns:
        ``None`` on success, else why it was not possible.
    """
    try:
        if _libc().unshare(_CLONE_NEWNET) != 0:
            return f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    except (OSError, AttributeError) as exc:
        return f"unshare(CLONE_NEWNET) unavailable: {exc}"
    return None


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    def encode(value: str | None) -> bytes | None:
        return value.encode() if value is not None else None

    libc = _libc()
    if libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}: {os.strerror(ctypes.get_errno())}")


def enter_pid_namespace() -> tuple[bool, str | None]:
    """Continue as PID 1 of a new PID namespace whose ``/proc`` hides other users' processes.

    The calling process unshares a PID namespace and forks; the *parent* stays behind as a
    placeholder (the host knows its pid), closes its protocol descriptors 0 and 1, waits for
    the child and exits with its status: this function never returns there. The *child* is
    the namespace's init: when it dies the kernel kills everything left inside, and no process
    inside can signal it (init ignores signals it has no handler for, and nothing inside is
    root but itself). It gets a private mount namespace with a fresh ``/proc`` for the new
    namespace, mounted ``hidepid=2``: a process that is not root sees only the processes of
    its own uid there. Needs root (``CAP_SYS_ADMIN``).

    Returns:
        ``(inside, problem)``: in the child ``(True, None)``, or ``(True, why)`` when ``/proc``
        could not be remounted (the namespace still holds); in the calling process, when no
        namespace could be made, ``(False, why)``.
    """
    libc = _libc()
    try:
        if libc.unshare(_CLONE_NEWPID) != 0:
            return False, f"unshare(CLONE_NEWPID) failed: {os.strerror(ctypes.get_errno())}"
    except (OSError, AttributeError) as exc:
        return False, f"unshare(CLONE_NEWPID) unavailable: {exc}"
    pid = os.fork()
    if pid > 0:  # the placeholder: relay the worker's exit status
        for fd in (0, 1):
            with contextlib.suppress(OSError):
                os.close(fd)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    die_with_parent()  # the host kills the placeholder: the namespace goes with it
    try:
        if libc.unshare(_CLONE_NEWNS) != 0:
            return True, f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}"
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "hidepid=2")
    except OSError as exc:
        return True, f"could not mount a private /proc: {exc}"
    return True, None


@dataclass
class PidNamespace:
    """What :func:`pid_namespace` achieved (the worker reports it in its ready line)."""

    active: bool = False
    """The worker is PID 1 of its own PID namespace."""
    proc_hidden: bool = False
    """Its ``/proc`` is private and mounted ``hidepid=2``."""
    detail: str = "not requested"
    """What happened, for the report."""


def pid_namespace(requested: bool) -> PidNamespace:
    """Enter a private PID namespace when ``requested`` and root (see
    :func:`enter_pid_namespace`: in the calling process this never returns on success)."""
    if not requested:
        return PidNamespace()
    if os.geteuid() != 0:
        return PidNamespace(detail="not root: children share the host's PID namespace")
    inside, problem = enter_pid_namespace()
    if not inside:
        return PidNamespace(detail=problem or "unavailable")
    if problem:
        return PidNamespace(active=True, detail=f"private PID namespace, but {problem}")
    return PidNamespace(
        active=True,
        proc_hidden=True,
        detail="private PID namespace; /proc (hidepid=2) shows a child only its own processes",
    )


def set_dumpable(dumpable: bool) -> None:
    """Set the calling process's dumpable flag (``False``: its ``/proc`` files become root's
    and processes of the same uid may not ptrace it or open its memory or descriptors)."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(_PR_SET_DUMPABLE, 1 if dumpable else 0, 0, 0, 0)


def close_fds_except(keep: set[int]) -> None:
    """Close every descriptor from 3 up except those in ``keep``."""
    low = 3
    for fd in sorted(f for f in keep if f >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, MAX_FD)


def _blocking_ancestor(path: str) -> tuple[str, str] | None:
    """The first ancestor of ``path`` that others cannot search, and the component below it."""
    parts = [p for p in path.split("/") if p]
    current = "/"
    for index, part in enumerate(parts):
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if not mode & 0o001:
            return current, part
        current = os.path.join(current, part)
        if index == len(parts) - 1:
            return None
    return None


def expose_to_others(paths: list[str], staging: str) -> str | None:
    """Make ``paths`` reachable by an unprivileged uid without changing the host's files.

    When an interpreter lives under a directory only root can enter (``/root/.pyenv`` here),
    a child that dropped to ``nobody`` could not import lazily loaded modules or run
    ``python``. In a private mount namespace of the worker, each such directory gets a tmpfs
    (mode 755) on top, holding bind mounts of just the entries needed, so everything else in
    it stays hidden. Needs root (``CAP_SYS_ADMIN``).

    Returns:
        ``None`` on success (or when nothing needed it), else why it failed.
    """
    needed: dict[str, set[str]] = {}
    for path in paths:
        if os.path.isabs(path) and os.path.exists(path):
            found = _blocking_ancestor(os.path.realpath(path))
            if found is not None:
                needed.setdefault(found[0], set()).add(found[1])
    if not needed:
        return None
    libc = _libc()
    mount = _mount
    try:
        if libc.unshare(_CLONE_NEWNS) != 0:
            return f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}"
        mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
        for number, (directory, names) in enumerate(sorted(needed.items())):
            staged: list[tuple[str, str]] = []
            for index, name in enumerate(sorted(names)):
                stage = os.path.join(staging, f"stage{number}-{index}")
                source = os.path.join(directory, name)
                if os.path.isdir(source):
                    os.mkdir(stage)
                else:
                    open(stage, "w").close()
                mount(source, stage, None, _MS_BIND | _MS_REC, None)
                staged.append((stage, name))
            mount("tmpfs", directory, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=755,size=1m")
            for stage, name in staged:
                target = os.path.join(directory, name)
                if os.path.isdir(stage):
                    os.mkdir(target)
                else:
                    open(target, "w").close()
                mount(stage, target, None, _MS_BIND | _MS_REC, None)
                libc.umount2(stage.encode(), _MNT_DETACH)
                with contextlib.suppress(OSError):
                    os.rmdir(stage) if os.path.isdir(stage) else os.unlink(stage)
    except (OSError, AttributeError) as exc:
        return f"could not expose {sorted(needed)} to the sandbox user: {exc}"
    return None


_PRIVATE_MOUNTS: list[str | None] = []


def _private_mounts() -> str | None:
    """Give the calling process its own mount namespace (once); ``None`` on success."""
    if not _PRIVATE_MOUNTS:
        libc = _libc()
        problem: str | None = None
        try:
            if libc.unshare(_CLONE_NEWNS) != 0:
                problem = f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}"
            elif libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
                problem = f"making / private failed: {os.strerror(ctypes.get_errno())}"
        except (OSError, AttributeError) as exc:
            problem = f"no mount namespace: {exc}"
        _PRIVATE_MOUNTS.append(problem)
    return _PRIVATE_MOUNTS[0]


def bind_read_only(path: str) -> str | None:
    """Make ``path`` read-only for this process and its future children (not for the host).

    In the worker's own mount namespace, ``path`` is bind-mounted onto itself and remounted
    read-only, so no child (whatever its uid) can change a file under it, while the host and
    other processes still see and write it as before. Needs ``CAP_SYS_ADMIN`` (root).

    Returns:
        ``None`` on success, else why it was not possible.
    """
    problem = _private_mounts()
    if problem is not None:
        return problem
    libc = _libc()
    target = path.encode()
    try:
        if libc.mount(target, target, None, _MS_BIND | _MS_REC, None) != 0:
            return f"bind mount of {path} failed: {os.strerror(ctypes.get_errno())}"
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        if libc.mount(None, target, None, flags, None) != 0:
            error = os.strerror(ctypes.get_errno())
            libc.umount2(target, _MNT_DETACH)
            return f"read-only remount of {path} failed: {error}"
    except (OSError, AttributeError) as exc:
        return f"cannot mount {path}: {exc}"
    return None


def set_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (so they can be found and killed)."""
    try:
        return bool(_libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _set(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    try:
        _soft, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


def apply_rlimits(
    *, memory_mb: int, cpu_s: float, fsize_mb: int, nofile: int, nproc: int | None
) -> None:
    """Set the resource limits of the calling (child) process.

    Args:
        memory_mb: Address-space limit (``RLIMIT_AS``).
        cpu_s: CPU seconds (``RLIMIT_CPU``; the hard limit one second later kills).
        fsize_mb: Largest file the process may write (``RLIMIT_FSIZE``).
        nofile: Open files (``RLIMIT_NOFILE``).
        nproc: Processes of the (real) user (``RLIMIT_NPROC``); ``None`` leaves it.
    """
    _set(resource.RLIMIT_AS, memory_mb * _MIB)
    cpu = max(1, int(cpu_s + 0.999))
    _set(resource.RLIMIT_CPU, cpu, cpu + 1)
    _set(resource.RLIMIT_FSIZE, fsize_mb * _MIB)
    _set(resource.RLIMIT_NOFILE, nofile)
    _set(resource.RLIMIT_CORE, 0)
    if nproc is not None:
        _set(resource.RLIMIT_NPROC, nproc)


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups (the caller must be root)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def kill_group(pgid: int) -> None:
    """SIGKILL a process group; silently nothing when it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def kill_adopted(keep: frozenset[int] = frozenset(), *, timeout_s: float = 1.0) -> int:
    """Kill this process's children (adopted orphans included), except ``keep``, and reap them.

    The worker is a child subreaper (or its PID namespace's init, or the container's PID 1), so
    a daemon that escaped a run's process group is re-parented here once its parent dies. A
    SIGKILLed process needs a moment to die: this waits (up to ``timeout_s``) until every one is
    reaped, so none is left as a zombie. Returns how many processes were signalled.
    """
    me = os.getpid()
    signalled: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        reap_zombies()
        targets = [p for p in _children(me) if p not in keep]
        if not targets or time.monotonic() > deadline:
            return len(signalled)
        for pid in targets:
            if pid not in signalled:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                kill_group(pid)
                signalled.add(pid)
        time.sleep(0.0002)


def reap_zombies() -> None:
    """Collect every exited child without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _own_cgroup_paths() -> dict[str, str]:
    """Controller name -> this process's cgroup path (``""`` is the v2 hierarchy)."""
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    paths: dict[str, str] = {}
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def set_oom_score(value: int) -> None:
    """Tell the kernel's OOM killer whom to prefer (-1000 never .. 1000 first); best effort.

    Raw ``os.open``/``os.write``: a forked child calls this before every run, and a Python
    text file object (codec lookup, buffers) cost ~0.2 ms there."""
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.write(fd, str(value).encode("ascii"))
    os.close(fd)


def die_with_parent() -> None:
    """SIGKILL the calling process when its parent (the worker) dies; call after setuid."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class Cgroups:
    """A private cgroup (v1 ``pids`` + ``memory`` or v2) per worker, when the fs is writable.

    The worker joins it (:meth:`join`), so its children are born inside; after a run every
    process in it but the worker is killed (:meth:`kill_all`), which also catches descendants
    that left the process group. Limits cover the worker and one child at a time.
    """

    version: str = ""
    """``"v1"``, ``"v2"`` or ``""`` (none)."""
    dirs: list[str] = field(default_factory=list)
    """The cgroup directories created (one per v1 hierarchy, one for v2)."""
    pids_max: int = 128
    """Processes allowed in the cgroup at once."""
    reason: str = ""
    """Why no cgroup is in use (empty when one is)."""
    _memory_file: str = ""
    _memsw_file: str = ""
    _memory_mb: int = 0

    @classmethod
    def existing(cls, name: str) -> Cgroups:
        """The cgroup a worker named ``name`` made, as seen from a process in the same
        cgroup as that worker was started in (the host uses it to clean up after a killed
        worker: :meth:`close` kills what is left and removes the directories)."""
        groups = cls()
        base = "/sys/fs/cgroup"
        paths = _own_cgroup_paths()
        candidates = [
            f"{base}/pids{paths.get('pids', '/').rstrip('/')}/{name}",
            f"{base}/memory{paths.get('memory', '/').rstrip('/')}/{name}",
            f"{base}{paths.get('', '/').rstrip('/')}/{name}",
        ]
        groups.dirs = [d for d in candidates if os.path.isfile(f"{d}/cgroup.procs")]
        groups.version = "found" if groups.dirs else ""
        return groups

    @classmethod
    def create(cls, name: str, *, pids_max: int = 128) -> Cgroups:
        """Create the worker's cgroup under the current one; never raises."""
        groups = cls(pids_max=pids_max)
        paths = _own_cgroup_paths()
        if not paths:
            groups.reason = "cannot read /proc/self/cgroup"
            return groups
        base = "/sys/fs/cgroup"
        if os.path.exists(f"{base}/pids/pids.max") or os.path.isdir(f"{base}/pids"):
            groups._create_v1(base, paths, name)
        elif os.path.exists(f"{base}/cgroup.controllers"):
            groups._create_v2(base, paths.get("", "/"), name)
        else:
            groups.reason = "no cgroup file system found at /sys/fs/cgroup"
        return groups

    def _mkdir(self, path: str) -> bool:
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as exc:
            self.reason = f"cannot create {path}: {exc.strerror}"
            return False
        self.dirs.append(path)
        return True

    @staticmethod
    def _write(path: str, value: str) -> bool:
        try:
            with open(path, "w") as handle:
                handle.write(value)
        except OSError:
            return False
        return True

    def _create_v1(self, base: str, paths: dict[str, str], name: str) -> None:
        pids_dir = f"{base}/pids{paths.get('pids', '/').rstrip('/')}/{name}"
        if not self._mkdir(pids_dir) or not self._write(f"{pids_dir}/pids.max", str(self.pids_max)):
            self.reason = self.reason or f"cannot write {pids_dir}/pids.max"
            self.close()
            return
        mem_dir = f"{base}/memory{paths.get('memory', '/').rstrip('/')}/{name}"
        if os.path.isdir(f"{base}/memory") and self._mkdir(mem_dir):
            self._memory_file = f"{mem_dir}/memory.limit_in_bytes"
            if os.path.exists(f"{mem_dir}/memory.memsw.limit_in_bytes"):
                self._memsw_file = f"{mem_dir}/memory.memsw.limit_in_bytes"
        self.version = "v1"

    def _create_v2(self, base: str, path: str, name: str) -> None:
        group = f"{base}{path.rstrip('/')}/{name}"
        if not self._mkdir(group):
            return
        if not self._write(f"{group}/pids.max", str(self.pids_max)):
            self.reason = f"the pids controller is not enabled for {group}"
            self.close()
            return
        if os.path.exists(f"{group}/memory.max"):
            self._memory_file = f"{group}/memory.max"
            if os.path.exists(f"{group}/memory.swap.max"):
                self._write(f"{group}/memory.swap.max", "0")
        self.version = "v2"

    @property
    def active(self) -> bool:
        """Whether a cgroup is in use."""
        return bool(self.version)

    @property
    def has_memory(self) -> bool:
        """Whether the cgroup also limits memory."""
        return bool(self._memory_file)

    def set_memory(self, memory_mb: int) -> None:
        """Set the memory (and swap+memory) limit, when it changed."""
        if not self._memory_file or memory_mb == self._memory_mb:
            return
        value = str(memory_mb * _MIB)
        files = [self._memory_file, self._memsw_file]
        if memory_mb > self._memory_mb:  # v1: memsw must stay >= memory
            files.reverse()
        for path in files:
            if path:
                self._write(path, value)
        self._memory_mb = memory_mb

    def join(self) -> None:
        """Move the calling process into the cgroup.

        The worker joins once at start-up, so every child is born inside: moving each child
        in would cost ~3 ms per run on cgroup v1 (a migration per fork)."""
        for directory in self.dirs:
            self._write(f"{directory}/cgroup.procs", str(os.getpid()))

    def members(self) -> list[int]:
        """Pids currently in the cgroup."""
        if not self.dirs:
            return []
        try:
            with open(f"{self.dirs[0]}/cgroup.procs") as handle:
                return [int(p) for p in handle.read().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self, *, rounds: int = 20) -> int:
        """SIGKILL every process in the cgroup but the caller, until none is left (or
        ``rounds`` passes). Returns how many times a process was signalled (0: the cgroup
        held only the caller)."""
        me = os.getpid()
        signalled = 0
        for attempt in range(rounds):
            pids = [p for p in self.members() if p != me]
            if not pids:
                return signalled
            signalled += len(pids)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.0005 * (attempt + 1))
        return signalled

    def oom_events(self) -> int:
        """How often the memory limit was hit so far (v1 ``failcnt`` / v2 ``oom_kill``)."""
        if not self._memory_file:
            return 0
        directory = os.path.dirname(self._memory_file)
        try:
            if self.version == "v1":
                with open(f"{directory}/memory.oom_control") as handle:
                    for line in handle:
                        if line.startswith("oom_kill "):
                            return int(line.split()[1])
                return 0
            with open(f"{directory}/memory.events") as handle:
                for line in handle:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return 0
        return 0

    def close(self) -> None:
        """Kill what is left and remove the cgroup directories."""
        if self.dirs and self.version:
            self.kill_all()
        for directory in reversed(self.dirs):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        self.dirs = []
        self.version = ""
