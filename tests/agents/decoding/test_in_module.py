"""A task in a repository: every program the decoder runs is the whole module, in its package."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.agents.decoding import decode
from beadline.agents.decoding.in_module import InModuleExecutor, for_task
from beadline.agents.settings import DecoderSettings
from beadline.agents.splice import ModuleTarget, locate_target
from beadline.agents.task import Task
from beadline.agents.testing import FunctionModel
from beadline.validators.executor import (
    Executor,
    RunRequest,
    RunResult,
    TestCase,
    TestResult,
    Trace,
    TraceEvent,
)
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.snapshot import module_context, snapshot_repo
from beadline.validators.testing import FakeExecutor

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inventory_repo"
SIGNATURE = (
    "def order_total(items: list[Item]) -> float:\n"
    '    """The order\'s total: the items\' subtotals plus tax at TAX_RATE, rounded to cents."""\n'
)
BODY = "    return round_money(sum(i.subtotal() for i in items) * (1 + TAX_RATE))\n"
TESTS = (
    TestCase.from_assert("assert order_total([]) == 0.0"),
    TestCase.from_assert('assert order_total([Item("pen", 2.5, 2), Item("pad", 5.0)]) == 12.0'),
)


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    with make_executor(request.param, workers=1) as ex:
        yield ex


@pytest.fixture
def module(tmp_path: Path) -> ModuleTarget:
    repo = tmp_path / "inventory_repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    snapshot = snapshot_repo(repo)
    context = module_context(snapshot, "inventory/pricing.py", target="order_total")
    original = context.original_text()
    return ModuleTarget(
        context=context, original=original, site=locate_target(original, "order_total")
    )


def _answer(ctx: str) -> str:
    return ctx.rsplit("```python\n", 1)[-1]


def _writes(program: str):  # type: ignore[no-untyped-def]
    def brain(ctx: str) -> dict[str, float]:
        code = _answer(ctx)
        if program.startswith(code) and len(code) < len(program):
            return {program[len(code)]: 0.0}
        return {"<eos>": 0.0}

    return brain


def test_programs_are_spliced_into_the_module_and_results_come_back_in_program_lines(
    module: ModuleTarget,
) -> None:
    def judge(request: RunRequest) -> RunResult:
        line = request.program.splitlines().index(BODY.rstrip("\n")) + 1
        trace = Trace(events=(TraceEvent(kind="line", line=line, source=BODY.strip()),))
        return RunResult(
            results=tuple(
                TestResult(test=t, status="error", line=line, trace=trace) for t in request.tests
            )
        )

    inner = FakeExecutor(judge)
    runner = InModuleExecutor(inner, module)
    result = runner.run(RunRequest(program=SIGNATURE + BODY, tests=TESTS))
    (sent,) = inner.requests
    assert sent.context is module.context
    assert sent.program.startswith('"""Order totals."""') and BODY in sent.program
    assert "raise NotImplementedError" not in sent.program
    # line 3 of the program is the body line, wherever it sits in the module
    assert {r.line for r in result.results} == {3}
    assert result.results[0].trace.events[0].line == 3
    broken = runner.run(RunRequest(program="x = 1\n", tests=TESTS))
    assert all(r.status == "error" and "def order_total" in r.message for r in broken.results)
    assert len(inner.requests) == 1  # what cannot be spliced never runs
    task = Task(task_id="t", description="d", entry_point="order_total", module=module)
    assert isinstance(for_task(inner, task), InModuleExecutor)
    assert for_task(for_task(inner, task), task) is not inner  # never wrapped twice
    assert for_task(inner, Task(task_id="t", description="d", entry_point="f")) is inner


def test_a_candidate_using_siblings_and_relative_imports_is_solved_in_the_repository(
    module: ModuleTarget, executor: Executor
) -> None:
    program = SIGNATURE + BODY
    task = Task(
        task_id="repo/order_total",
        description="Return the taxed total of the items, rounded to cents.",
        entry_point="order_total",
        tests=TESTS,
        prompt=SIGNATURE,
        module=module,
        code_context="from .models import TAX_RATE, Item",
    )
    got = decode(task, FunctionModel(_writes(program)), executor, DecoderSettings(gamma=1.0))
    assert got.status == "solved", (got.message, got.program)
    assert got.visible is not None and got.visible.passed
    assert got.program == program
    # the prompt showed the repository code, and guidance executed candidates in the module
    assert "from .models import TAX_RATE, Item" in got.record.prompt
    assert got.cost.programs_executed >= 1
    # the same program alone does not know Item, TAX_RATE or round_money
    alone = executor.run(RunRequest(program=program, tests=TESTS))
    assert not alone.passed and "NameError" in {r.exc_type for r in alone.results}
