"""Turning what the worker saw of a child into the protocol's result objects.

Pure functions (no processes): the exit status of a child that sent no result becomes a status
and a clear message, a child's result bytes are checked, stdio output is compared.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Outcome",
    "compare_stdout",
    "decode_child",
    "ended_without_result",
    "finish",
    "signal_name",
]


@dataclass
class Outcome:
    """What the worker saw of one child."""

    wait_status: int = 0
    result: bytes = b""
    stdout: bytes = b""
    stdout_total: int = 0
    stderr: bytes = b""
    timed_out: bool = False
    output_exceeded: bool = False
    cpu_s: float = 0.0
    duration_s: float = 0.0
    oom: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def ended_without_result(outcome: Outcome, limits: Mapping[str, Any]) -> tuple[str, str]:
    """Status and message of a child that ended without a result."""
    status = outcome.wait_status
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU or (
            number == signal.SIGKILL and outcome.cpu_s >= float(limits["cpu_s"]) - 0.05
        ):
            return "timeout", f"CPU time limit of {limits['cpu_s']} s exceeded"
        if number == signal.SIGKILL and outcome.oom:
            return "killed", f"memory limit of {limits['memory_mb']} MiB exceeded (killed)"
        if number == signal.SIGSEGV:
            return (
                "killed",
                "the process crashed with SIGSEGV (stack overflow from deep recursion?)",
            )
        if number == signal.SIGXFSZ:
            return "killed", "file size limit exceeded (SIGXFSZ)"
        return "killed", f"the process was killed by {signal_name(number)}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return (
        "error",
        f"the program ended the process (exit status {code}) before the test finished "
        "(os._exit, or the sandbox's result pipe was closed)",
    )


def decode_child(outcome: Outcome, limits: Mapping[str, Any]) -> dict[str, Any]:
    """The child's result dict, or an ``error``/``killed``/``timeout`` one saying why none came."""
    if not outcome.result:
        status, message = ended_without_result(outcome, limits)
        return {"status": status, "exc_type": None, "message": message}
    try:
        decoded = json.loads(outcome.result)
    except ValueError:
        return {
            "status": "error",
            "exc_type": None,
            "message": "the sandbox child sent an unreadable result (did the program write to the result pipe?)",
        }
    if not isinstance(decoded, dict):
        return {"status": "error", "exc_type": None, "message": "malformed child result"}
    if "child_error" in decoded:
        return {"status": "error", "exc_type": None, "message": str(decoded["child_error"])}
    if decoded.get("status") not in ("passed", "failed", "error", "timeout", "killed"):
        return {"status": "error", "exc_type": None, "message": "malformed child result"}
    return decoded


def compare_stdout(stdout: bytes, want: str | None, limits: Mapping[str, Any]) -> dict[str, Any]:
    """Verdict of a ``stdio`` case: stdout equal to ``want`` up to whitespace."""
    got = stdout.decode("utf-8", "replace")
    if want is None:
        return {}
    if got.split() == want.split():
        return {"status": "passed", "message": ""}
    limit = int(limits["repr_chars"])

    def short(text: str) -> str:
        text = repr(text)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    return {
        "status": "failed",
        "exc_type": None,
        "message": f"expected stdout {short(want)}, got {short(got)}",
        "expected_repr": short(want),
        "return_repr": short(got),
    }


def finish(
    result: dict[str, Any],
    stdout: bytes,
    total: int,
    duration: float,
    limits: Mapping[str, Any],
) -> dict[str, Any]:
    """The protocol's result object of one test case."""
    cap = int(limits["output_bytes"])
    return {
        "status": result.get("status", "error"),
        "exc_type": result.get("exc_type"),
        "message": str(result.get("message", "")),
        "line": result.get("line"),
        "return_repr": result.get("return_repr"),
        "expected_repr": result.get("expected_repr"),
        "stdout": stdout[:cap].decode("utf-8", "replace"),
        "output_truncated": total > cap,
        "duration_s": round(duration, 6),
        "trace": result.get("trace") or {"events": [], "truncated": False},
    }
