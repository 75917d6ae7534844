"""Your own JSON-lines tasks through the benchmark: a scripted model, the real decoder and the
local sandbox, on a function task and a stdin/stdout task of examples/tasks."""

from __future__ import annotations

import json
from pathlib import Path

from beadline.agents.testing import FunctionModel
from beadline.validators.sandbox.factory import make_executor
from beadline.workflows.bench.datasets import load_tasks
from beadline.workflows.bench.runner import MethodSpec, make_solver, run_bench

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tasks" / "own_benchmark.jsonl"
PROGRAMS = {
    "count_vowels": "def count_vowels(text):\n    return sum(c in 'aeiouAEIOU' for c in text)\n",
    # the decoder writes the function only: the bench adds the call of main for stdio tasks
    "main": "def main():\n    a, b = map(int, input().split())\n"
    "    while b:\n        a, b = b, a % b\n    print(a)\n",
}


def scripted() -> FunctionModel:
    """Writes the program of the task's entry point named in the prompt, character by
    character (the example tasks' count_vowels and gcd)."""

    def brain(ctx: str) -> dict[str, float]:
        code = ctx.rsplit("```python\n", 1)[-1] if "```python\n" in ctx else ""
        code = code.rsplit("[BEGIN]\n", 1)[-1]
        program = PROGRAMS["count_vowels" if "count_vowels" in ctx else "main"]
        if program.startswith(code) and len(code) < len(program):
            return {program[len(code)]: 0.0}
        return {"<eos>": 0.0}

    return FunctionModel(brain)


def test_function_and_stdio_tasks_end_to_end(tmp_path: Path) -> None:
    tasks = [t for t in load_tasks("jsonl", path=EXAMPLE) if t.task_id in ("count-vowels", "gcd")]
    assert [t.metadata["io"] for t in tasks] == ["function", "stdio"]
    out = tmp_path / "own.jsonl"
    executor = make_executor("local", workers=1)
    try:
        summary = run_bench(
            {"all": tasks}, [MethodSpec(name="greedy")], make_solver(scripted(), executor), out
        )
    finally:
        executor.close()
    lines = {x["task_id"]: x for x in map(json.loads, out.read_text().splitlines())}
    assert summary.ran == 2 and summary.errors == 0
    for task_id in ("count-vowels", "gcd"):
        line = lines[task_id]
        assert line["status"] == "solved", line["message"]
        assert line["visible"]["passed"] and line["held_out"]["passed"] and line["passed"]
        assert line["n_held_out_tests"] == 2
    assert lines["gcd"]["program"].endswith('if __name__ == "__main__":\n    main()\n')
    assert lines["gcd"]["visible"]["n_tests"] == 2
