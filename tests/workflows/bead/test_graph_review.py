"""Review mode (interrupt / approve / edit / retry / resume) and durability on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from beadline.workflows.bead.generation import GeneratedStage, ScriptedGenerator, StageRequest
from beadline.workflows.bead.graph import build_bead_graph
from beadline.workflows.bead.review import drive, pending_interrupts
from beadline.workflows.bead.spec import Bead, parse_bead

from ..conftest import InProcessExecutor

BEAD: Bead = parse_bead(
    {
        "id": "rev",
        "description": "Return the largest of a and b.",
        "target": {"file": "m.py", "function": "bigger", "signature": "def bigger(a, b):"},
        "tests": ["assert bigger(1, 2) == 2", "assert bigger(5, 3) == 5"],
        "budgets": {"body_part": 1},
    }
)
INPUT = {"bead": BEAD.model_dump(mode="json")}


@contextmanager
def _saver(path: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def _payloads(graph: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    return [i.value for i in pending_interrupts(graph, config)]


def test_review_interrupts_at_each_stage_and_approve_resumes(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    gen = ScriptedGenerator({"body[0]": "return a if a > b else b"})
    config = {"configurable": {"thread_id": "r1"}}
    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(gen, inproc, checkpointer=saver, review=True)
        graph.invoke(INPUT, config)
        seen = []
        for _ in range(10):
            payloads = _payloads(graph, config)
            if not payloads:
                break
            seen.append((payloads[0]["stage"], payloads[0]["kind"], payloads[0]["ok"]))
            graph.invoke(Command(resume={"action": "approve"}), config)
        out = graph.get_state(config).values
    assert seen == [
        ("signature", "stage", True),
        ("setup", "stage", True),
        ("body", "stage", True),
        ("integration", "stage", True),
    ]
    assert out["status"] == "passed"


def test_edit_replaces_the_stage_and_is_validated(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    gen = ScriptedGenerator({"body[0]": "return a"})  # wrong: integration fails
    answers = iter(
        [
            "approve",  # signature
            "approve",  # setup
            {"action": "edit", "code": "return a + b +"},  # a broken edit is shown again
            {"action": "edit", "code": "return max(a, b)"},  # validated (smoke), accepted
            "approve",  # integration
        ]
    )
    kinds: list[tuple[str, str]] = []

    def reviewer(payload: Any) -> Any:
        kinds.append((payload["stage"], payload["kind"]))
        return next(answers)

    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(gen, inproc, checkpointer=saver, review=True)
        out = drive(graph, INPUT, {"configurable": {"thread_id": "e"}}, reviewer=reviewer)
    assert out["status"] == "passed", out["message"]
    assert out["parts"] == ["    return max(a, b)"]
    assert kinds[2:4] == [("body", "stage"), ("body", "edit")]
    assert [h["source"] for h in out["history"] if h["stage"] == "body"] == [
        "model",
        "edit",
        "edit",
    ]


def test_retry_with_hint_reaches_the_prompt_and_budget_asks_a_person(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    gen = ScriptedGenerator({"body[0]": ["return a", "return max(a, b)"]})
    bead = parse_bead({**BEAD.model_dump(mode="json"), "budgets": {"integration": 1}})
    payloads: list[dict[str, Any]] = []

    def reviewer(payload: Any) -> Any:
        payloads.append(payload)
        if payload["stage"] == "integration" and not payload["ok"]:
            return {"action": "retry", "hint": "compare a and b"}
        return "approve"

    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(gen, inproc, checkpointer=saver, review=True)
        out = drive(
            graph,
            {"bead": bead.model_dump(mode="json")},
            {"configurable": {"thread_id": "h"}},
            reviewer=reviewer,
        )
    assert out["status"] == "passed"
    budget = [p for p in payloads if p["kind"] == "budget"]
    assert budget and budget[0]["stage"] == "integration"
    assert "expected 2, got 1" in budget[0]["summary"]
    hinted = [c for c in gen.calls if c.feedback is not None and c.feedback.hint]
    assert hinted and hinted[0].feedback is not None
    assert hinted[0].feedback.hint == "compare a and b"


def test_edit_of_the_whole_function_at_integration(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    gen = ScriptedGenerator({"body[0]": "return a"})

    def reviewer(payload: Any) -> Any:
        if payload["stage"] == "integration" and not payload["ok"]:
            assert "def bigger(a, b):" in payload["code"]
            return {
                "action": "edit",
                "code": "def bigger(a, b):\n    if a > b:\n        return a\n    return b\n",
            }
        return "approve"

    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(gen, inproc, checkpointer=saver, review=True)
        out = drive(graph, INPUT, {"configurable": {"thread_id": "w"}}, reviewer=reviewer)
    assert out["status"] == "passed"
    assert out["parts"] == ["    if a > b:\n        return a", "    return b"]


def test_abort_stops_the_run(tmp_path: Path, inproc: InProcessExecutor) -> None:
    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(ScriptedGenerator(), inproc, checkpointer=saver, review=True)
        out = drive(graph, INPUT, {"configurable": {"thread_id": "a"}}, reviewer=lambda p: "abort")
    assert out["status"] == "aborted"


def test_interrupted_run_resumes_from_a_new_process_view(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    """Stop at the first interrupt, close the db, rebuild everything, resume on the thread."""
    db = tmp_path / "db.sqlite"
    config = {"configurable": {"thread_id": "k"}}
    with _saver(db) as saver:
        graph = build_bead_graph(ScriptedGenerator(), inproc, checkpointer=saver, review=True)
        first = drive(graph, INPUT, config)  # no reviewer: returns at the interrupt
    assert first["__interrupt__"][0]["stage"] == "signature"
    gen = ScriptedGenerator({"body[0]": "return max(a, b)"})
    with _saver(db) as saver:
        graph = build_bead_graph(gen, inproc, checkpointer=saver, review=True)
        out = drive(graph, None, config, reviewer=lambda p: "approve")
    assert out["status"] == "passed"
    assert [gen.key(c) for c in gen.calls] == ["setup", "body[0]"]  # the signature was kept


class _Crash(RuntimeError):
    pass


def test_resume_after_a_crash_loses_only_the_stage_in_flight(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    db = tmp_path / "db.sqlite"
    config = {"configurable": {"thread_id": "c"}}
    bead = parse_bead(
        {
            **BEAD.model_dump(mode="json"),
            "description": "Return the sum of a and b, doubled.",
            "tests": ["assert bigger(1, 2) == 6"],
        }
    )

    def crashing(request: StageRequest) -> GeneratedStage:
        if request.stage == "body" and request.part == 1:
            raise _Crash("power cut")
        if request.stage == "signature":
            return GeneratedStage(code="def bigger(a, b):")
        return GeneratedStage(code="s = a + b" if request.stage == "body" else "")

    first = ScriptedGenerator(fn=crashing)
    with _saver(db) as saver:
        graph = build_bead_graph(first, inproc, checkpointer=saver)
        with pytest.raises(_Crash):
            graph.invoke({"bead": bead.model_dump(mode="json")}, config)
    second = ScriptedGenerator({"body[1]": "return 2 * s"})
    with _saver(db) as saver:
        graph = build_bead_graph(second, inproc, checkpointer=saver)
        out = graph.invoke(None, config)
    assert out["status"] == "passed", out["message"]
    assert [second.key(c) for c in second.calls] == ["body[1]"]
    assert out["parts"] == ["    s = a + b", "    return 2 * s"]


def test_bad_resume_value_asks_again(tmp_path: Path, inproc: InProcessExecutor) -> None:
    config = {"configurable": {"thread_id": "x"}}
    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(ScriptedGenerator(), inproc, checkpointer=saver, review=True)
        graph.invoke(INPUT, config)
        graph.invoke(Command(resume={"action": "frobnicate"}), config)
        payload = _payloads(graph, config)[0]
        assert "approve, edit, retry or abort" in payload["error"]
        graph.invoke(Command(resume={"action": "edit"}), config)
        payload = _payloads(graph, config)[0]
        assert "needs the replacement code" in payload["error"]
        graph.invoke(Command(resume="approve"), config)
        assert _payloads(graph, config)[0]["stage"] == "setup"


_KILLED_RUN = r"""
import sqlite3, sys, time
from pathlib import Path
from langgraph.checkpoint.sqlite import SqliteSaver
from beadline.validators.testing import FakeExecutor
from beadline.workflows.bead.spec import parse_bead
from beadline.workflows.bead.generation import GeneratedStage, ScriptedGenerator
from beadline.workflows.bead.graph import build_bead_graph

db, marker, bead_json = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

def slow(request):
    if request.stage == "signature":
        return GeneratedStage(code="def bigger(a, b):")
    if request.stage == "body" and request.part == 1:
        marker.write_text("in flight")
        time.sleep(60)  # killed here
    return GeneratedStage(code="m = max(a, b)" if request.stage == "body" else "")

saver = SqliteSaver(sqlite3.connect(db, check_same_thread=False))
graph = build_bead_graph(ScriptedGenerator(fn=slow), FakeExecutor(), checkpointer=saver)
config = {"configurable": {"thread_id": "kill"}}
graph.invoke({"bead": __import__("json").loads(bead_json)}, config, durability="sync")
"""


def test_resume_after_the_process_is_killed_mid_stage(tmp_path: Path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from beadline.validators.testing import FakeExecutor

    db, marker = tmp_path / "db.sqlite", tmp_path / "marker"
    script = tmp_path / "run.py"
    script.write_text(_KILLED_RUN)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(db),
            str(marker),
            json.dumps(BEAD.model_dump(mode="json")),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the run ended before the stage in flight"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    gen = ScriptedGenerator({"body[1]": "return m"})
    with _saver(db) as saver:
        graph = build_bead_graph(gen, FakeExecutor(), checkpointer=saver)
        config = {"configurable": {"thread_id": "kill"}}
        state = graph.get_state(config)
        assert state.next == ("body",)  # sync durability: every finished stage is saved
        out = graph.invoke(None, config)
    assert out["status"] == "passed"
    assert out["parts"] == ["    m = max(a, b)", "    return m"]  # only part 2 was redone
    assert [gen.key(c) for c in gen.calls] == ["body[1]"]


def test_review_requested_is_emitted_once_per_review(
    tmp_path: Path, inproc: InProcessExecutor
) -> None:
    # A node that interrupts runs again from its start on resume: the event must not come twice.
    gen = ScriptedGenerator({"body[0]": "return a if a > b else b"})
    events: list[dict[str, Any]] = []
    asked: list[str] = []

    def reviewer(payload: Any) -> str:
        asked.append(payload["stage"])
        return "approve"

    with _saver(tmp_path / "db.sqlite") as saver:
        graph = build_bead_graph(gen, inproc, checkpointer=saver, review=True)
        out = drive(
            graph,
            INPUT,
            {"configurable": {"thread_id": "once"}},
            reviewer=reviewer,
            on_event=events.append,
        )
    assert out["status"] == "passed"
    requested = [e["stage"] for e in events if e["event"] == "review_requested"]
    assert asked == ["signature", "setup", "body", "integration"]
    assert requested == asked
