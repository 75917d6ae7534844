"""benchmarks/tune_grid.py: grids read with clear errors, scored on held-out verdicts, ranked,
and a sweep that resumes (the second run of the same grid runs nothing again)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "tune_grid.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tune_grid", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


tune = _load()


def _line(task: str, *, passed: bool, visible: bool, wall: float, **extra: Any) -> dict[str, Any]:
    return {
        "task_id": task,
        "status": "solved" if visible else "unsolved",
        "passed": passed,
        "visible": {"passed": visible},
        "wall_s": wall,
        **extra,
    }


def test_the_packaged_grids_are_valid_settings() -> None:
    from beadline.workflows.bench.runner import decoder_settings

    grids = tune.read_grids(tune.DEFAULT_GRIDS)
    assert "paper-order" in grids and "half-before-one" in grids
    for grid in grids.values():
        _, configs = decoder_settings({}, tuple(grid))
        assert configs and len(configs) == len(grid)


def test_a_bad_grids_file_says_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("fast: {gamma: 1}\n")
    with pytest.raises(SystemExit, match="grid 'fast' must be a non-empty list"):
        tune.read_grids(bad)
    with pytest.raises(SystemExit, match="cannot read the grids file"):
        tune.read_grids(tmp_path / "missing.yaml")


def test_scores_count_held_out_passes_the_last_line_per_task_and_rank_by_them() -> None:
    a = tune.score(
        "a",
        [
            _line("mbpp/511", passed=False, visible=False, wall=9.0, status="error"),
            _line("mbpp/511", passed=True, visible=True, wall=10.0),  # the rerun counts
            _line("mbpp/512", passed=False, visible=True, wall=30.0, guard_rejections=2),
        ],
    )
    assert (a.tasks, a.held_out, a.visible, a.overfit, a.guard_rejections) == (2, 1, 2, 1, 2)
    assert a.median_wall_s == 20.0 and a.errors == 0
    b = tune.score("b", [_line("mbpp/511", passed=True, visible=True, wall=5.0)])
    c = tune.score("c", [_line("mbpp/511", passed=False, visible=False, wall=1.0)])
    # most held-out passes first; a tie goes to the faster grid
    assert [s.name for s in tune.ranked([c, a, b])] == ["b", "a", "c"]


def _tried(*statuses: str) -> dict[str, Any]:
    return {
        "method": "egcfg",
        "config": {
            "solved_by": {
                "tried": [
                    {"attempt": i, "label": f"e{i}", "seconds": 1.0, "status": st}
                    for i, st in enumerate(statuses)
                ]
            }
        },
    }


def test_grids_are_compared_on_the_tasks_every_grid_finished_with_the_entry_split() -> None:
    results = {
        # a: 511 by its γ=0 entry, 512 by its second entry, and 513 (the others have not run it)
        "a": [
            _line("mbpp/511", passed=True, visible=True, wall=2.0, **_tried("solved")),
            _line("mbpp/512", passed=True, visible=True, wall=9.0, **_tried("unsolved", "solved")),
            _line("mbpp/513", passed=True, visible=True, wall=9.0, **_tried("solved")),
        ],
        "b": [
            _line("mbpp/511", passed=False, visible=False, wall=5.0),
            _line("mbpp/512", passed=True, visible=True, wall=5.0, **_tried("solved")),
        ],
        "empty": [],
    }
    tasks, partial = tune.common_tasks(results)
    assert tasks == {"mbpp/511", "mbpp/512"} and partial == {"mbpp/513"}
    a = tune.score("a", results["a"], tasks)
    assert (a.tasks, a.held_out, a.by_first_entry, a.by_later_entries) == (2, 2, 1, 1)
    assert tune.score("a", results["a"]).tasks == 3  # without the common set: all it finished
    assert tune.common_tasks({"x": []}) == (set(), set())


def test_a_sweep_resumes_where_it_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grids = tmp_path / "grids.yaml"
    grids.write_text("plain:\n  - {gamma: 0.0}\n")
    args = ["--grids", str(grids), "--out-dir", str(tmp_path / "out"), "--ids", "511"]
    assert tune.main([*args, "--task-time-budget", "30"]) == 0
    results = tmp_path / "out" / "plain.jsonl"
    first = results.read_text().splitlines()
    assert len(first) == 1 and json.loads(first[0])["task_id"] == "mbpp/511"
    assert json.loads(first[0])["guide_tests"] == "first"
    assert tune.main([*args, "--task-time-budget", "30"]) == 0  # nothing left to run
    assert results.read_text().splitlines() == first
    assert "plain" in capsys.readouterr().out


def test_read_lines_skips_a_killed_writes_tail_and_names_a_broken_line(tmp_path: Path) -> None:
    good = {**_line("mbpp/511", passed=True, visible=True, wall=1.0), "key": "mbpp/511 egcfg"}
    killed = tmp_path / "killed.jsonl"
    killed.write_text(json.dumps(good) + "\n" + '{"key": "mbpp/512', encoding="utf-8")
    assert [ln["task_id"] for ln in tune.read_lines(killed)] == ["mbpp/511"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n" + json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"broken\.jsonl:1"):
        tune.read_lines(broken)
    assert tune.read_lines(tmp_path / "missing.jsonl") == []


def test_the_default_grid_is_the_one_the_sweep_chose() -> None:
    from beadline.agents.search import DEFAULT_GRID

    assert tune.read_grids(tune.DEFAULT_GRIDS)["half-before-one"] == [dict(g) for g in DEFAULT_GRID]
