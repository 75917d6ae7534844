"""``langchain.agents.create_agent`` runs a tool with a scripted tool-calling chat model.

The pattern the LangChain-tool tests (``beadline.workflows.as_tool``) reuse: script the
model's replies with :func:`tests._chat.tool_call`, then check what the tool received and
what the agent answered.
"""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from tests._chat import ScriptedToolModel, tool_call


def test_create_agent_calls_the_scripted_tool_and_answers() -> None:
    received: list[tuple[int, int]] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        received.append((a, b))
        return a + b

    model = ScriptedToolModel.from_script(
        [tool_call("add", {"a": 2, "b": 3}), AIMessage(content="The sum is 5.")]
    )
    result = create_agent(model, tools=[add]).invoke({"messages": [HumanMessage("2 + 3?")]})

    assert model.bound_tools == ["add"]
    assert received == [(2, 3)]
    messages = result["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert messages[2].content == "5"
    assert messages[2].tool_call_id == "call_1"
    assert messages[-1].content == "The sum is 5."
    # The second model call saw the tool's result.
    assert isinstance(model.calls[1][-1], ToolMessage)
    assert model.calls[1][-1].content == "5"


def test_a_model_called_past_its_script_fails_loudly() -> None:
    @tool
    def noop() -> str:
        """Do nothing."""
        return "ok"

    model = ScriptedToolModel.from_script([tool_call("noop", {})])
    with pytest.raises(AssertionError, match="call 2 is past the end of the script"):
        create_agent(model, tools=[noop]).invoke({"messages": [HumanMessage("go")]})
