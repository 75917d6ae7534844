"""Host uids for sandbox children: one per worker slot, never shared, never a real user's.

Runs of different slots must not be able to signal or inspect each other, so every local
worker slot and every docker container drops its children to a uid of its own. Docker starts
its containers without a user-namespace remap here, so a uid inside a container *is* a host
uid: both backends draw from one host-wide pool, local children from :data:`LOCAL_BASE`
upward and docker children from :data:`DOCKER_BASE` upward, and a lease is an exclusive
``flock`` on a per-uid file in a root-only directory, so two executors (in one process or in
several) never hold the same uid. The lock goes with the holder: a crashed process frees its
uids. A uid is skipped when it belongs to an account (``/etc/passwd``), to a subordinate range
(``/etc/subuid``, ``/etc/subgid``: rootless containers), or when any process runs as it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from beadline.validators.errors import SandboxError

__all__ = ["DOCKER_BASE", "LOCAL_BASE", "UidLease", "lease_uid"]

LOCAL_BASE = 100_000
"""First uid tried for local worker slots' children."""

DOCKER_BASE = 200_000
"""First uid tried for docker containers' children."""

_SPAN = 1 << 20
"""How far above a base the search goes before giving up."""

_LOCK_DIRS = (Path("/run/beadline-uids"), Path("/tmp/.beadline-uids"))
_GUARD = threading.Lock()


@dataclass
class UidLease:
    """An exclusively held sandbox uid (gid = uid). Release it once its processes are dead."""

    uid: int
    """The uid (and gid) children run as."""
    _fd: int = -1

    def release(self) -> None:
        """Give the uid back (idempotent)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def _lock_dir() -> Path:
    """A root-owned, private directory for the lock files (created on first use)."""
    problems = []
    for directory in _LOCK_DIRS:
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            info = directory.lstat()
        except OSError as exc:
            problems.append(f"{directory}: {exc.strerror}")
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077:
            return directory
        problems.append(f"{directory} is not a private directory of uid {os.geteuid()}")
    raise SandboxError(
        "no place for the sandbox's uid locks (" + "; ".join(problems) + "): make /run writable "
        "for root, or remove the directories named"
    )


def _ranges(path: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the subordinate id ranges in ``/etc/subuid``-style ``path``."""
    found: list[tuple[int, int]] = []
    with contextlib.suppress(OSError), open(path) as handle:
        for line in handle:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                start = int(parts[1])
                found.append((start, start + int(parts[2])))
    return found


def _uids_in_use() -> set[int]:
    """Real uids of the processes running now (a stale sandbox child keeps its uid busy)."""
    used: set[int] = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                used.add(entry.stat().st_uid)
    return used


def _taken(uid: int, reserved: list[tuple[int, int]], running: set[int]) -> int | None:
    """The next uid worth trying when ``uid`` may not be used, else ``None``."""
    for start, end in reserved:
        if start <= uid < end:
            return end
    if uid in running:
        return uid + 1
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return None
    return uid + 1


def lease_uid(base: int) -> UidLease:
    """Lease the lowest free sandbox uid at or above ``base``.

    Raises:
        SandboxError: no lock directory, or no free uid in the range.
    """
    directory = _lock_dir()
    reserved = _ranges("/etc/subuid") + _ranges("/etc/subgid")
    running = _uids_in_use()
    uid = base
    with _GUARD:
        while uid < base + _SPAN:
            skip = _taken(uid, reserved, running)
            if skip is not None:
                uid = skip
                continue
            fd = os.open(directory / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                uid += 1
                continue
            return UidLease(uid=uid, _fd=fd)
    raise SandboxError(f"no free sandbox uid in {base}..{base + _SPAN - 1}")
