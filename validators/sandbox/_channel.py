"""Host side of the worker's line protocol, over any pair of byte streams.

The worker (:mod:`beadline.validators.runtime.worker`, whose docstring documents the protocol)
gets a fresh random key as the first bytes of its input, prints a ready line, then answers
each JSON request line with one line, every line signed with that key
(:mod:`beadline.validators.runtime.signing`). This module encodes :class:`RunRequest` /
:class:`CommandRequest`, decodes the answers into :class:`RunResult` / :class:`CommandResult`,
and enforces a host-side deadline (:func:`run_deadline`), so a caller never waits on a stuck
worker.

One request, one answer: only a line whose MAC verifies for the id of the request in flight is
its answer. Any other line (a program that reached the worker's output, a stale or surplus
line) is dropped and counted in :attr:`Channel.violations`, and the channel is then marked
:attr:`Channel.broken` so the backend replaces the worker after returning the genuine answer.
Any :class:`ChannelError` means the worker must be restarted (its ``restart`` flag is always
true); the caller then reports the lost request with :func:`failed_run` / :func:`failed_command`.

Backends plug in their transport as a :class:`ByteStream`: :class:`FdStream` covers pipes and
sockets (the local backend, or a Docker attach socket once demultiplexed).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import select
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from beadline.validators.errors import SandboxError, UserError
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    JUnitCase,
    Limits,
    ModuleContext,
    RunRequest,
    RunResult,
    TestResult,
    TestStatus,
    Trace,
)
from beadline.validators.runtime.signing import KEY_BYTES, answer_mac, split
from beadline.validators.snapshot import SnapshotError

__all__ = [
    "PROTOCOL_VERSION",
    "ByteStream",
    "Channel",
    "ChannelError",
    "FdStream",
    "SnapshotMount",
    "WorkerDied",
    "WorkerTimeout",
    "command_deadline",
    "decode_command",
    "decode_run",
    "encode_command",
    "encode_module",
    "encode_run",
    "failed_command",
    "failed_run",
    "run_deadline",
]

PROTOCOL_VERSION = 2
"""The protocol version this host speaks (the worker's ready line must match)."""

MAX_LINE_BYTES = 64 << 20
"""A worker line longer than this breaks the protocol (answers are capped far below)."""

PER_TEST_OVERHEAD_S = 0.5
"""Host-side allowance per test case on top of ``wall_s`` (fork, clean-up, a loaded machine)."""

_STATUSES = ("passed", "failed", "error", "timeout", "killed")


class ChannelError(SandboxError):
    """Raised by :class:`Channel` when the worker cannot be used any more; restart it."""

    restart: bool = True


class WorkerTimeout(ChannelError):
    """The worker did not answer before the deadline."""


class WorkerDied(ChannelError):
    """The worker's output ended (it exited or was killed) or it broke the protocol."""


class ByteStream(Protocol):
    """A bidirectional byte transport to one worker."""

    def write(self, data: bytes) -> None:
        """Send all of ``data``; raise ``OSError`` when the other end is gone."""

    def read(self, timeout: float) -> bytes:
        """Return some available bytes (``b""`` at end of stream); raise ``TimeoutError``
        when nothing arrives within ``timeout`` seconds."""

    def close(self) -> None:
        """Release the transport."""


class FdStream:
    """A :class:`ByteStream` over file descriptors (pipes, or one socket for both ways).

    Args:
        read_fd: Descriptor the worker's output is read from.
        write_fd: Descriptor requests are written to.
        close_fds: Whether :meth:`close` closes the descriptors.
    """

    def __init__(self, read_fd: int, write_fd: int, *, close_fds: bool = False) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.close_fds = close_fds

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.read_fd], [], [], max(0.0, timeout))
        if not ready:
            raise TimeoutError
        return os.read(self.read_fd, 1 << 20)

    def close(self) -> None:
        if self.close_fds:
            for fd in {self.read_fd, self.write_fd}:
                with contextlib.suppress(OSError):
                    os.close(fd)


class Channel:
    """One worker's protocol endpoint: the key, a ready line, then one answer per request.

    Args:
        stream: The transport.
        name: A label for error messages (``local worker 1234``).
        first_id: The id of the first request. A backend with several channels can start each
            at a random point, so an answer that reached the wrong channel never carries the
            id that channel waits for.
        key: The worker's key (default: a fresh random one); sent by :meth:`read_ready`.
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        name: str = "worker",
        first_id: int = 1,
        key: bytes | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.broken = False
        """True once the channel must not be used again (an error, a violation, or the worker
        asked to be recycled)."""
        self.violations = 0
        """Lines dropped because they did not verify as the answer in flight."""
        self.retire_reason = ""
        """Why the worker should be replaced although its last answer was valid."""
        self.key = key if key is not None else secrets.token_bytes(KEY_BYTES)
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a worker key has {KEY_BYTES} bytes, got {len(self.key)}")
        self._key_sent = False
        self._buffer = b""
        self._next_id = first_id - 1

    def _next_line(self, deadline: float) -> bytes:
        """The next raw line (without its newline) from the worker."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
                if line.strip():
                    return line
                continue
            if len(self._buffer) > MAX_LINE_BYTES:
                self.broken = True
                raise WorkerDied(
                    f"{self.name} broke the protocol: a line over {MAX_LINE_BYTES} bytes"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.broken = True
                raise WorkerTimeout(f"{self.name} did not answer in time")
            try:
                chunk = self.stream.read(remaining)
            except TimeoutError:
                self.broken = True
                raise WorkerTimeout(f"{self.name} did not answer in time") from None
            except OSError as exc:
                self.broken = True
                raise WorkerDied(f"{self.name} cannot be read: {exc}") from exc
            if not chunk:
                self.broken = True
                raise WorkerDied(f"{self.name} exited")
            self._buffer += chunk

    def _read_answer(self, request_id: int, deadline: float) -> dict[str, Any]:
        """The answer to ``request_id``: the first line whose MAC verifies for it. Every
        other line is dropped and counted as a violation."""
        while True:
            line = self._next_line(deadline)
            parts = split(line)
            if parts is None or not hmac.compare_digest(
                parts[1], answer_mac(self.key, request_id, parts[0])
            ):
                self._violation(f"dropped a line that is not a signed answer to {request_id}")
                continue
            try:
                decoded = json.loads(parts[0])
            except ValueError as exc:
                self.broken = True
                raise WorkerDied(f"{self.name} broke the protocol: its answer is not JSON") from exc
            if not isinstance(decoded, dict) or (request_id and decoded.get("id") != request_id):
                self.broken = True
                raise WorkerDied(f"{self.name} broke the protocol: {parts[0][:120]!r}")
            return decoded

    def _violation(self, what: str) -> None:
        self.violations += 1
        self.broken = True
        self.retire_reason = self.retire_reason or f"protocol violation: {what}"

    def read_ready(self, timeout: float) -> dict[str, Any]:
        """Send the worker its key, wait for its ready line and check its protocol version.

        Raises:
            WorkerTimeout: no ready line in time.
            WorkerDied: the worker exited or speaks another protocol.
        """
        deadline = time.monotonic() + timeout
        self._send_key()
        ready = self._read_answer(0, deadline)
        if not ready.get("ready"):
            self.broken = True
            raise WorkerDied(f"{self.name} sent {ready!r} instead of its ready line")
        if ready.get("protocol") != PROTOCOL_VERSION:
            self.broken = True
            raise WorkerDied(
                f"{self.name} speaks protocol {ready.get('protocol')!r}, the host "
                f"{PROTOCOL_VERSION}: the worker and beadline come from different versions"
            )
        self.violations = 0  # nothing can have reached the channel before the worker ran
        self.broken = False
        self.retire_reason = ""
        return ready

    def _send_key(self) -> None:
        if self._key_sent:
            return
        self._key_sent = True
        try:
            self.stream.write(self.key)
        except OSError as exc:
            self.broken = True
            raise WorkerDied(f"{self.name} cannot be written to: {exc}") from exc

    def call(self, message: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and return its (verified) answer.

        Raises:
            WorkerTimeout: no answer within ``timeout`` seconds.
            WorkerDied: the worker is gone or answered out of protocol.
        """
        if self.broken:
            raise WorkerDied(f"{self.name} is unusable after an earlier error")
        self._next_id += 1
        request_id = self._next_id
        payload = json.dumps({**message, "id": request_id}).encode("utf-8") + b"\n"
        deadline = time.monotonic() + timeout
        try:
            self.stream.write(payload)
        except OSError as exc:
            self.broken = True
            raise WorkerDied(f"{self.name} cannot be written to: {exc}") from exc
        answer = self._read_answer(request_id, deadline)
        if self._buffer.strip():
            self._violation("a surplus line after the answer")
            self._buffer = b""
        if answer.get("recycle"):
            self.broken = True
            self.retire_reason = f"the worker asked to be replaced: {answer['recycle']}"
        if not answer.get("ok"):
            # A request the worker rejected: our encoding is wrong, not the program.
            raise SandboxError(f"{self.name} rejected the request: {answer.get('error')}")
        return answer

    def send_exit(self) -> None:
        """Ask the worker to exit (best effort, no answer)."""
        with contextlib.suppress(OSError):
            self.stream.write(b'{"op": "exit"}\n')

    def run(
        self,
        request: RunRequest,
        *,
        backend: str,
        grace_s: float = 2.0,
        mount: SnapshotMount | None = None,
    ) -> RunResult:
        """Run a request through the worker (see :meth:`call` for the errors; ``mount``: see
        :func:`encode_module`)."""
        start = time.monotonic()
        message = encode_run(request, mount=mount)
        answer = self.call(message, run_deadline(request, grace_s=grace_s))
        return decode_run(request, answer, backend=backend, duration_s=time.monotonic() - start)

    def command(
        self, request: CommandRequest, *, directory: str | None = None, grace_s: float = 2.0
    ) -> CommandResult:
        """Run a command through the worker; ``directory`` overrides the request's path (the
        path as the worker sees it)."""
        answer = self.call(
            encode_command(request, directory=directory),
            command_deadline(request, grace_s=grace_s),
        )
        return decode_command(answer)


# -- encoding -------------------------------------------------------------------------------
def _limits_json(limits: Limits) -> dict[str, Any]:
    return {
        "wall_s": limits.wall_s,
        "cpu_s": limits.cpu_s,
        "memory_mb": limits.memory_mb,
        "output_bytes": limits.output_bytes,
        "trace_events": limits.trace_events,
        "trace_chars": limits.trace_chars,
        "repr_chars": limits.repr_chars,
    }


SnapshotMount = tuple[str, str]
"""``(host directory, worker directory)``: where the worker sees the snapshot store."""


def encode_module(context: ModuleContext, *, mount: SnapshotMount | None = None) -> dict[str, Any]:
    """The ``module`` field of a run message (paths as the worker sees them).

    Args:
        context: The module context.
        mount: Where the snapshot store appears inside the sandbox (docker); ``None``: the
            worker sees host paths (local), and is told the user's repository (``origin``) so
            it can make it read-only for its children.

    Raises:
        UserError: ``mount`` is given and the snapshot is not in the mounted store.
    """
    snapshot = context.snapshot
    if not snapshot.path.is_dir():
        raise SnapshotError(
            f"the snapshot of {snapshot.origin} at {snapshot.path} no longer exists; make a new "
            "one with snapshot_repo(repo)"
        )

    def seen(path: Path) -> str:
        if mount is None:
            return str(path)
        host, inside = mount
        if not path.is_relative_to(host):
            raise UserError(
                f"the snapshot {snapshot.path} is not in the snapshot store {host} mounted into "
                "the sandbox containers; make snapshots with snapshot_repo() (the default store)"
            )
        return str(PurePosixPath(inside) / path.relative_to(host).as_posix())

    return {
        "name": context.module,
        "file": seen(snapshot.path / context.file),
        "package": context.is_package,
        "roots": [seen(p) for p in snapshot.root_paths()],
        "tree": seen(snapshot.path),
        "origin": str(snapshot.origin) if mount is None else None,
    }


def encode_run(request: RunRequest, *, mount: SnapshotMount | None = None) -> dict[str, Any]:
    """The worker's ``run`` message for ``request`` (without ``id``; ``mount``: see
    :func:`encode_module`)."""
    return {
        "op": "run",
        "program": request.program,
        "setup": request.setup,
        "trace": request.trace,
        "trace_function": request.traced,
        "module": None if request.context is None else encode_module(request.context, mount=mount),
        "limits": _limits_json(request.limits),
        "tests": [
            {
                "kind": t.kind,
                "source": t.source,
                "entry_point": t.entry_point,
                "stdin": t.stdin,
                "expected_stdout": t.expected_stdout,
            }
            for t in request.tests
        ],
    }


def encode_command(request: CommandRequest, *, directory: str | None = None) -> dict[str, Any]:
    """The worker's ``command`` message for ``request`` (without ``id``)."""
    path = directory if directory is not None else request.directory
    return {
        "op": "command",
        "argv": list(request.argv),
        "files": dict(request.files),
        "directory": str(path) if path is not None else None,
        "junit_xml": request.junit_xml,
        "limits": _limits_json(request.limits),
        "pythonpath": list(request.pythonpath),
    }


def run_deadline(request: RunRequest, *, grace_s: float = 2.0) -> float:
    """Seconds the host waits for a run: every test's wall limit plus overheads and a grace."""
    return len(request.tests) * (request.limits.wall_s + PER_TEST_OVERHEAD_S) + grace_s


def command_deadline(request: CommandRequest, *, grace_s: float = 2.0) -> float:
    """Seconds the host waits for a command (copying the directory counts too)."""
    return request.limits.wall_s + 5.0 + grace_s


# -- decoding -------------------------------------------------------------------------------
def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _status(value: Any) -> TestStatus:
    if value in _STATUSES:
        return value  # type: ignore[no-any-return]
    return "error"


def _line(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def decode_run(
    request: RunRequest, answer: Mapping[str, Any], *, backend: str, duration_s: float = 0.0
) -> RunResult:
    """Turn the worker's answer to a ``run`` message into a :class:`RunResult`.

    Raises:
        WorkerDied: the answer does not have one result per test case.
    """
    raw = answer.get("results")
    if not isinstance(raw, list) or len(raw) != len(request.tests):
        raise WorkerDied(
            f"the worker answered {len(raw) if isinstance(raw, list) else 'no'} results "
            f"for {len(request.tests)} test cases"
        )
    results = []
    for test, item in zip(request.tests, raw, strict=True):
        item = item if isinstance(item, dict) else {}
        trace_raw = item.get("trace")
        try:
            trace = Trace.from_json(trace_raw) if isinstance(trace_raw, dict) else Trace()
        except (KeyError, TypeError, ValueError):
            trace = Trace(truncated=True)
        results.append(
            TestResult(
                test=test,
                status=_status(item.get("status")),
                exc_type=_str_or_none(item.get("exc_type")),
                message=str(item.get("message", "")),
                line=_line(item.get("line")),
                return_repr=_str_or_none(item.get("return_repr")),
                expected_repr=_str_or_none(item.get("expected_repr")),
                stdout=str(item.get("stdout", "")),
                output_truncated=bool(item.get("output_truncated", False)),
                duration_s=float(item.get("duration_s", 0.0) or 0.0),
                trace=trace,
            )
        )
    return RunResult(results=tuple(results), backend=backend, duration_s=duration_s)


def decode_command(answer: Mapping[str, Any]) -> CommandResult:
    """Turn the worker's answer to a ``command`` message into a :class:`CommandResult`."""
    item = answer.get("result")
    if not isinstance(item, dict):
        raise WorkerDied("the worker's command answer has no result")
    junit = []
    for case in item.get("junit") or ():
        if isinstance(case, dict):
            status = case.get("status")
            junit.append(
                JUnitCase(
                    name=str(case.get("name", "")),
                    classname=str(case.get("classname", "")),
                    status=status
                    if status in ("passed", "failed", "error", "skipped")
                    else "error",
                    message=str(case.get("message", "")),
                )
            )
    exit_code = item.get("exit_code")
    return CommandResult(
        status=_status(item.get("status")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        stdout=str(item.get("stdout", "")),
        stderr=str(item.get("stderr", "")),
        duration_s=float(item.get("duration_s", 0.0) or 0.0),
        junit=tuple(junit),
        message=str(item.get("message", "")),
    )


def failed_run(
    request: RunRequest, status: TestStatus, message: str, *, backend: str, duration_s: float = 0.0
) -> RunResult:
    """A result for a request the sandbox lost (worker died or hung): every test ``status``."""
    return RunResult(
        results=tuple(TestResult(test=t, status=status, message=message) for t in request.tests),
        backend=backend,
        duration_s=duration_s,
    )


def failed_command(status: TestStatus, message: str, *, duration_s: float = 0.0) -> CommandResult:
    """A result for a command the sandbox lost."""
    return CommandResult(status=status, exit_code=None, message=message, duration_s=duration_s)
