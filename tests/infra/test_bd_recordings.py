"""The recorded ``bd --json`` outputs in tests/data/bd are complete, current and consistent.

They are derived from the beads source (no bd binary installs here; see the README there).
These checks keep the files and their derivation script in step, and pin the facts the bd
loop relies on, so a wrong edit to the data fails here rather than in a feature test.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

BD = Path(__file__).resolve().parents[1] / "data" / "bd"


def _load(name: str) -> Any:
    return json.loads((BD / name).read_text(encoding="utf-8"))


def test_the_files_are_what_the_derivation_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bd_derive", BD / "_derive.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in BD.iterdir() if p.suffix in {".json", ".jsonl"})
    for name in written:
        assert (tmp_path / name).read_bytes() == (BD / name).read_bytes(), name


def test_every_scenario_step_names_an_existing_output() -> None:
    steps = _load("scenario.json")
    assert [s["argv"][1] for s in steps][:4] == ["create"] * 4
    for step in steps:
        assert step["argv"][0] == "bd"
        if step["stdout"] is not None:
            _load(step["stdout"])
        if step["exit"] != 0 and step["argv"][1] != "show":
            assert step["stdout"] is None and step["stderr"].startswith("Error claiming ")


def test_ready_leaves_out_blocked_issues_and_sorts_by_priority_then_newest() -> None:
    assert [i["id"] for i in _load("ready.json")] == ["bd-k3x.1", "bd-k3x", "bd-7qm"]
    assert [i["id"] for i in _load("ready_after.json")] == ["bd-k3x"]
    [blocked] = _load("show_blocked.json")
    assert [(d["id"], d["dependency_type"]) for d in blocked["dependencies"]] == [
        ("bd-7qm", "blocks")
    ]


def test_claim_notes_close_and_blocked_change_what_they_should() -> None:
    [claimed] = _load("update_claim.json")
    assert (claimed["status"], claimed["assignee"]) == ("in_progress", "beadline")
    [noted] = _load("update_append_notes_again.json")
    assert noted["notes"].count("\n") == 1
    [closed] = _load("close.json")
    assert closed["status"] == "closed"
    assert closed["close_reason"].endswith(".beadline/reports/bd-k3x.1.md")
    [blocked] = _load("update_blocked.json")
    assert blocked["status"] == "blocked" and "budget exhausted" in blocked["notes"]


def test_the_jsonl_export_holds_the_final_state_one_record_per_line() -> None:
    lines = (BD / "issues.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["_type"] for r in records} == {"issue"}
    status = {r["id"]: r["status"] for r in records}
    assert status == {"bd-a9w": "open", "bd-k3x.1": "closed", "bd-k3x": "open", "bd-7qm": "blocked"}
    child = next(r for r in records if r["id"] == "bd-k3x.1")
    assert child["dependencies"][0]["type"] == "parent-child"
    assert "parent" not in child  # the export has no computed parent; read the dependency
