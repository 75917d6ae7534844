"""The line tracer (recorded in the sandbox) and its text rendering for prompts."""

from __future__ import annotations

from typing import Any

import pytest

from beadline.validators.errors import UserError
from beadline.validators.executor import (
    Executor,
    Limits,
    RunRequest,
    TestCase,
    Trace,
    TraceEvent,
)
from beadline.validators.runtime.tracing import Tracer, safe_repr
from beadline.validators.tracer import TRUNCATED_MARKER, render_trace

PROGRAM = """\
def total(xs):
    acc = 0
    for x in xs:
        acc += x
    return acc
"""


def trace_in_process(
    program: str, call: str, *, function: str | None = None, **caps: int
) -> dict[str, Any]:
    """Record ``call`` against ``program`` in this process (the tracer is plain Python)."""
    namespace: dict[str, Any] = {}
    exec(compile(program, "<solution>", "exec"), namespace)
    tracer = Tracer("<solution>", program, function=function, **caps)
    tracer.start()
    try:
        eval(compile(call, "<test>", "eval"), namespace)
    except Exception:
        pass
    finally:
        tracer.stop()
    return tracer.to_json()


def test_records_calls_lines_changed_locals_and_return() -> None:
    trace = trace_in_process(PROGRAM, "total([1, 2])")
    kinds = [(e["kind"], e["line"]) for e in trace["events"]]
    assert kinds == [
        ("call", 1),
        ("line", 2),
        ("line", 3),
        ("line", 4),
        ("line", 3),
        ("line", 4),
        ("line", 3),
        ("line", 5),
        ("return", 5),
    ]
    events = trace["events"]
    assert events[0]["locals"] == {"xs": "[1, 2]"}
    assert events[2]["locals"] == {"acc": "0"}  # changed by line 2
    assert events[3]["locals"] == {"x": "1"}
    assert events[4]["locals"] == {"acc": "1"}
    assert "locals" not in events[1]  # nothing changed before line 2 ran
    assert events[-1]["value"] == "3"
    assert events[1]["source"] == "acc = 0"
    assert not trace["truncated"]


def test_only_program_frames_are_traced() -> None:
    trace = trace_in_process(PROGRAM, "sorted([total([1]), len('ab')])")
    assert {e["function"] for e in trace["events"]} == {"total"}


def test_exception_is_recorded_once_with_its_line() -> None:
    program = "def f(x):\n    y = 1\n    return y / x\n"
    trace = trace_in_process(program, "f(0)")
    exceptions = [e for e in trace["events"] if e["kind"] == "exception"]
    assert len(exceptions) == 1
    assert exceptions[0]["line"] == 3
    assert exceptions[0]["value"] == "ZeroDivisionError: division by zero"
    assert not any(e["kind"] == "return" for e in trace["events"])


def test_nested_calls_have_depth_and_function_filter() -> None:
    program = (
        "def g(x):\n    return x + 1\ndef f(x):\n    return g(x) * 2\ndef h():\n    return 0\n"
    )
    trace = trace_in_process(program, "f(1) + h()", function="f")
    functions = [(e["function"], e.get("depth", 0)) for e in trace["events"]]
    assert ("g", 1) in functions
    assert ("f", 0) in functions
    assert all(name != "h" for name, _ in functions)


def test_event_cap_truncates() -> None:
    trace = trace_in_process(PROGRAM, "total(range(1000))", max_events=20)
    assert trace["truncated"]
    assert len(trace["events"]) == 20


def test_char_cap_truncates() -> None:
    trace = trace_in_process(PROGRAM, "total(range(1000))", max_chars=300)
    assert trace["truncated"]
    assert len(trace["events"]) < 40


def test_safe_repr_truncates_masks_and_survives_hostile_reprs() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert safe_repr("x" * 500, 20).endswith("...")
    assert len(safe_repr(list(range(100_000)), 80)) <= 80
    assert safe_repr(Hostile(), 80) == "<unrepresentable Hostile: RuntimeError>"
    assert "0x…" in safe_repr(object(), 80)
    assert safe_repr(10**5000, 30).startswith("<unrepresentable int")


def test_trace_from_the_sandbox_is_deterministic(any_executor: Executor) -> None:
    program = "def f(words):\n    seen = set(words)\n    table = {w: len(w) for w in seen}\n    return sorted(table.items())\n"
    request = RunRequest(
        program=program,
        tests=(TestCase.from_assert("assert f(['pear', 'fig', 'apple']) == []"),),
    )
    first = any_executor.run(request).results[0]
    second = any_executor.run(request).results[0]
    assert first.status == "failed"
    assert first.trace == second.trace
    assert first.trace.events
    assert first.expected_repr == "[]"
    assert first.message.startswith("expected [], got [(")


def test_trace_json_round_trips(any_executor: Executor) -> None:
    request = RunRequest(program=PROGRAM, tests=(TestCase.from_assert("assert total([4]) == 4"),))
    trace = any_executor.run(request).results[0].trace
    assert Trace.from_json(trace.to_json()) == trace


def test_tracing_can_be_turned_off(any_executor: Executor) -> None:
    request = RunRequest(
        program=PROGRAM, tests=(TestCase.from_assert("assert total([4]) == 4"),), trace=False
    )
    result = any_executor.run(request).results[0]
    assert result.passed
    assert result.trace.events == ()


def test_sandbox_trace_caps_apply(any_executor: Executor) -> None:
    request = RunRequest(
        program=PROGRAM,
        tests=(TestCase.from_assert("assert total(range(500)) == 124750"),),
        limits=Limits(trace_events=30),
    )
    result = any_executor.run(request).results[0]
    assert result.passed
    assert result.trace.truncated
    assert len(result.trace.events) == 30


# -- rendering -------------------------------------------------------------------------------
def _trace(*events: TraceEvent, truncated: bool = False) -> Trace:
    return Trace(events=events, truncated=truncated)


def test_render_trace_shows_lines_state_and_return() -> None:
    trace = _trace(
        TraceEvent(kind="call", line=1, function="add", locals={"a": "1", "b": "2"}),
        TraceEvent(kind="line", line=2, source="c = a + b", function="add"),
        TraceEvent(kind="line", line=3, source="return c", function="add", locals={"c": "3"}),
        TraceEvent(kind="return", line=3, source="return c", function="add", value="3"),
    )
    assert render_trace(trace) == (
        "call add(a=1, b=2)\n  2 | c = a + b\n    |   c = 3\n  3 | return c\nreturn 3\n"
    )


def test_render_trace_shows_exceptions_and_depth() -> None:
    trace = _trace(
        TraceEvent(kind="call", line=1, function="g", locals={"x": "0"}, depth=1),
        TraceEvent(kind="line", line=2, source="return 1 / x", function="g", depth=1),
        TraceEvent(
            kind="exception",
            line=2,
            source="return 1 / x",
            function="g",
            value="ZeroDivisionError: division by zero",
            depth=1,
        ),
    )
    text = render_trace(trace)
    assert text.splitlines() == [
        "  call g(x=0)",
        "    2 | return 1 / x",
        "    ! line 2: ZeroDivisionError: division by zero",
    ]


def test_render_trace_marks_truncation() -> None:
    events = tuple(
        TraceEvent(kind="line", line=i, source=f"x = {i}", function="f") for i in range(1, 200)
    )
    text = render_trace(_trace(*events), max_chars=300)
    assert len(text) <= 300
    assert text.endswith(TRUNCATED_MARKER + "\n")
    short = render_trace(_trace(events[0], truncated=True))
    assert short == "  1 | x = 1\n" + TRUNCATED_MARKER + "\n"
    assert render_trace(Trace()) == ""


def test_render_trace_rejects_tiny_budget() -> None:
    with pytest.raises(UserError, match="too small"):
        render_trace(Trace(), max_chars=5)


def test_render_trace_of_a_real_run(any_executor: Executor) -> None:
    request = RunRequest(program=PROGRAM, tests=(TestCase.from_assert("assert total([5]) == 5"),))
    text = render_trace(any_executor.run(request).results[0].trace)
    assert text.splitlines()[0] == "call total(xs=[5])"
    assert "  4 | acc += x" in text
    assert text.splitlines()[-1] == "return 5"


NESTED = """\
class Outer:
    class Inner:
        def run(self, xs):
            return [x * 2 for x in xs]

    def run(self, xs):
        return len(xs)
"""


def test_a_dotted_function_is_matched_by_qualified_name() -> None:
    trace = trace_in_process(
        NESTED, "Outer.Inner().run([1]) + [Outer().run([1])]", function="Outer.Inner.run"
    )
    calls = [e for e in trace["events"] if e["kind"] == "call"]
    assert [e["function"] for e in calls] == ["run"]  # Outer.run is not traced
    assert all(".0" not in e.get("locals", {}) for e in trace["events"])  # comprehension noise
    plain = trace_in_process(NESTED, "Outer.Inner().run([1]) + [Outer().run([1])]", function="run")
    assert [e["function"] for e in plain["events"] if e["kind"] == "call"] == ["run", "run"]
