"""The dynamic signal: what the sampled candidates did when they ran on the tests.

For each distinct executable candidate the signal shows its code, then per test case the
invocation, the line trace (rendered by :func:`beadline.validators.tracer.render_trace`) and the
outcome. The template is data (``agents/prompts/templates/templates.yaml``, key ``signal``). The block is cut to
a character budget so a small model's context and the re-evaluation cost stay bounded: each
trace to ``trace_chars``, the whole block to ``max_chars`` (later candidates are dropped first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from beadline.agents.prompts.builder import invocation, load_templates
from beadline.validators.executor import RunResult, TestResult, Trace
from beadline.validators.tracer import render_trace

__all__ = ["CandidateRun", "describe_outcome", "render_signal", "trace_text"]


@dataclass(frozen=True, kw_only=True)
class CandidateRun:
    """One executable candidate program and its run on the visible tests."""

    program: str
    """The executable partial program that ran."""
    result: RunResult
    """Its per-test results with traces."""


def trace_text(trace: Trace, max_chars: int) -> str:
    """The compact text form of ``trace``, cut to ``max_chars`` with a marker."""
    return render_trace(trace, max_chars=max_chars).rstrip("\n") or "(no lines ran)"


def describe_outcome(result: TestResult) -> str:
    """One line on how a test ended: ``passed``, ``failed: expected 4, got 5``, ``error: ...``."""
    if result.passed:
        return "passed"
    detail = result.message
    if not detail and result.exc_type:
        detail = result.exc_type
    if result.status == "failed" and result.expected_repr is not None and not detail:
        detail = f"expected {result.expected_repr}, got {result.return_repr}"
    return f"{result.status}: {detail}" if detail else result.status


def render_signal(
    runs: Sequence[CandidateRun],
    *,
    entry_point: str,
    max_chars: int = 1_600,
    trace_chars: int = 400,
) -> str:
    """The dynamic-signal text block for ``runs`` (empty string when there are none).

    Args:
        runs: the executed candidates, in the order they were sampled.
        entry_point: the function under test (to show the invocation of each assert).
        max_chars: budget of the whole block.
        trace_chars: budget of one trace.

    Returns:
        The block, ending with a newline; candidates that do not fit are dropped and a marker
        says so.
    """
    if not runs:
        return ""
    tpl = load_templates()["signal"]
    out = tpl["header"].format(n=len(runs))
    footer = tpl["footer"]
    for index, run in enumerate(runs, start=1):
        part = tpl["candidate"].format(index=index, program=run.program.rstrip("\n"))
        for res in run.result.results:
            call = invocation(res.test.source, entry_point) if res.test.source else res.test.name
            part += tpl["test"].format(
                invocation=call,
                trace=trace_text(res.trace, trace_chars),
                outcome=describe_outcome(res),
            )
        if len(out) + len(part) + len(footer) > max_chars:
            if index == 1:  # always show something of the first candidate
                room = max(0, max_chars - len(out) - len(footer) - len(tpl["truncated"]))
                out += part[:room].rstrip() + "\n"
            out += tpl["truncated"]
            break
        out += part
    return str(out + footer)
