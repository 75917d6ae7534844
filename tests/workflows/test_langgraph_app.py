"""``langgraph.json`` exposes a factory that builds the bead graph with defaults."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from langgraph.graph.state import CompiledStateGraph

from .conftest import InProcessExecutor

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_a_graph_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    path, attr = config["graphs"]["bead"].split(":")
    spec = importlib.util.spec_from_file_location("langgraph_json_graph", ROOT / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import beadline.validators.sandbox.factory as factory

    monkeypatch.setattr(factory, "make_executor", lambda kind="auto", **_: InProcessExecutor())
    graph = getattr(module, attr)()
    assert isinstance(graph, CompiledStateGraph)
    assert graph.name == "bead"
    assert {"preflight", "signature", "setup", "body", "integration", "review", "finish"} <= set(
        graph.nodes
    )
