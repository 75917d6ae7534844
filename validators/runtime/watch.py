"""Watching one sandbox child: collect its pipes, enforce the wall limit and the output cap.

The worker forks a child per test case (:mod:`.worker`) and hands its read ends here.
:class:`ChildWatch` polls the result, stdout and (for commands) stderr pipes plus a pidfd of
the child until the child exits, the wall limit passes or the output grows past the hard cap;
then the child is killed if needed and reaped, and whatever is still buffered in the pipes is
drained. The worker kills adopted orphans (and the cgroup's rest) in between.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from dataclasses import dataclass, field

from . import isolation
from .outcomes import Outcome

__all__ = ["ChildWatch", "Pipes"]

_CHUNK = 65536


@dataclass
class Pipes:
    """The parent's read ends of one child's pipes (``err`` is -1 when stderr is discarded)."""

    result: int
    out: int
    err: int = -1

    def all(self) -> list[int]:
        """The open descriptors."""
        return [fd for fd in (self.result, self.out, self.err) if fd >= 0]


@dataclass
class _Buffers:
    """What was read from each pipe, kept up to ``hard_cap`` bytes (sizes count everything)."""

    hard_cap: int
    chunks: dict[int, list[bytes]] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    open_fds: set[int] = field(default_factory=set)

    def add(self, fd: int) -> None:
        self.chunks[fd] = []
        self.sizes[fd] = 0
        self.open_fds.add(fd)

    def take(self, fd: int) -> bool:
        """Read once from ``fd``; False at end of file (the pipe is then closed for us)."""
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return True
        if not data:
            self.open_fds.discard(fd)
            return False
        self.sizes[fd] += len(data)
        if self.sizes[fd] <= self.hard_cap:
            self.chunks[fd].append(data)
        return True

    def drain(self) -> None:
        """Read what is still buffered in the pipes (every writer is dead by now)."""
        for fd in list(self.open_fds):
            os.set_blocking(fd, False)
            while self.sizes[fd] <= self.hard_cap:
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    break
                if not data:
                    break
                self.sizes[fd] += len(data)
                self.chunks[fd].append(data)

    def over(self, *fds: int) -> bool:
        return any(fd >= 0 and self.sizes[fd] > self.hard_cap for fd in fds)

    def joined(self, fd: int) -> bytes:
        return b"".join(self.chunks[fd])


class ChildWatch:
    """Watches one forked child until it ends (see the module docstring).

    Args:
        pid: The child.
        pipes: Its pipes' read ends.
        hard_cap: Bytes of stdout/stderr after which the child is killed.
        use_pidfd: Poll a pidfd for the child's exit (else ``waitpid`` every 2 ms).
    """

    def __init__(self, pid: int, pipes: Pipes, *, hard_cap: int, use_pidfd: bool) -> None:
        self.pid = pid
        self.pipes = pipes
        self.buffers = _Buffers(hard_cap)
        for fd in pipes.all():
            self.buffers.add(fd)
        self.pidfd = -1
        if use_pidfd:
            with contextlib.suppress(OSError):
                self.pidfd = os.pidfd_open(pid)
        self.reaped = False
        self.status = 0

    @property
    def pidfd_works(self) -> bool:
        """Whether a pidfd could be opened (the worker stops trying when not)."""
        return self.pidfd >= 0

    def wait(self, start: float, wall_s: float) -> Outcome:
        """Poll until the child exits, ``start + wall_s`` passes or the output is too big;
        then kill it (when still running) and its process group, and reap it. Returns what was
        seen; the caller kills the orphans, then calls :meth:`finish`."""
        outcome = Outcome()
        exited = self._poll(outcome, start + wall_s)
        if not exited or outcome.output_exceeded:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        isolation.kill_group(self.pid)
        if not self.reaped:
            try:
                _, self.status, usage = os.wait4(self.pid, 0)
                outcome.cpu_s = usage.ru_utime + usage.ru_stime
            except ChildProcessError:  # pragma: no cover - reaped elsewhere
                self.status = 0
        outcome.duration_s = time.perf_counter() - start
        outcome.wait_status = self.status
        return outcome

    def _poll(self, outcome: Outcome, deadline: float) -> bool:
        """The poll loop; True when the child exited before the deadline."""
        poller = select.poll()
        for fd in self.buffers.open_fds:
            poller.register(fd, select.POLLIN)
        if self.pidfd >= 0:
            poller.register(self.pidfd, select.POLLIN)
        exited = False
        while not exited:
            now = time.perf_counter()
            if now >= deadline:
                outcome.timed_out = True
                return False
            timeout_ms = (deadline - now) * 1000.0
            if self.pidfd < 0:
                timeout_ms = min(timeout_ms, 2.0)
            try:
                events = poller.poll(max(1, int(timeout_ms + 1)))
            except InterruptedError:
                continue
            for fd, _event in events:
                if fd == self.pidfd:
                    exited = True
                elif not self.buffers.take(fd):
                    poller.unregister(fd)
            if self.pidfd < 0:
                done, self.status = os.waitpid(self.pid, os.WNOHANG)
                self.reaped = done != 0
                exited = exited or self.reaped
            if self.buffers.over(self.pipes.out, self.pipes.err):
                outcome.output_exceeded = True
                return exited
        return True

    def finish(self, outcome: Outcome) -> Outcome:
        """Drain the pipes into ``outcome`` (call once every writer is dead) and close the
        pidfd; the caller closes the pipes."""
        self.buffers.drain()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        buffers, pipes = self.buffers, self.pipes
        outcome.result = buffers.joined(pipes.result)
        outcome.stdout = buffers.joined(pipes.out)
        outcome.stdout_total = buffers.sizes[pipes.out]
        if pipes.err >= 0:
            outcome.stderr = buffers.joined(pipes.err)
            outcome.extra["stderr_total"] = buffers.sizes[pipes.err]
        if buffers.over(pipes.out, pipes.err):
            outcome.output_exceeded = True
        return outcome
