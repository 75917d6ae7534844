"""Turning what the worker saw of a child into the protocol's result objects.

Pure functions (no processes): the exit status of a child that sent no result becomes a status
and a clear message, a child's result bytes are checked, stdio output is compared, and every
text that leaves the worker is capped (:func:`finish`, :func:`cap_command`): the child's result
comes from the same process as the program under test, so its sizes are the program's choice.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXC_TYPE_CHARS",
    "MESSAGE_CHARS",
    "TRUNCATED",
    "Outcome",
    "cap_command",
    "cap_trace",
    "case_result",
    "clip",
    "compare_stdout",
    "decode_child",
    "ended_without_result",
    "finish",
    "signal_name",
]


TRUNCATED = "... [truncated]"
"""Appended to a message cut to its cap."""

MESSAGE_CHARS = 1000
"""Characters kept of a result's ``message`` (marker included)."""

EXC_TYPE_CHARS = 200
"""Characters kept of an exception type name."""

_JUNIT_CASES = 10_000
_JUNIT_FIELD_CHARS = 1000
_TRACE_KEYS = ("kind", "line", "source", "function", "value", "locals", "depth")


def clip(text: str, limit: int, marker: str = TRUNCATED) -> str:
    """``text`` cut to ``limit`` characters, ending in ``marker`` when it was cut."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return text[:limit]
    return text[: limit - len(marker)] + marker


def _opt_text(value: Any, limit: int, marker: str = TRUNCATED) -> str | None:
    return None if value is None else clip(str(value), limit, marker)


def cap_trace(raw: Any, limits: Mapping[str, Any]) -> dict[str, Any]:
    """A trace in protocol form whose size is bounded by ``limits``, whatever the child sent.

    The tracer keeps its own caps; this is the backstop for a result the program wrote itself
    (or names the tracer does not count): at most ``trace_events`` events, known keys only, each
    text cut to ``trace_chars``, and about twice ``trace_chars`` characters in all. Anything
    cut marks the trace truncated.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        return {"events": [], "truncated": False}
    max_events = int(limits["trace_events"])
    text_cap = int(limits["trace_chars"])
    budget = 2 * text_cap + 64 * max_events
    truncated = bool(raw.get("truncated")) or len(raw["events"]) > max_events
    events: list[dict[str, Any]] = []
    for item in raw["events"][:max_events]:
        event, size = _cap_event(item, text_cap)
        budget -= size
        if event is None or budget < 0:
            truncated = True
            break
        events.append(event)
    return {"events": events, "truncated": truncated}


def _cap_event(item: Any, text_cap: int) -> tuple[dict[str, Any] | None, int]:
    """One trace event with its texts cut, and its size in characters."""
    if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
        return None, 0
    event: dict[str, Any] = {"line": 0}
    size = 0
    for key in _TRACE_KEYS:
        if key not in item:
            continue
        value = item[key]
        if key in ("line", "depth"):
            event[key] = value if isinstance(value, int) and not isinstance(value, bool) else 0
        elif key == "locals":
            if not isinstance(value, dict):
                continue
            names = {
                clip(str(k), 200, "..."): clip(str(v), text_cap, "...") for k, v in value.items()
            }
            event[key] = names
            size += sum(len(k) + len(v) + 2 for k, v in names.items())
        else:
            event[key] = clip(str(value), text_cap, "...")
            size += len(event[key])
    return event, size


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
    repr_cap = max(int(limits["repr_chars"]), 16)
    line = result.get("line")
    return {
        "status": result.get("status", "error"),
        "exc_type": _opt_text(result.get("exc_type"), EXC_TYPE_CHARS),
        "message": clip(str(result.get("message", "")), MESSAGE_CHARS),
        "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
        "return_repr": _opt_text(result.get("return_repr"), repr_cap, "..."),
        "expected_repr": _opt_text(result.get("expected_repr"), repr_cap, "..."),
        "stdout": stdout[:cap].decode("utf-8", "replace"),
        "output_truncated": total > cap,
        "duration_s": round(duration, 6),
        "trace": cap_trace(result.get("trace"), limits),
    }


def cap_command(result: dict[str, Any]) -> dict[str, Any]:
    """A command result with its message and JUnit cases bounded (stdout/stderr already are)."""
    result["message"] = clip(str(result.get("message", "")), MESSAGE_CHARS)
    junit = result.get("junit") or []
    result["junit"] = [
        {key: clip(str(case.get(key, "")), _JUNIT_FIELD_CHARS) for key in case}
        for case in junit[:_JUNIT_CASES]
        if isinstance(case, dict)
    ]
    return result


def case_result(
    outcome: Outcome, kind: str, expected_stdout: str | None, limits: Mapping[str, Any]
) -> dict[str, Any]:
    """The protocol result of one test case (``kind``: its test kind) from what its child did."""
    if outcome.timed_out:
        result: dict[str, Any] = {
            "status": "timeout",
            "exc_type": None,
            "message": f"timed out after {limits['wall_s']} s",
        }
    elif outcome.output_exceeded:
        cap = max(1 << 20, 64 * int(limits["output_bytes"]))
        result = {
            "status": "killed",
            "exc_type": None,
            "message": f"output limit exceeded: the program wrote more than {cap} bytes",
        }
    else:
        result = decode_child(outcome, limits)
        if kind == "stdio" and result.get("status") == "passed":
            result.update(compare_stdout(outcome.stdout, expected_stdout, limits))
    return finish(result, outcome.stdout, outcome.stdout_total, outcome.duration_s, limits)
