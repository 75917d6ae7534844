"""``langgraph dev`` serves the bead graph of ``langgraph.json`` and the LangGraph SDK client
builds a bead through it: a thread, a run, the review interrupts answered, the verdict."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from beadline.workflows.bead.loaders import load_bead_file
from tests._servers import LangGraphDevServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_sdk_builds_a_bead_on_langgraph_dev(
    langgraph_dev: Callable[..., LangGraphDevServer], sample_repo: Path, tmp_path: Path
) -> None:
    from langgraph_sdk import get_sync_client

    graph_path = json.loads((ROOT / "langgraph.json").read_text())["graphs"]["bead"]
    module, attr = graph_path.split(":")
    script = tmp_path / "script.yaml"
    script.write_text(json.dumps({"body[0]": "return n * n"}))
    server = langgraph_dev(
        {"bead": f"{(ROOT / module).resolve()}:{attr}"},
        env={"BEADLINE_MODEL": f"scripted:{script}", "BEADLINE_SANDBOX": "local"},
    )
    client = get_sync_client(url=server.url)
    bead = load_bead_file(ROOT / "examples" / "beads" / "1-square.yaml")
    thread = client.threads.create()["thread_id"]
    values = client.runs.wait(
        thread, "bead", input={"bead": bead.model_dump(mode="json"), "repo": str(sample_repo)}
    )
    asked = []
    for _ in range(8):
        state = client.threads.get_state(thread)
        if not state["next"]:
            break
        [task] = state["tasks"]
        [question] = task["interrupts"]
        asked.append(question["value"]["stage"])
        values = client.runs.wait(thread, "bead", command={"resume": {"action": "approve"}})
    assert asked == ["signature", "setup", "body", "integration"], (asked, values.get("message"))
    assert isinstance(values, dict), server.log_tail()
    assert values["status"] == "passed", values.get("message")
    assert "return n * n" in values["program"]
    # the served graph validates and reports; it does not write into the repository
    assert "square" not in (sample_repo / "sample_pkg" / "mathx.py").read_text()
