"""``langgraph dev`` (in-memory LangGraph server) serves a graph from a langgraph.json, offline,
and the LangGraph SDK client drives it: thread, run, interrupt, resume, state.

The pattern the bead graph's ``langgraph dev`` test reuses (a review interrupt answered with
``command={"resume": ...}``). Start-up measured here: ~2.4 s to the first ``/ok``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._servers import LangGraphDevServer

pytestmark = pytest.mark.slow

DEV_GRAPH = Path(__file__).resolve().parents[1] / "data" / "langgraph" / "dev_graph.py"


def test_sdk_client_runs_interrupts_and_resumes_a_served_graph(
    langgraph_dev: Callable[..., LangGraphDevServer], tmp_path: Path
) -> None:
    from langgraph_sdk import get_sync_client

    shutil.copy(DEV_GRAPH, tmp_path / "dev_graph.py")
    server = langgraph_dev({"counter": "./dev_graph.py:graph"})
    client = get_sync_client(url=server.url)

    assert [a["graph_id"] for a in client.assistants.search(graph_id="counter")] == ["counter"]
    thread = client.threads.create()
    first = client.runs.wait(thread["thread_id"], "counter", input={"n": 41})
    assert isinstance(first, dict)
    assert first["n"] == 42
    state = client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["review"]
    [task] = state["tasks"]
    assert [i["value"] for i in task["interrupts"]] == [{"question": "accept n=42?"}]

    final = client.runs.wait(thread["thread_id"], "counter", command={"resume": "yes"})
    assert final == {"n": 42, "answer": "yes"}
    state = client.threads.get_state(thread["thread_id"])
    assert state["next"] == []
    assert state["values"] == {"n": 42, "answer": "yes"}
    assert client.threads.get(thread["thread_id"])["status"] == "idle"


def test_a_graph_that_does_not_load_fails_with_its_error(
    langgraph_dev: Callable[..., LangGraphDevServer], tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text("raise ImportError('no such graph here')\n")
    with pytest.raises(RuntimeError, match="no such graph here"):
        langgraph_dev({"broken": "./broken.py:graph"}, timeout=60)
