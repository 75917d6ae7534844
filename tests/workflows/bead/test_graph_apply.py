"""``build_bead_graph(..., apply=True)``: the graph writes the passed function into its file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beadline.workflows.bead.generation import ScriptedGenerator
from beadline.workflows.bead.graph import build_bead_graph
from beadline.workflows.bead.report import build_report
from beadline.workflows.bead.spec import Bead, parse_bead
from beadline.workflows.errors import UserError

from ..conftest import InProcessExecutor

BEAD: Bead = parse_bead(
    {
        "id": "sq",
        "description": "Return the sum of the squares of xs.",
        "target": {
            "file": "pkg/m.py",
            "function": "sum_squares",
            "signature": "def sum_squares(xs):",
            "setup": "import math",
        },
        "tests": ["assert sum_squares([1, 2]) == 5", "assert sum_squares([]) == 0"],
        "budgets": {"body_part": 1},
    }
)
BODY = {"body[0]": "return sum(x * x for x in xs)"}
ORIGINAL = '"""Helpers."""\n\n\ndef sum_squares(xs):\n    raise NotImplementedError\n'


def _repo(tmp_path: Path, text: str = ORIGINAL) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(text)
    return tmp_path


def _run(graph: Any, repo: Path | None) -> dict[str, Any]:
    inp: dict[str, Any] = {"bead": BEAD.model_dump(mode="json")}
    if repo is not None:
        inp["repo"] = str(repo)
    return dict(graph.invoke(inp, {"configurable": {"thread_id": "t"}}))


def test_apply_writes_the_merged_file_atomically_with_a_backup(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    repo = _repo(tmp_path)
    out = _run(build_bead_graph(ScriptedGenerator(BODY), inproc, apply=True), repo)
    assert out["status"] == "passed", out["message"]
    assert (repo / "pkg" / "m.py").read_text() == (
        '"""Helpers."""\n\nimport math\n\n\ndef sum_squares(xs):\n    return sum(x * x for x in xs)\n'
    )
    assert (repo / "pkg" / "m.py.bak").read_text() == ORIGINAL
    applied = out["applied"]
    assert applied["written"] is True and applied["dry_run"] is False
    assert applied["path"] == str(repo / "pkg" / "m.py")
    assert "-    raise NotImplementedError" in applied["diff"]
    assert "+    return sum(x * x for x in xs)" in applied["diff"]
    # the report reads what the graph wrote
    assert build_report(out)["applied"] == applied


def test_dry_run_returns_the_diff_and_writes_nothing(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    repo = _repo(tmp_path)
    graph = build_bead_graph(ScriptedGenerator(BODY), inproc, apply=True, dry_run=True)
    out = _run(graph, repo)
    assert out["status"] == "passed"
    assert out["applied"]["written"] is False and out["applied"]["dry_run"] is True
    assert "+    return sum(x * x for x in xs)" in out["applied"]["diff"]
    assert (repo / "pkg" / "m.py").read_text() == ORIGINAL
    assert not (repo / "pkg" / "m.py.bak").exists()


def test_without_apply_nothing_is_written(tmp_path: Path, inproc: InProcessExecutor) -> None:
    repo = _repo(tmp_path)
    out = _run(build_bead_graph(ScriptedGenerator(BODY), inproc), repo)
    assert out["status"] == "passed"
    assert out.get("applied") is None
    assert (repo / "pkg" / "m.py").read_text() == ORIGINAL


def test_apply_without_a_repository_is_invalid_before_any_model_call(
    inproc: InProcessExecutor,
) -> None:
    gen = ScriptedGenerator(BODY)
    out = _run(build_bead_graph(gen, inproc, apply=True), None)
    assert out["status"] == "invalid", (out["message"], gen.calls)
    assert "target repository None not found" in out["message"]
    assert gen.calls == []


def test_a_target_file_that_does_not_parse_is_invalid_before_any_model_call(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    repo = _repo(tmp_path, "def broken(:\n")
    gen = ScriptedGenerator(BODY)
    out = _run(build_bead_graph(gen, inproc, apply=True), repo)
    assert out["status"] == "invalid", out["message"]
    assert (
        out["message"] == "bead sq: pkg/m.py does not parse (line 1: invalid syntax); fix it first"
    )
    assert gen.calls == []
    assert (repo / "pkg" / "m.py").read_text() == "def broken(:\n"
    assert not (repo / "pkg" / "m.py.bak").exists()


def test_dry_run_needs_apply(inproc: InProcessExecutor) -> None:
    with pytest.raises(UserError, match="dry_run=True needs apply=True"):
        build_bead_graph(ScriptedGenerator(), inproc, dry_run=True)
