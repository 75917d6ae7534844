"""The compiled bead graph as a subgraph of a two-bead parent graph (examples/parent_graph.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from beadline.workflows.bead.generation import GeneratedStage, StageRequest
from beadline.workflows.bead.loaders import load_bead_file

from ..conftest import InProcessExecutor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "parent_graph_example", EXAMPLES / "parent_graph.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _generator(request: StageRequest) -> GeneratedStage:
    if request.stage == "signature":
        return GeneratedStage(code=request.bead.target.signature or "")
    if request.stage == "setup":
        return GeneratedStage(code="")
    answers = {
        "square": ["return n + n", "return n * n"],  # first attempt wrong: a retry inside
        "count-vowels": ["return sum(c in 'aeiou' for c in s.lower())"],
    }[request.bead.id]
    return GeneratedStage(code=answers[min(request.attempt, len(answers)) - 1])


def _queue(sample_repo: Path) -> list[dict[str, Any]]:
    beads = [
        load_bead_file(EXAMPLES / "beads" / "1-square.yaml"),
        load_bead_file(EXAMPLES / "beads" / "2-count-vowels.yaml"),
    ]
    return [{"bead": b.model_dump(mode="json"), "repo": str(sample_repo)} for b in beads]


def test_two_beads_in_a_parent_graph_stream_their_progress(
    inproc: InProcessExecutor, sample_repo: Path
) -> None:
    from beadline.workflows.bead.generation import ScriptedGenerator

    parent = _example().build_parent_graph(
        ScriptedGenerator(fn=_generator), inproc, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "p"}}
    events = list(
        parent.stream({"queue": _queue(sample_repo)}, config, stream_mode="custom", subgraphs=True)
    )
    results = parent.get_state(config).values["results"]
    assert [(r["bead"], r["status"]) for r in results] == [
        ("square", "passed"),
        ("count-vowels", "passed"),
    ]
    assert "return n * n" in results[0]["program"]
    namespaces = {ns[0].split(":")[0] for ns, _e in events if ns}
    assert namespaces == {"bead"}
    finished = [e["bead"] for _ns, e in events if e.get("event") == "finished"]
    assert finished == ["square", "count-vowels"]
    assert any(e.get("event") == "stage_failed" for _ns, e in events)
    # apply=True: the bead graph wrote each function itself, once it had passed
    mathx = (sample_repo / "sample_pkg" / "mathx.py").read_text()
    assert "def square(n: int) -> int:\n    return n * n\n" in mathx
    assert "def clamp(" in mathx
    assert (sample_repo / "sample_pkg" / "mathx.py.bak").is_file()
    assert (
        "def count_vowels(s: str) -> int:" in (sample_repo / "sample_pkg" / "text.py").read_text()
    )
    assert results[0]["applied"]["written"] is True
    assert "+def square(n: int) -> int:" in results[0]["applied"]["diff"]
    applied = [e["path"] for _ns, e in events if e.get("event") == "applied"]
    assert applied == [
        str(sample_repo / "sample_pkg" / "mathx.py"),
        str(sample_repo / "sample_pkg" / "text.py"),
    ]


def test_without_apply_the_parent_gets_the_code_and_nothing_is_written(
    inproc: InProcessExecutor, sample_repo: Path
) -> None:
    from beadline.workflows.bead.generation import ScriptedGenerator

    before = {p: p.read_text() for p in (sample_repo / "sample_pkg").glob("*.py")}
    parent = _example().build_parent_graph(
        ScriptedGenerator(fn=_generator), inproc, checkpointer=InMemorySaver(), apply=False
    )
    config = {"configurable": {"thread_id": "p0"}}
    parent.invoke({"queue": _queue(sample_repo)}, config)
    results = parent.get_state(config).values["results"]
    assert [r["status"] for r in results] == ["passed", "passed"]
    assert [r["applied"] for r in results] == [None, None]
    # the integration command ran in scratch copies: the sample repository is untouched
    assert {p: p.read_text() for p in (sample_repo / "sample_pkg").glob("*.py")} == before
    assert not list((sample_repo / "sample_pkg").glob("*.bak"))


def test_review_interrupts_surface_in_the_parent(
    inproc: InProcessExecutor, sample_repo: Path
) -> None:
    from langgraph.graph import END, START, StateGraph

    from beadline.workflows.bead.generation import ScriptedGenerator
    from beadline.workflows.bead.graph import build_bead_graph
    from beadline.workflows.bead.review import pending_interrupts

    module = _example()
    bead_graph = build_bead_graph(ScriptedGenerator(fn=_generator), inproc, review=True, apply=True)
    builder = StateGraph(module.ParentState)
    builder.add_node("next_bead", module.next_bead)
    builder.add_node("bead", bead_graph)
    builder.add_edge(START, "next_bead")
    builder.add_edge("next_bead", "bead")
    builder.add_edge("bead", END)
    parent = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "pr"}}
    next_input: Any = {"queue": _queue(sample_repo)[:1]}
    stages: list[str] = []
    requested: list[str] = []
    for _ in range(10):
        for _ns, event in parent.stream(next_input, config, stream_mode="custom", subgraphs=True):
            if event.get("event") == "review_requested":
                requested.append(event["stage"])
        interrupts = pending_interrupts(parent, config)
        if not interrupts:
            break
        stages.append(interrupts[0].value["stage"])
        next_input = Command(resume="approve")
    out = parent.get_state(config).values
    # the wrong first body passes smoke, fails integration and is redone without asking
    assert stages == ["signature", "setup", "body", "body", "integration"]
    # once per review, also when the review runs inside a subgraph and the parent resumes
    assert requested == stages
    assert out["status"] == "passed"
    assert out["applied"]["written"] is True
    assert "return n * n" in (sample_repo / "sample_pkg" / "mathx.py").read_text()
