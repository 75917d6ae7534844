"""End to end: the packaged SmolLM2-135M model and the local sandbox solve an easy MBPP task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beadline.agents.models.loader import load_model
from beadline.agents.search import solve
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.validators.executor import TestCase
from beadline.validators.sandbox.factory import make_executor

MBPP = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "mbpp.jsonl"
"""The in-tree copy of MBPP (benchmarks/data/README.md)."""


def _mbpp(task_id: int) -> Task:
    if not MBPP.is_file():  # pragma: no cover - packaging error
        raise FileNotFoundError(f"MBPP data not found at {MBPP}: the in-tree copy is missing")
    for line in MBPP.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["task_id"] == task_id:
            tests = tuple(TestCase.from_assert(t) for t in row["test_list"])
            entry = tests[0].source.split("assert ", 1)[1].split("(", 1)[0].strip()
            return Task(
                task_id=f"mbpp/{task_id}", description=row["text"], entry_point=entry, tests=tests
            )
    raise AssertionError(f"MBPP task {task_id} missing")  # pragma: no cover


@pytest.mark.slow
def test_packaged_model_solves_mbpp_62_with_guidance() -> None:
    task = _mbpp(62)  # "find smallest number in a list"
    with load_model("smollm2-135m") as model, make_executor("local", workers=1) as executor:
        result = solve(
            task, model, executor, method="cfg", settings=DecoderSettings(time_budget_s=50)
        )
    assert result.status == "solved", (result.message, result.program)
    assert result.visible is not None and result.visible.passed
    assert result.record is not None
    guided = [line for line in result.record["lines"] if line["guided"]]
    assert guided and guided[0]["guided"]["candidates"]  # guidance ran: candidates were executed
    assert result.cost.programs_executed >= 1
    assert result.cost.seconds < 60
