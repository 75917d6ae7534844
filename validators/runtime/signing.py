"""Authenticated answers: every line the worker writes carries an HMAC the program cannot make.

The host makes a random key per worker and sends it as the first :data:`KEY_BYTES` bytes of
the worker's input, before any request. The key must never be readable by a program under
test, and every child the worker forks starts as a copy of the worker's memory. So the worker
never holds the key at all: before it reads anything, it forks a *signer* process
(:meth:`Signer.start`) that reads the key straight from the input descriptor, closes every other
descriptor, marks itself non-dumpable (its ``/proc/<pid>/mem``, ``fd`` and ``environ`` are
root's, and it cannot be ptraced by its own uid) and then only answers "MAC this" messages on a
private socket pair. The worker hashes each answer line itself and asks the signer for the MAC
of (request id, SHA-256 of the line); a child closes its copy of that socket before any
program code runs, so it has neither the key nor a way to ask for a signature.

:func:`answer_mac` is what both sides compute: ``HMAC-SHA256(key, DOMAIN || id || SHA-256(body))``.
An answer line on the wire is ``body + b"\\t" + hex(mac) + b"\\n"`` (``body`` is JSON, which
never contains a raw tab); the ready line is signed as request id 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import socket
import struct

from . import isolation

__all__ = ["KEY_BYTES", "Signer", "SignerError", "answer_mac", "frame", "mac_input", "split"]

KEY_BYTES = 32
"""Length of the per-worker key (raw bytes, sent first on the worker's input)."""

_DOMAIN = b"beadline-answer-v2\0"
_REQUEST = struct.Struct(">q32s")


class SignerError(Exception):
    """The signer process is gone or never got its key (the worker cannot answer)."""


def mac_input(request_id: int, body_digest: bytes) -> bytes:
    """The bytes the MAC covers: a domain tag, the request id and the SHA-256 of the body."""
    return _DOMAIN + struct.pack(">q", request_id) + body_digest


def answer_mac(key: bytes, request_id: int, body: bytes) -> bytes:
    """The MAC of answer ``body`` to request ``request_id`` (what the host checks)."""
    digest = hashlib.sha256(body).digest()
    return hmac.digest(key, mac_input(request_id, digest), "sha256")


def frame(body: bytes, mac: bytes) -> bytes:
    """One protocol line: ``body``, a tab, the hex MAC and a newline."""
    return body + b"\t" + mac.hex().encode("ascii") + b"\n"


def split(line: bytes) -> tuple[bytes, bytes] | None:
    """``(body, mac)`` of a protocol line without its newline; ``None`` when it has no MAC."""
    body, sep, mac_hex = line.rpartition(b"\t")
    if not sep:
        return None
    try:
        return body, bytes.fromhex(mac_hex.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def _read_key(fd: int) -> bytearray:
    key = bytearray(KEY_BYTES)
    view = memoryview(key)
    filled = 0
    while filled < KEY_BYTES:
        try:
            count = os.readv(fd, [view[filled:]])
        except InterruptedError:
            continue
        if count == 0:
            raise SignerError("the input ended before the key")
        filled += count
    return key


def _serve(key_fd: int, sock: socket.socket) -> None:
    """The signer's life: read the key, drop every other descriptor, answer MAC requests."""
    isolation.set_dumpable(False)
    isolation.die_with_parent()
    key = bytes(_read_key(key_fd))
    keep = sock.fileno()
    os.closerange(0, keep)
    os.closerange(keep + 1, isolation.MAX_FD)
    sock.sendall(b"ready")
    while True:
        try:
            message = sock.recv(_REQUEST.size + 1)
        except InterruptedError:
            continue
        if len(message) != _REQUEST.size:
            return  # the worker closed its end (or broke the framing): nothing more to sign
        request_id, digest = _REQUEST.unpack(message)
        sock.sendall(hmac.digest(key, mac_input(request_id, digest), "sha256"))


class Signer:
    """The worker's handle on its signer process.

    Args:
        sock: The worker's end of the socket pair.
        pid: The signer's process id.
    """

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid

    @classmethod
    def start(cls, key_fd: int) -> Signer:
        """Fork the signer, which reads the key from ``key_fd``; wait until it has it.

        Call this before the worker reads ``key_fd`` itself and before any other fork.

        Raises:
            SignerError: the signer did not get a key (the input ended or was not a key).
        """
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # ------------------------------------------------------------ signer
            code = 0
            try:
                mine.close()
                _serve(key_fd, theirs)
            except BaseException:
                code = 1
            os._exit(code)
        theirs.close()
        try:
            hello = mine.recv(16)
        except OSError as exc:
            hello = str(exc).encode()
        if hello != b"ready":
            mine.close()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            raise SignerError("the sandbox worker did not receive its key")
        return cls(mine, pid)

    @property
    def fd(self) -> int:
        """The socket's descriptor (a forked child closes it)."""
        return self.sock.fileno()

    def sign(self, request_id: int, body: bytes) -> bytes:
        """The MAC of ``body`` as the answer to ``request_id``.

        Raises:
            SignerError: the signer is gone.
        """
        digest = hashlib.sha256(body).digest()
        try:
            self.sock.sendall(_REQUEST.pack(request_id, digest))
            mac = self.sock.recv(64)
        except OSError as exc:
            raise SignerError(f"the signer is gone: {exc}") from exc
        if len(mac) != hashlib.sha256().digest_size:
            raise SignerError("the signer is gone")
        return mac

    def close(self) -> None:
        """Stop the signer (it exits when its socket closes)."""
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)
