"""The decoder's speed levers (issue 14) on fake models: each keeps the tokens it should."""

from __future__ import annotations

from collections.abc import Callable

from beadline.agents.decoding import decode
from beadline.agents.decoding.compact_signal import HEADER
from beadline.agents.prompts.builder import build_prompt
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import RunRequest, RunResult, TestCase, TestResult, Trace
from beadline.validators.testing import FakeExecutor

LEAD = "```python\n"
TASK = Task(
    task_id="t",
    description="Add one to x.",
    entry_point="add_one",
    tests=(TestCase.from_assert("assert add_one(1) == 2"),),
)
BODY = "".join(f"    v{i} = {i}\n" for i in range(6))
PROGRAM = f"def add_one(x):\n{BODY}    return x + 1\nprint(1)\n"
WRONG = "def add_one(x):\n    y = x\n    return y + 2\nprint(1)\n"
RIGHT = "def add_one(x):\n    y = x\n    return y + 1\nprint(1)\n"


def follow(
    plain: str, guided: str | None = None, trigger: str = ""
) -> Callable[[str], dict[str, float]]:
    """Write ``plain`` (``guided`` when ``trigger`` is in the context) a character at a time."""

    def brain(ctx: str) -> dict[str, float]:
        target = guided if guided is not None and trigger and trigger in ctx else plain
        code = ctx.rsplit(LEAD, 1)[-1]
        if target.startswith(code) and len(code) < len(target):
            return {target[len(code)]: 0.0, "#": -2.0}
        return {"<eos>": 0.0}

    return brain


def failing(request: RunRequest) -> RunResult:
    """Every test fails with a recognisable message (nothing is accepted early)."""
    good = "y + 1" in request.program
    return RunResult(
        results=tuple(
            TestResult(
                test=t,
                status="passed" if good else "failed",
                message="" if good else "expected 2, got 3",
                return_repr="2" if good else "3",
                expected_repr="2",
                trace=Trace(events=()),
            )
            for t in request.tests
        )
    )


def test_reuse_keeps_the_signal_while_the_code_follows_an_executed_candidate() -> None:
    runs: dict[bool, tuple[int, list[int]]] = {}
    for reuse in (False, True):
        executor = FakeExecutor(failing)
        settings = DecoderSettings(d=3, s=2, t=0.0, reuse_candidates=reuse, early_stop_agreements=0)
        got = decode(TASK, FunctionModel(follow(PROGRAM)), executor, settings)
        assert got.program == PROGRAM.replace("print(1)\n", "")
        stepped = [
            line.index for line in got.record.lines if line.guided and line.guided.candidates
        ]
        runs[reuse] = (len(executor.requests), stepped)
        kept = [line for line in got.record.lines if line.guided and not line.guided.candidates]
        assert bool(kept) == reuse
        assert all(
            "signal kept, nothing sampled" in line.guided.note for line in kept if line.guided
        )
    # off: a step (and a run) at every body line; on: one step per d lines, the lines between
    # follow the candidate executed at the step before
    assert runs[False][1] == [1, 2, 3, 4, 5, 6, 7]
    assert runs[True][1] == [1, 4, 7]
    assert runs[True][0] < runs[False][0]


def _plain_calls(model: FunctionModel) -> int:
    return sum("Candidate" not in ctx and "Execution" not in ctx for ctx in model.history)


def test_gamma_one_skips_the_plain_context_and_keeps_the_tokens() -> None:
    results = {}
    for skip in (False, True):
        model = FunctionModel(follow(WRONG, RIGHT, trigger="expected 2, got 3"))
        settings = DecoderSettings(gamma=1.0, skip_plain_at_gamma_one=skip, reuse_candidates=False)
        got = decode(TASK, model, FakeExecutor(failing), settings)
        tokens = [t.id for line in got.record.lines for t in line.tokens]
        guided = [t for line in got.record.lines for t in line.tokens if t.p_guided is not None]
        results[skip] = (got.program, tokens, len(guided), _plain_calls(model))
    assert results[True][:2] == results[False][:2]
    assert results[True][0] == RIGHT.replace("print(1)\n", "")
    n_guided = results[False][2]
    assert n_guided > 0 and results[True][2] == n_guided
    # every guided token evaluated P once without the lever, never with it (one more than the
    # record holds: the "p" of "print" that ended the function was drawn guided, then cut)
    assert results[False][3] - results[True][3] == n_guided + 1


def test_gamma_between_still_evaluates_the_plain_context() -> None:
    counts = []
    for skip in (False, True):
        model = FunctionModel(follow(WRONG, RIGHT, trigger="expected 2, got 3"))
        settings = DecoderSettings(gamma=0.5, skip_plain_at_gamma_one=skip)
        decode(TASK, model, FakeExecutor(failing), settings)
        counts.append(_plain_calls(model))
    assert counts[0] == counts[1]


def test_compact_signal_style_reaches_the_signal_context() -> None:
    model = FunctionModel(follow(WRONG, RIGHT, trigger="test 1 returned 3: failed"))
    settings = DecoderSettings(signal_style="compact", reuse_candidates=False)
    got = decode(TASK, model, FakeExecutor(failing), settings)
    step = next(line.guided for line in got.record.lines if line.guided is not None)
    assert step is not None and step.signal.startswith(HEADER)
    assert "expected 2" not in step.signal  # the compact form never shows expected values
    assert got.status == "solved"


def test_signal_after_code_keeps_the_whole_prompt_before_it() -> None:
    given = 'def add_one(x):\n    """Add one."""\n    '
    task = Task(
        task_id="h",
        description="Add one to x.",
        entry_point="add_one",
        tests=TASK.tests,
        prompt=given,
    )
    model = FunctionModel(follow(PROGRAM))
    prompt = build_prompt(task, model, prompt_type="humaneval")
    plain = prompt.text()
    signal = "Candidate 1:\nreturn 3: failed"
    after = prompt.text(signal, after_code=True)
    cut = plain.rfind("\n") + 1
    assert after.startswith(plain[:cut])
    assert after.endswith(plain[cut:])
    last = plain[cut:]  # the line being written: the comments take its indent
    assert f"{last}# Candidate 1:\n{last}# return 3: failed\n{last}" in after
    assert prompt.text(signal, after_code=True) != prompt.text(signal)
