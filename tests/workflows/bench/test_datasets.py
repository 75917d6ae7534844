"""Benchmark datasets: MBPP splits and ids, HumanEval docstring examples, guide-tests settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beadline.workflows.bench.datasets import (
    docstring_examples,
    load_humaneval,
    load_mbpp,
    load_tasks,
    parse_ids,
    select_tasks,
)
from beadline.workflows.errors import UserError


@pytest.fixture(scope="module")
def mbpp_all() -> list:
    return load_mbpp(guide_tests="all")


@pytest.fixture(scope="module")
def humaneval_all() -> dict:
    return {t.task_id: t for t in load_humaneval(guide_tests="all")}


def test_mbpp_test_split_is_ids_11_to_510(mbpp_all: list) -> None:
    assert len(mbpp_all) == 500
    assert mbpp_all[0].task_id == "mbpp/11"
    assert mbpp_all[-1].task_id == "mbpp/510"
    assert [t.metadata["number"] for t in mbpp_all] == list(range(11, 511))


def test_mbpp_task_fields(mbpp_all: list) -> None:
    task = mbpp_all[0]  # mbpp/11: remove first and last occurrence of a character
    assert task.entry_point == "remove_Occ"
    assert task.description.startswith("Write a python function to remove first and last")
    assert [c.kind for c in task.tests] == ["assert"] * 3
    assert task.tests[0].source == 'assert remove_Occ("hello","l") == "heo"'
    assert task.held_out_tests == ()
    assert "def remove_Occ" in task.metadata["reference"]


def test_mbpp_entry_point_inside_a_wrapper_call() -> None:
    # mbpp/912's asserts read `assert int(lobb_num(5, 3)) == 35`: the entry point is the
    # reference's function, not the builtin wrapping it.
    (task,) = load_mbpp(ids=[912])
    assert task.tests[0].source.startswith("assert int(lobb_num(")
    assert task.entry_point == "lobb_num"


def test_mbpp_guide_first_shows_one_and_judges_with_all() -> None:
    (all_,) = load_mbpp(ids=[11], guide_tests="all")
    (first,) = load_mbpp(ids=[11], guide_tests="first")
    assert first.tests == all_.tests[:1]
    assert first.held_out_tests[:3] == all_.tests  # then task 11's two challenge asserts
    assert len(first.held_out_tests) == 5
    assert first.metadata["guide_tests"] == "first"


def test_mbpp_guide_first_also_judges_the_challenge_tests() -> None:
    (first,) = load_mbpp(ids=[47], guide_tests="first")
    (all_,) = load_mbpp(ids=[47], guide_tests="all")
    judged = [t.source for t in first.held_out_tests]
    assert judged[:3] == [t.source for t in all_.tests]
    assert judged[3:] == [
        "assert compute_Last_Digit(3,7) == 0",
        "assert compute_Last_Digit(20,23) == 6",
        "assert compute_Last_Digit(1021,1024) == 4",
    ]
    assert [t.source for t in first.tests] == judged[:1]


def test_mbpp_ids_order_and_missing() -> None:
    tasks = load_mbpp(ids=parse_ids("100,11-13"))
    assert [t.task_id for t in tasks] == ["mbpp/100", "mbpp/11", "mbpp/12", "mbpp/13"]
    with pytest.raises(UserError, match="no task with id 9999"):
        load_mbpp(ids=[11, 9999])


def test_mbpp_other_splits_and_bad_split() -> None:
    assert len(load_mbpp(split="prompt")) == 10
    assert len(load_mbpp(split="validation")) == 90
    with pytest.raises(UserError, match="unknown MBPP split 'dev'"):
        load_mbpp(split="dev")


def test_mbpp_path_option_and_malformed_file(tmp_path: Path) -> None:
    good = tmp_path / "mini.jsonl"
    row = {
        "task_id": 7,
        "text": "Add one.",
        "code": "def inc(x):\n    return x + 1",
        "test_list": ["assert inc(1) == 2", "assert inc(2) == 3"],
        "test_setup_code": "",
    }
    good.write_text(json.dumps(row) + "\n")
    (task,) = load_mbpp(good, split="all")
    assert (task.task_id, task.entry_point, len(task.tests)) == ("mbpp/7", "inc", 2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row) + "\n{not json\n")
    with pytest.raises(UserError, match=r"bad.jsonl:2: not a JSON object"):
        load_mbpp(bad, split="all")
    missing = tmp_path / "fields.jsonl"
    missing.write_text(json.dumps({"task_id": 3}) + "\n")
    with pytest.raises(UserError, match="needs task_id, text and test_list"):
        load_mbpp(missing, split="all")
    with pytest.raises(UserError, match="cannot read"):
        load_mbpp(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("11-13", (11, 12, 13)), ("11-12,100, 12", (11, 12, 100)), ("5", (5,))],
)
def test_parse_ids(spec: str, expected: tuple[int, ...]) -> None:
    assert parse_ids(spec) == expected


@pytest.mark.parametrize("spec", ["11-a", "20-10", ",", "1.5"])
def test_parse_ids_rejects(spec: str) -> None:
    with pytest.raises(UserError):
        parse_ids(spec)


def test_select_tasks_seed_and_limit(mbpp_all: list) -> None:
    a = select_tasks(mbpp_all, seed=3, limit=5)
    b = select_tasks(mbpp_all, seed=3, limit=5)
    c = select_tasks(mbpp_all, seed=4, limit=5)
    assert [t.task_id for t in a] == [t.task_id for t in b]
    assert [t.task_id for t in a] != [t.task_id for t in c]
    assert len(a) == 5
    assert select_tasks(mbpp_all, limit=2) == mbpp_all[:2]
    with pytest.raises(UserError, match="limit"):
        select_tasks(mbpp_all, limit=0)


def test_load_tasks_dispatch() -> None:
    assert [t.task_id for t in load_tasks("mbpp", ids=[11, 12])] == ["mbpp/11", "mbpp/12"]
    assert [t.task_id for t in load_tasks("humaneval", ids=[2])] == ["HumanEval/2"]
    with pytest.raises(UserError, match="unknown dataset 'apps'"):
        load_tasks("apps")


def test_humaneval_has_164_tasks_with_hidden_check(humaneval_all: dict) -> None:
    assert len(humaneval_all) == 164
    task = humaneval_all["HumanEval/0"]
    assert task.entry_point == "has_close_elements"
    assert task.prompt is not None and task.prompt.startswith("from typing import List")
    (check,) = task.held_out_tests
    assert check.kind == "check"
    assert check.entry_point == "has_close_elements"
    assert "def check(candidate)" in check.source
    # most prompts carry readable examples
    assert sum(1 for t in humaneval_all.values() if t.tests) >= 140


def test_humaneval_doctest_examples(humaneval_all: dict) -> None:
    assert [c.source for c in humaneval_all["HumanEval/0"].tests] == [
        "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False",
        "assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True",
    ]
    assert [c.source for c in humaneval_all["HumanEval/2"].tests] == [
        "assert truncate_number(3.5) == 0.5"
    ]
    assert [c.source for c in humaneval_all["HumanEval/1"].tests] == [
        "assert separate_paren_groups('( ) (( )) (( )( ))') == ['()', '(())', '(()())']"
    ]


def test_humaneval_one_line_and_prose_examples(humaneval_all: dict) -> None:
    # "search([4, 1, 2, 2, 3, 1]) == 2"
    assert humaneval_all["HumanEval/69"].tests[0].source == (
        "assert search([4, 1, 2, 2, 3, 1]) == 2"
    )
    # "will_it_fly([1, 2], 5) ➞ False" followed by a comment line
    assert humaneval_all["HumanEval/72"].tests[0].source == "assert will_it_fly([1, 2], 5) == False"
    # "iscube(1) ==> True"
    assert "assert iscube(64) == True" in [c.source for c in humaneval_all["HumanEval/77"].tests]
    # "Input: arr = [-3, -4, 5], k = 3" / "Output: [-4, -3, 5]"
    assert humaneval_all["HumanEval/120"].tests[0].source == (
        "assert maximum([-3, -4, 5], 3) == [-4, -3, 5]"
    )
    # prose with no literal example: no visible tests rather than a guess
    assert humaneval_all["HumanEval/41"].tests == ()
    assert humaneval_all["HumanEval/41"].metadata["n_examples"] == 0


def test_humaneval_examples_hold_for_the_reference(humaneval_all: dict) -> None:
    """Parsed examples agree with the canonical solutions, except HumanEval's known wrong ones."""
    known_wrong = {"HumanEval/47", "HumanEval/116", "HumanEval/130", "HumanEval/148"}
    failures = []
    for task in humaneval_all.values():
        for case in task.tests:
            scope: dict = {}
            exec(task.metadata["reference"], scope)  # trusted canonical solutions
            try:
                exec(case.source, scope)
            except AssertionError:
                failures.append(task.task_id)
    assert set(failures) <= known_wrong


def test_humaneval_guide_first() -> None:
    (task,) = load_humaneval(ids=[0], guide_tests="first")
    assert [c.source for c in task.tests] == [
        "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False"
    ]
    assert task.held_out_tests[0].kind == "check"


def test_docstring_examples_skips_non_literals() -> None:
    prompt = (
        "def f(x):\n"
        '    """Doc.\n'
        "    >>> f(1)\n"
        "    2\n"
        "    >>> f(y)\n"
        "    3\n"
        "    >>> g(1)\n"
        "    4\n"
        "    >>> f(2) == 3\n"
        "    >>> f('a')\n"
        "    'b'\n"
        '    """\n'
    )
    assert docstring_examples(prompt, "f") == [
        "assert f(1) == 2",
        "assert f(2) == 3",
        "assert f('a') == 'b'",
    ]
    assert docstring_examples("def f(x):\n    pass\n", "f") == []
    assert docstring_examples("not python (", "f") == []
