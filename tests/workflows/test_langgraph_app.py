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


def test_the_served_graph_is_configured_from_the_environment_and_built_once(
    tmp_path: Path,
) -> None:
    from beadline.validators.errors import UserError
    from beadline.workflows import langgraph_app
    from beadline.workflows.bead.runtime import LazyExecutor

    script = tmp_path / "s.yaml"
    script.write_text("{}")
    env = {"BEADLINE_MODEL": f"scripted:{script}", "BEADLINE_SANDBOX": "local"}
    graph = langgraph_app.graph_for(env)
    assert langgraph_app.graph_for(dict(env)) is graph  # the server calls it for every run
    assert langgraph_app.graph_for({**env, "BEADLINE_REVIEW": "0"}) is not graph
    executor = graph.nodes["preflight"].bound.func.__self__.executor  # type: ignore[attr-defined]
    assert isinstance(executor, LazyExecutor) and executor._inner is None  # nothing started yet
    with pytest.raises(UserError, match="--base-url is only for --backend openai"):
        langgraph_app.graph_for({"BEADLINE_BASE_URL": "http://h:1/v1"})


def test_the_server_s_config_argument_is_not_mistaken_for_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server calls the factory with the run's config: the graph still comes from the
    environment (a config dict read as the environment silently meant the packaged model)."""
    from beadline.workflows import langgraph_app

    script = tmp_path / "s.yaml"
    script.write_text("{}")
    env = {"BEADLINE_MODEL": f"scripted:{script}", "BEADLINE_SANDBOX": "local"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = {"configurable": {"thread_id": "t"}, "metadata": {}}
    assert langgraph_app.make_graph(config) is langgraph_app.graph_for(env)
