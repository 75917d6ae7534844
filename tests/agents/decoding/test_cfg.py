"""The guided decoder on fake models: where it executes, what the signal holds, how it stops."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

import pytest

from beadline.agents.decoding import ExecutionCache, decode
from beadline.agents.errors import UserError
from beadline.agents.models.base import Capabilities, SamplingParams, complete_by_tokens
from beadline.agents.prompts.builder import build_prompt
from beadline.agents.record import DecodeRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
    TestCase,
    TestResult,
    Trace,
    TraceEvent,
)
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.testing import FakeExecutor

LEAD = "```python\n"

TASK = Task(
    task_id="t",
    description="Add one to x.",
    entry_point="add_one",
    tests=(TestCase.from_assert("assert add_one(1) == 2"),),
)

WRONG = "def add_one(x):\n    y = x\n    return y + 2\nprint(1)\n"
RIGHT = "def add_one(x):\n    y = x\n    return y + 1\nprint(1)\n"


def answer(ctx: str) -> str:
    """The code part of a chat context: what follows the last code-fence opener."""
    return ctx.rsplit(LEAD, 1)[-1]


def follow(
    plain: str, guided: str | None = None, trigger: str = ""
) -> Callable[[str], dict[str, float]]:
    """A brain that writes ``plain`` — or ``guided`` when ``trigger`` is in the context — one
    character at a time, then EOS."""

    def brain(ctx: str) -> dict[str, float]:
        target = guided if guided is not None and trigger and trigger in ctx else plain
        code = answer(ctx)
        if target.startswith(code) and len(code) < len(target):
            return {target[len(code)]: 0.0}
        return {"<eos>": 0.0}

    return brain


def judge(request: RunRequest) -> RunResult:
    """Pass when the program adds one; a trace with a recognisable return value."""
    good = "y + 1" in request.program
    value = "2" if good else "3"
    trace = Trace(
        events=(
            TraceEvent(kind="call", line=1, function="add_one", locals={"x": "1"}),
            TraceEvent(kind="line", line=2, source="y = x", locals={"y": "1"}),
            TraceEvent(kind="return", line=3, function="add_one", value=value),
        )
    )
    return RunResult(
        results=tuple(
            TestResult(
                test=t,
                status="passed" if good else "failed",
                message="" if good else "expected 2, got 3",
                return_repr=value,
                expected_repr="2",
                trace=trace,
            )
            for t in request.tests
        )
    )


def test_gamma_zero_reproduces_plain_decoding_token_for_token() -> None:
    digits = {"1": 0.0, "2": -0.3, "3": -0.9}

    def brain(ctx: str) -> Mapping[str, float]:
        code = answer(ctx)
        if code.count("\n") < 1:
            return follow("def add_one(x):\n")(ctx)
        if code.endswith("\n") and code.count("\n") >= 4:
            return {"p": 0.0}
        if code.endswith("\n"):
            return {" ": 0.0}
        if code.endswith(" ") and not code.endswith("return "):
            return {"return ": 0.0, " ": -0.2}
        return {**digits, "\n": -1.0}

    model = FunctionModel(brain, extra_pieces=["return "])
    executor = FakeExecutor(judge)
    settings = DecoderSettings(gamma=0.0, temperature=1.0, top_p=0.9, seed=11, prompt_type="chat")
    got = decode(TASK, model, executor, settings)
    prompt = build_prompt(TASK, model, prompt_type="chat")
    (plain,) = complete_by_tokens(
        model,
        model.tokenize(prompt.text()),
        n=1,
        params=SamplingParams(temperature=1.0, top_p=0.9, seed=11),
        max_tokens=512,
        stop=["\np"],
    )
    assert got.program == prompt.program_prefix + plain.text + "\n" or got.program == (
        prompt.program_prefix + plain.text
    )
    tokens = [t.id for line in got.record.lines for t in line.tokens]
    assert tokens == list(plain.tokens)[: len(tokens)]
    # γ=0 never samples candidates: only the final program ran, once
    assert len(executor.requests) == 1
    assert all(line.guided is None for line in got.record.lines)


def test_guidance_steers_to_the_passing_line() -> None:
    model = FunctionModel(follow(WRONG, RIGHT, trigger="expected 2, got 3"))
    plain = decode(TASK, model, FakeExecutor(judge), DecoderSettings(gamma=0.0))
    # skip_plain_at_gamma_one off: the record then keeps each token's plain probability
    settings = DecoderSettings(gamma=1.0, skip_plain_at_gamma_one=False)
    guided = decode(TASK, model, FakeExecutor(judge), settings)
    assert plain.status == "unsolved" and "y + 2" in plain.program
    assert guided.status == "solved"
    assert guided.program == "def add_one(x):\n    y = x\n    return y + 1\n"
    # the candidates after the return line reach the function's end and pass: accepted
    assert guided.stop_reason in ("function_end", "eos", "accepted")
    chosen = [t for line in guided.record.lines for t in line.tokens if t.text == "1"]
    assert chosen and chosen[-1].p_plain == 0.0 and chosen[-1].p_guided == 1.0
    assert chosen[-1].plain_top == "2"


def test_executor_runs_at_the_start_of_every_kth_line_after_the_def() -> None:
    body = "".join(f"    v{i} = {i}\n" for i in range(6))
    program = f"def add_one(x):\n{body}    return x + 1\nprint(1)\n"
    model = FunctionModel(follow(program))
    executor = FakeExecutor(judge)
    got = decode(TASK, model, executor, DecoderSettings(k=2, d=1, s=2, t=0.0))
    guided = [line.index for line in got.record.lines if line.guided is not None]
    # line 0 is the rest of the def line; guidance starts on line 1, then every 2nd line
    assert guided == [1, 3, 5, 7]
    # candidates are identical (deterministic model): one run per guided line; the final
    # program is the last line's candidate, so its verdict comes from the cache
    assert len(executor.requests) == len(guided)
    assert executor.requests[-1].program == got.program
    first = got.record.lines[1].guided
    assert first is not None and len(first.candidates) == 2 and first.candidates[1].duplicate


def test_signal_contains_the_traces_and_outcomes() -> None:
    model = FunctionModel(follow(WRONG))
    got = decode(TASK, model, FakeExecutor(judge), DecoderSettings(d=3))
    step = next(line.guided for line in got.record.lines if line.guided is not None)
    assert step is not None
    assert "Invocation: add_one(1)" in step.signal
    assert "y = x" in step.signal and "3" in step.signal
    assert "failed: expected 2, got 3" in step.signal
    assert step.candidates[0].tests[0].trace  # the trace text is kept per test too
    assert step.candidates[0].program is not None and "def add_one" in step.candidates[0].program


def test_a_program_is_never_executed_twice() -> None:
    model = FunctionModel(follow(WRONG))
    executor = FakeExecutor(judge)
    cache = ExecutionCache()
    decode(TASK, model, executor, DecoderSettings(s=3, d=2), cache=cache)
    decode(TASK, model, executor, DecoderSettings(s=2, d=2), cache=cache)
    programs = [r.program for r in executor.requests]
    assert programs and len(programs) == len(set(programs))
    assert cache.executed == len(programs)


def test_early_stop_after_consecutive_agreements() -> None:
    body = "".join(f"    v{i} = {i}\n" for i in range(8))
    program = f"def add_one(x):\n{body}    return x + 1\nprint(1)\n"
    model = FunctionModel(follow(program))
    got = decode(TASK, model, FakeExecutor(judge), DecoderSettings(d=10, early_stop_agreements=3))
    assert got.stop_reason == "early_stop"
    assert got.program == program.replace("print(1)\n", "")
    agreements = [line.guided.agreements for line in got.record.lines if line.guided]
    assert agreements == [1, 2]  # the third agreement stops before a line is written
    written = [line.text for line in got.record.lines]
    assert len(written) < program.count("\n")


def test_token_budget_ends_the_run() -> None:
    model = FunctionModel(follow(RIGHT))
    got = decode(TASK, model, FakeExecutor(judge), DecoderSettings(max_new_tokens=12))
    assert got.status == "budget" and got.stop_reason == "budget"
    assert "12 new tokens" in got.message
    assert sum(len(line.tokens) for line in got.record.lines) == 12


def test_time_budget_ends_the_run() -> None:
    slow = follow(RIGHT)

    def brain(ctx: str) -> dict[str, float]:
        time.sleep(0.02)
        return slow(ctx)

    got = decode(
        TASK, FunctionModel(brain), FakeExecutor(judge), DecoderSettings(time_budget_s=0.2)
    )
    assert got.status == "budget" and "time budget" in got.message


def test_model_that_never_writes_the_def_line() -> None:
    model = FunctionModel(
        lambda ctx: {"<eos>": 0.0} if ctx.endswith("x\n") else {"x": -1.0, "\n": -2.0}
    )
    got = decode(
        TASK, model, FakeExecutor(judge), DecoderSettings(prompt_type="fewshot", max_new_tokens=30)
    )
    assert got.status == "no_function"
    assert "def add_one(" in got.message


def test_stop_after_blocks_keeps_one_more_statement() -> None:
    prefix = "def add_one(x):\n    y = x\n"
    full = prefix + "    for i in range(1):\n        y = y + i\n    z = y\n    return z + 1\n"
    task = Task(
        task_id="b", description="d", entry_point="add_one", tests=TASK.tests, prompt=prefix
    )
    model = FunctionModel(follow(full))
    got = decode(task, model, FakeExecutor(judge), DecoderSettings(stop_after_blocks=1))
    assert got.stop_reason == "blocks"
    assert got.program == prefix + "    for i in range(1):\n        y = y + i\n"
    two = decode(task, model, FakeExecutor(judge), DecoderSettings(stop_after_blocks=2))
    assert two.program == prefix + "    for i in range(1):\n        y = y + i\n    z = y\n"


class _NoLogprobs(FunctionModel):
    capabilities: ClassVar[Capabilities] = Capabilities(
        full_vocabulary=True, logprobs=False, chat_template=True
    )


def test_without_logprobs_gamma_one_samples_lines_from_the_signal_context() -> None:
    model = _NoLogprobs(follow(WRONG, RIGHT, trigger="expected 2, got 3"))
    got = decode(TASK, model, FakeExecutor(judge), DecoderSettings(gamma=1.0))
    assert got.status == "solved"
    with pytest.raises(UserError, match="only γ=0 or γ=1"):
        decode(TASK, model, FakeExecutor(judge), DecoderSettings(gamma=0.5))


def test_all_candidates_timing_out_is_reported() -> None:
    def timeout(request: RunRequest) -> RunResult:
        return RunResult(
            results=tuple(
                TestResult(test=t, status="timeout", message="timed out after 2.0 s")
                for t in request.tests
            )
        )

    settings = DecoderSettings(reuse_candidates=False)  # a step (and a note) at every line
    got = decode(TASK, FunctionModel(follow(WRONG)), FakeExecutor(timeout), settings)
    assert got.status == "unsolved"
    assert got.message == "every candidate execution timed out"
    notes = {line.guided.note for line in got.record.lines if line.guided}
    assert notes == {"every candidate timed out"}


def test_record_round_trips_through_json() -> None:
    got = decode(TASK, FunctionModel(follow(WRONG, RIGHT, "expected 2")), FakeExecutor(judge))
    data = json.loads(json.dumps(got.record.to_json()))
    again = DecodeRecord.from_json(data)
    assert again == got.record
    assert again.program == got.program and again.status == "solved"
    assert again.cost["programs_executed"] == got.cost.programs_executed


# --- with the real local sandbox ----------------------------------------------------------


class Spy(Executor):
    """Forwards to a real executor and records what it was asked to run."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.requests: list[RunRequest] = []

    def run(self, request: RunRequest) -> RunResult:
        self.requests.append(request)
        return self.inner.run(request)

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        self.requests.extend(requests)
        return self.inner.run_many(requests)

    def run_command(self, request: CommandRequest) -> CommandResult:
        return self.inner.run_command(request)


@pytest.fixture(scope="module")
def local() -> Iterator[Executor]:
    executor = make_executor("local", workers=1)
    try:
        yield executor
    finally:
        executor.close()


def test_real_sandbox_traces_reach_the_signal_and_guidance_fixes_the_line(
    local: Executor,
) -> None:
    spy = Spy(local)
    model = FunctionModel(follow(WRONG, RIGHT, trigger="expected 2, got 3"))
    got = decode(TASK, model, spy, DecoderSettings(d=2))
    assert got.status == "solved"
    assert got.program == "def add_one(x):\n    y = x\n    return y + 1\n"
    steps = [line.guided for line in got.record.lines if line.guided is not None]
    first = steps[0]
    assert first is not None
    # the wrong candidate ran in the sandbox: its trace shows the call and the value 3
    assert "call add_one(x=1)" in first.signal
    assert "return 3" in first.signal
    assert first.candidates[0].tests[0].status == "failed"
    # executions happen only at guided line starts, never twice for one program
    programs = [r.program for r in spy.requests]
    assert len(programs) == len(set(programs))
    assert all(r.trace_function == "add_one" for r in spy.requests)


def test_real_sandbox_timeouts_are_reported(local: Executor) -> None:
    looping = "def add_one(x):\n    while True:\n        x = x\n    return x\nprint(1)\n"
    got = decode(
        TASK,
        FunctionModel(follow(looping)),
        local,
        DecoderSettings(d=3, exec_timeout_s=0.2, early_stop_agreements=0),
    )
    assert got.status == "unsolved"
    statuses = {
        t.status
        for line in got.record.lines
        if line.guided
        for c in line.guided.candidates
        for t in c.tests
    }
    assert "timeout" in statuses


# --- which candidates count as complete programs -------------------------------------------


BODY = "def add_one(x):\n    y = x\n    v = 2\n    return y + 1\n"


def _complete_flags(program: str) -> list[list[bool]]:
    model = FunctionModel(follow(program))
    got = decode(
        TASK,
        model,
        FakeExecutor(_failed),
        DecoderSettings(
            d=2, s=1, t=0.0, early_stop_agreements=0, prompt_type="chat", reuse_candidates=False
        ),
    )
    return [
        [c.complete for c in line.guided.candidates] for line in got.record.lines if line.guided
    ]


def _failed(request: RunRequest) -> RunResult:
    return RunResult(
        results=tuple(TestResult(test=t, status="failed", message="no") for t in request.tests)
    )


def test_a_candidate_cut_at_the_line_limit_is_not_complete() -> None:
    # d=2: the first two candidates are cut after two lines; the third reaches the dedent
    assert _complete_flags(BODY + "print(1)\n") == [[False], [False], [True]]


def test_a_candidate_ending_with_eos_or_a_stop_sequence_is_complete() -> None:
    # EOS right after the return line; then the chat prompt's stop sequence "```"
    assert _complete_flags(BODY) == [[False], [False], [True]]
    assert _complete_flags(BODY + "```\n") == [[False], [False], [True]]


def test_finish_of_tells_the_line_limit_from_a_stop_sequence() -> None:
    from beadline.agents.decoding.step import finish_of
    from beadline.agents.models.base import Completion

    model = FunctionModel(lambda ctx: {})

    def completion(raw: str, text: str, reason: str = "stop") -> Completion:
        return Completion(text=text, tokens=tuple(model.tokenize(raw)), finish_reason=reason)

    assert finish_of(model, completion("a\nb\n", "a\nb\n"), ["```"], 2) == "lines"
    assert finish_of(model, completion("a\n```", "a\n"), ["```"], 2) == "stop"
    assert finish_of(model, completion("a\n", "a\n", "eos"), ["```"], 2) == "eos"
    assert finish_of(model, completion("a\nb", "a\nb", "length"), ["```"], 2) == "length"


# --- accepting a passing candidate, skipping steps after a complete body --------------------


def test_a_complete_candidate_passing_every_visible_test_is_accepted_at_once() -> None:
    executor = FakeExecutor(judge)
    got = decode(TASK, FunctionModel(follow(RIGHT)), executor, DecoderSettings(d=3, s=2, t=0.0))
    assert got.status == "solved" and got.stop_reason == "accepted"
    assert got.program == "def add_one(x):\n    y = x\n    return y + 1\n"
    assert "accepted" in got.message and "passes every visible test" in got.message
    steps = [line.guided for line in got.record.lines if line.guided is not None]
    assert len(steps) == 1  # the first guided line found it; no further steps
    assert steps[0] is not None and "accepted" in steps[0].note
    # the accepted lines are in the record, after the def line the decoder wrote itself
    assert "".join(line.text for line in got.record.lines).endswith("return y + 1\n")


def test_a_candidate_passing_only_some_visible_tests_is_not_accepted() -> None:
    task = Task(
        task_id="t2",
        description="Add one to x.",
        entry_point="add_one",
        tests=(
            TestCase.from_assert("assert add_one(1) == 2"),
            TestCase.from_assert("assert add_one(2) == 4"),
        ),
    )

    def half(request: RunRequest) -> RunResult:
        return RunResult(
            results=tuple(
                TestResult(test=t, status="passed" if i == 0 else "failed", message="")
                for i, t in enumerate(request.tests)
            )
        )

    got = decode(
        task,
        FunctionModel(follow(RIGHT)),
        FakeExecutor(half),
        DecoderSettings(d=3, s=2, t=0.0, early_stop_agreements=0),
    )
    assert got.stop_reason == "function_end" and got.status == "unsolved"


def test_no_guided_step_after_a_complete_function_body() -> None:
    # the body is complete after the return line: the blank line and what follows get no
    # candidates, so nothing runs there
    program = "def add_one(x):\n    y = x\n    return y + 2\n\n\nprint(1)\n"
    executor = FakeExecutor(judge)
    got = decode(
        TASK,
        FunctionModel(follow(program)),
        executor,
        DecoderSettings(d=1, s=1, t=0.0, early_stop_agreements=0),
    )
    assert got.stop_reason == "function_end"
    guided = [line.index for line in got.record.lines if line.guided is not None]
    texts = [line.text for line in got.record.lines]
    assert texts[1:5] == ["    y = x", "    return y + 2", "", ""]
    assert guided == [1, 2]  # not on the blank lines after the return
    # two candidate runs and the final verdict (the last candidate's program, cached)
    assert len(executor.requests) == 2
