"""Bring-your-own-benchmark task files: the JSON-lines reader and the example file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from beadline.agents.task import Task
from beadline.validators.executor import Executor, RunRequest
from beadline.validators.sandbox.factory import make_executor
from beadline.workflows.bench.jsonl_tasks import load_jsonl_tasks, task_from_mapping
from beadline.workflows.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tasks" / "own_benchmark.jsonl"

# A correct program per example task (checked against visible and held-out tests below).
REFERENCES = {
    "second-largest": "def second_largest(numbers):\n    return sorted(set(numbers))[-2]\n",
    "count-vowels": "def count_vowels(text):\n    return sum(c in 'aeiouAEIOU' for c in text)\n",
    "palindrome": (
        "def is_palindrome(s):\n    t = [c.lower() for c in s if c.isalnum()]\n"
        "    return t == t[::-1]\n"
    ),
    "running-max": (
        "def running_max(xs):\n    out = []\n    for x in xs:\n"
        "        out.append(x if not out else max(out[-1], x))\n    return out\n"
    ),
    "chunk": (
        "def chunk(items, size):\n"
        "    return [items[i:i + size] for i in range(0, len(items), size)]\n"
    ),
    "hypotenuse": "import math\n\ndef hypotenuse(a, b):\n    return math.hypot(a, b)\n",
    "sum-numbers": (
        "def main():\n    input()\n    print(sum(int(x) for x in input().split()))\n\n"
        "if __name__ == '__main__':\n    main()\n"
    ),
    "reverse-words": "def main():\n    print(' '.join(reversed(input().split())))\n\nmain()\n",
    "gcd": (
        "import math\n\ndef main():\n    a, b = map(int, input().split())\n"
        "    print(math.gcd(a, b))\n\nmain()\n"
    ),
    "fizzbuzz": (
        "def main():\n    for i in range(1, int(input()) + 1):\n"
        "        print('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else "
        "'Buzz' if i % 5 == 0 else i)\n\nmain()\n"
    ),
}


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with make_executor("local", workers=1) as ex:
        yield ex


def _write(tmp_path: Path, *rows: Any) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


# ------------------------------------------------------------------ the example file


def test_example_file_holds_ten_tasks_of_both_kinds_with_held_out_tests() -> None:
    tasks = load_jsonl_tasks(EXAMPLE)
    assert [t.task_id for t in tasks] == list(REFERENCES)
    kinds = [t.metadata["io"] for t in tasks]
    assert kinds.count("function") == 6 and kinds.count("stdio") == 4
    assert all(t.held_out_tests for t in tasks)
    by_id = {t.task_id: t for t in tasks}
    assert by_id["chunk"].signature == "def chunk(items, size):"
    assert by_id["hypotenuse"].setup == "import math"
    assert by_id["gcd"].entry_point == "main"
    assert [t.kind for t in by_id["gcd"].tests] == ["stdio", "stdio"]
    assert by_id["reverse-words"].tests[0].name == "three words"


def _run(executor: Executor, task: Task, program: str, held_out: bool) -> list[str]:
    tests = task.held_out_tests if held_out else task.tests
    request = RunRequest(
        program=program,
        tests=tests,
        setup=task.setup,
        trace=False,
        trace_function=task.entry_point,
    )
    (result,) = executor.run_many([request])
    return [r.status for r in result.results]


@pytest.mark.parametrize("task", load_jsonl_tasks(EXAMPLE), ids=lambda t: t.task_id)
def test_example_tasks_are_solvable_as_written(executor: Executor, task: Task) -> None:
    # each example's visible and held-out tests accept a correct program (the file is sound)
    program = REFERENCES[task.task_id]
    assert set(_run(executor, task, program, held_out=False)) == {"passed"}
    assert set(_run(executor, task, program, held_out=True)) == {"passed"}


def test_stdio_held_out_cases_reject_a_program_fitted_to_the_visible_ones(
    executor: Executor,
) -> None:
    (task,) = load_jsonl_tasks(EXAMPLE, ids=[7])  # sum-numbers
    fitted = "input()\nprint(6)\n"
    assert set(_run(executor, task, fitted, held_out=False)) == {"passed"}
    assert _run(executor, task, fitted, held_out=True) == ["failed", "failed"]


# ------------------------------------------------------------------ reading


def test_ids_are_positions_and_default_task_ids_follow_them(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "// a comment",
        {"description": "Double.", "tests": ["assert dbl(2) == 4"]},
        "",
        {"description": "Echo.", "tests": [{"stdin": "x\n", "stdout": "x\n"}]},
    )
    tasks = load_jsonl_tasks(path)
    assert [(t.task_id, t.entry_point) for t in tasks] == [("tasks/1", "dbl"), ("tasks/2", "main")]
    assert [t.task_id for t in load_jsonl_tasks(path, ids=[2, 1])] == ["tasks/2", "tasks/1"]


def test_a_single_test_may_be_given_without_a_list() -> None:
    task = task_from_mapping(
        {"description": "Say hi.", "tests": {"stdin": "", "stdout": "hi\n"}, "entry_point": "run"},
        task_id="hi",
        where="x",
    )
    assert task.entry_point == "run"
    assert task.tests[0].expected_stdout == "hi\n"
    assert task.tests[0].name == "stdio 1"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"description": "d", "tests": ["assert f(1) == 1", {"stdin": "", "stdout": ""}]},
            "either assert lines or stdin/stdout cases, not both",
        ),
        (
            {
                "description": "d",
                "tests": [{"stdin": "1", "stdout": "1"}],
                "held_out_tests": ["assert f(1) == 1"],
            },
            "'held_out_tests' must be of the same kind as 'tests' (stdio)",
        ),
        ({"description": "d", "tests": [{"stdin": "1"}]}, "needs 'stdout'"),
        (
            {"description": "d", "tests": [{"stdin": "1", "input": "2", "stdout": ""}]},
            "give one of 'stdin' or 'input', not both",
        ),
        (
            {"description": "d", "tests": [{"stdin": "1", "stdout": "1", "args": []}]},
            "unknown key(s) 'args' in a stdin/stdout case",
        ),
        ({"description": "d", "tests": [{"stdin": 1, "stdout": "1"}]}, "'stdin' must be text"),
        ({"description": "d", "tests": [3]}, "a test must be an assert line or a"),
        ({"description": "d", "tests": []}, "'tests' must not be empty"),
        ({"tests": ["assert f(1) == 1"]}, "missing key 'description'"),
        ({"description": "d", "tests": ["assert f(1) == 1"], "solution": "x"}, "unknown key(s)"),
        ({"description": "d", "tests": ["f(1) == 1"]}, "is not an assert statement"),
        (
            {"description": " ", "tests": [{"stdin": "", "stdout": ""}]},
            "'description' must be a non-empty text",
        ),
        (
            {"description": "d", "tests": [{"stdin": "", "stdout": ""}], "entry_point": "a b"},
            "is not a Python identifier",
        ),
    ],
)
def test_bad_tasks_name_the_line_and_the_fix(
    tmp_path: Path, row: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, {"description": "ok", "tests": ["assert f(1) == 1"]}, row)
    with pytest.raises(UserError) as err:
        load_jsonl_tasks(path)
    assert str(err.value).startswith(f"{path}:2:")
    assert message in str(err.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_jsonl_tasks(tmp_path / "missing.jsonl")
    with pytest.raises(UserError, match="holds no task"):
        load_jsonl_tasks(_write(tmp_path, "// only a comment"))
    with pytest.raises(UserError, match=r"tasks.jsonl:1: not valid JSON"):
        load_jsonl_tasks(_write(tmp_path, "{not json"))
    with pytest.raises(UserError, match="must be a JSON object"):
        load_jsonl_tasks(_write(tmp_path, "[1, 2]"))
    one = {"task_id": "a", "description": "d", "tests": ["assert f(1) == 1"]}
    with pytest.raises(UserError, match="'a' is already used on line 1"):
        load_jsonl_tasks(_write(tmp_path, one, one))
    with pytest.raises(UserError, match="has no task 3: it holds tasks 1–1"):
        load_jsonl_tasks(_write(tmp_path, one), ids=[3])
