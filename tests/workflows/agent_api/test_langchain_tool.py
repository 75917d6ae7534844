"""``beadline.workflows.as_tool``: the bead workflow as a LangChain tool inside
``langchain.agents.create_agent``, driven by a scripted tool-calling chat model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from beadline.workflows import as_tool
from beadline.workflows.agent_api.testing import ScriptedToolModel, tool_call
from beadline.workflows.errors import UserError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCRIPT = f"scripted:{EXAMPLES / 'scripted' / 'double.yaml'}"


def _agent(repo: Path, replies: list[Any], **options: Any) -> tuple[Any, ScriptedToolModel]:
    model = ScriptedToolModel.from_script(replies)
    tool = as_tool(model=SCRIPT, repo=repo, sandbox="local", **options)
    return create_agent(model, tools=[tool]), model


def test_the_agent_calls_the_tool_which_builds_the_bead(sample_repo: Path) -> None:
    agent, model = _agent(
        sample_repo, [tool_call("implement_bead", {"bead": "sp-1"}), AIMessage(content="Done.")]
    )
    chunks = list(
        agent.stream(
            {"messages": [HumanMessage("Implement sp-1.")]}, stream_mode=["custom", "values"]
        )
    )
    messages = [c for mode, c in chunks if mode == "values"][-1]["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert model.bound_tools == ["implement_bead"]

    # the tool ran the bead: the function is in the file, the report exists
    assert (
        "def double(n: int) -> int:\n    return n * 2\n"
        in (sample_repo / "sample_pkg" / "mathx.py").read_text()
    )
    answer = messages[2]
    assert answer.status == "success"
    content = json.loads(answer.content)
    assert content["status"] == "passed" and content["written"] is True
    assert content["thread_id"].startswith("sp-1-")
    assert "+    return n * 2" in content["diff"]
    assert Path(content["report_path"]).is_file()
    assert answer.artifact["program"].startswith("def double(n: int) -> int:")

    # the agent saw the result: the model's second call ends with the tool's message
    assert isinstance(model.calls[1][-1], ToolMessage)
    assert json.loads(model.calls[1][-1].content)["status"] == "passed"
    assert messages[-1].content == "Done."

    # the bead's progress reached the agent's custom stream, stage by stage
    events = [c for mode, c in chunks if mode == "custom"]
    validated = [e["stage"] for e in events if e.get("event") == "stage_validated"]
    assert validated == ["signature", "setup", "body", "integration"]
    assert all(e["tool"] == "implement_bead" for e in events)


def test_bad_input_reaches_the_model_as_a_one_line_tool_error(sample_repo: Path) -> None:
    before = (sample_repo / "sample_pkg" / "mathx.py").read_text()
    agent, _model = _agent(
        sample_repo,
        [
            tool_call("implement_bead", {"bead": "nope"}, "c1"),
            tool_call("implement_bead", {"bead": "sp-1", "colour": "red"}, "c2"),
            AIMessage(content="I could not."),
        ],
    )
    result = agent.invoke({"messages": [HumanMessage("Implement nope.")]})
    errors = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in errors] == ["error", "error"]
    assert errors[0].content.startswith("no bead with id 'nope' in ")
    assert "known ids: sp-1, sp-2" in errors[0].content
    assert errors[1].content == (
        "implement_bead: invalid arguments: colour: Extra inputs are not permitted"
    )
    assert all("\n" not in m.content and "Traceback" not in m.content for m in errors)
    assert result["messages"][-1].content == "I could not."
    assert (sample_repo / "sample_pkg" / "mathx.py").read_text() == before


def test_an_inline_bead_as_a_dry_run_returns_the_diff_only(sample_repo: Path) -> None:
    tool = as_tool(model=SCRIPT, repo=sample_repo, sandbox="local")
    assert isinstance(tool, BaseTool) and tool.name == "implement_bead"
    assert set(tool.args) == {"bead", "inline", "repo", "dry_run"}
    inline = {
        "id": "dbl",
        "description": "Return twice n.",
        "target": {
            "file": "sample_pkg/mathx.py",
            "function": "double",
            "signature": "def double(n):",
        },
        "tests": ["assert double(3) == 6"],
    }
    before = (sample_repo / "sample_pkg" / "mathx.py").read_text()
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "c1",
            "name": "implement_bead",
            "args": {"inline": inline, "dry_run": True},
        }
    )
    content = json.loads(message.content)
    assert content["status"] == "passed" and content["written"] is False
    assert "+def double(n):\n+    return n * 2\n" in content["diff"]
    assert (sample_repo / "sample_pkg" / "mathx.py").read_text() == before


def test_as_tool_checks_its_own_options(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found; pass an existing directory"):
        as_tool(model=SCRIPT, repo=tmp_path / "missing")
    with pytest.raises(UserError, match="unknown backend 'vllm'"):
        as_tool(model=_choice("x", "vllm"))


def _choice(model: str, backend: str) -> Any:
    from beadline.agents.models.choice import model_choice

    return model_choice(model, backend)


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_tool_example", EXAMPLES / "agent_tool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_example_agent_runs(sample_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _example().main(["--repo", str(sample_repo)])
    out = capsys.readouterr().out
    assert "[bead sp-1] stage_validated: integration" in out
    assert 'AIMessage: calls implement_bead({"bead": "sp-1"})' in out
    assert '"status": "passed"' in out
    assert out.rstrip().endswith("see the tool's diff and report.")
    assert "return n * 2" in (sample_repo / "sample_pkg" / "mathx.py").read_text()
