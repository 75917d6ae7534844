"""Prompts: few-shot MBPP, the model's chat template with a prefill, HumanEval, the signal."""

from __future__ import annotations

from typing import ClassVar

import pytest

from beadline.agents.decoding.signal import CandidateRun, render_signal
from beadline.agents.errors import UserError
from beadline.agents.models.base import Capabilities
from beadline.agents.prompts.builder import build_prompt, invocation, load_shots
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import RunResult, TestCase, TestResult, Trace, TraceEvent

TASK = Task(
    task_id="p",
    description="Write a function to add one.",
    entry_point="add_one",
    tests=(TestCase.from_assert("assert add_one(1) == 2"),),
    held_out_tests=(TestCase.from_assert("assert add_one(9) == 10"),),
)
MODEL = FunctionModel(lambda ctx: {"a": 0.0})


class _Base(FunctionModel):
    capabilities: ClassVar[Capabilities] = Capabilities(full_vocabulary=True)


def test_shots_are_mbpp_problems_one_to_ten() -> None:
    shots = load_shots()
    assert sorted(shots) == list(range(1, 11))
    assert "similar_elements" in shots[2]["code"] and "\r" not in shots[1]["code"]


def test_fewshot_prompt_shows_shots_and_visible_tests_only() -> None:
    prompt = build_prompt(TASK, MODEL, prompt_type="fewshot", n_shots=3)
    text = prompt.text()
    assert text.count("[BEGIN]") == 4 and text.count("[DONE]") == 3
    assert "similar_elements" in text and "is_not_prime" in text
    assert "assert add_one(1) == 2" in text and "add_one(9)" not in text
    assert text.endswith("Your code should pass these tests:\n\nassert add_one(1) == 2\n[BEGIN]\n")
    assert prompt.program_prefix == "" and "[DONE]" in prompt.stop
    with_signal = prompt.text("SIGNAL")
    assert with_signal.endswith("assert add_one(1) == 2\nSIGNAL\n[BEGIN]\n")


def test_chat_prompt_uses_the_template_and_prefills_the_def() -> None:
    prompt = build_prompt(TASK, MODEL, prompt_type="chat")
    text = prompt.text()
    assert text.startswith("<user>\nWrite a function to add one.")
    assert text.endswith("<assistant>\n```python\ndef add_one(")
    assert prompt.program_prefix == "def add_one("
    signal = prompt.text("TRACES")
    assert "TRACES\n" in signal and signal.index("TRACES") < signal.index("<assistant>")


def test_auto_picks_chat_when_the_model_has_a_template() -> None:
    assert build_prompt(TASK, MODEL).prompt_type == "chat"
    base = _Base(lambda ctx: {"a": 0.0})
    assert build_prompt(TASK, base).prompt_type == "fewshot"
    with pytest.raises(UserError, match="chat template"):
        build_prompt(TASK, base, prompt_type="chat")


def test_humaneval_form_continues_the_code_and_comments_the_signal() -> None:
    code = 'def add_one(x):\n    """Add one.\n    >>> add_one(1)\n    2\n    """\n'
    task = Task(task_id="h", description="", entry_point="add_one", prompt=code)
    prompt = build_prompt(task, MODEL, prompt_type="humaneval")
    # the body's indentation is prefilled (all but the space BPE tokenizers put on the word)
    assert prompt.text() == code + "   " and prompt.program_prefix == code + "   "
    assert prompt.text("line one\nline two") == "# line one\n# line two\n" + code + "   "
    with pytest.raises(UserError, match="needs a code prompt"):
        build_prompt(TASK, MODEL, prompt_type="humaneval")


def test_given_code_prefix_is_continued_in_every_form() -> None:
    task = Task(
        task_id="g",
        description="d",
        entry_point="add_one",
        tests=TASK.tests,
        prompt="def add_one(x):\n    y = x\n",
    )
    for kind in ("fewshot", "chat"):
        prompt = build_prompt(task, MODEL, prompt_type=kind)
        assert prompt.text().endswith("def add_one(x):\n    y = x\n   ")


def test_chat_prompt_puts_the_given_code_in_the_answer_not_in_the_user_message() -> None:
    # A closed ```python block in the user message made SmolLM2 copy it and close its answer at
    # once; the given code (bead prefix, HumanEval prompt) is the answer's prefill instead.
    code = 'def add_one(x):\n    """Add one."""\n    y = x\n'
    task = Task(task_id="g", description="d", entry_point="add_one", tests=TASK.tests, prompt=code)
    prompt = build_prompt(task, MODEL, prompt_type="chat")
    user, answer = prompt.text().split("<assistant>\n")
    assert code not in user and "```" not in user
    assert answer == "```python\n" + code + "   "
    assert prompt.answer_lead == "```python\n" and prompt.program_prefix == code + "   "
    assert "SIGNAL" in prompt.text("SIGNAL").split("<assistant>")[0]  # the signal stays before


def test_invocation_is_the_call_inside_the_assert() -> None:
    assert invocation("assert add_one(1) == 2", "add_one") == "add_one(1)"
    assert invocation("assert abs(f(2, [1]) - 3) < 1e-9", "f") == "f(2, [1])"
    assert invocation("assert True", "f") == "assert True"


def _run(status: str, value: str) -> RunResult:
    test = TestCase.from_assert("assert add_one(1) == 2")
    trace = Trace(
        events=(
            TraceEvent(kind="call", line=1, function="add_one", locals={"x": "1"}),
            TraceEvent(kind="return", line=2, function="add_one", value=value),
        )
    )
    return RunResult(
        results=(
            TestResult(
                test=test,
                status=status,  # type: ignore[arg-type]
                message="" if status == "passed" else f"expected 2, got {value}",
                return_repr=value,
                trace=trace,
            ),
        )
    )


def test_signal_block_shows_code_invocation_trace_and_outcome() -> None:
    runs = [
        CandidateRun(program="def add_one(x):\n    return x + 2\n", result=_run("failed", "3")),
        CandidateRun(program="def add_one(x):\n    return x + 1\n", result=_run("passed", "2")),
    ]
    text = render_signal(runs, entry_point="add_one")
    assert text.startswith("Execution of 2 candidate")
    assert "Candidate 1:\n```python\ndef add_one(x):\n    return x + 2\n```" in text
    assert "Invocation: add_one(1)" in text and "call add_one(x=1)" in text
    assert "Result: failed: expected 2, got 3" in text and "Result: passed" in text
    assert render_signal([], entry_point="add_one") == ""


def test_signal_is_cut_to_its_budget() -> None:
    runs = [
        CandidateRun(program=f"def add_one(x):\n    return x + {i}\n", result=_run("failed", "9"))
        for i in range(20)
    ]
    text = render_signal(runs, entry_point="add_one", max_chars=700)
    assert len(text) <= 700 + 40
    assert "signal truncated" in text and "Candidate 1:" in text and "Candidate 20:" not in text
