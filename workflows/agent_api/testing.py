"""A scripted LangChain chat model that makes tool calls: agents without a real model.

langchain-core's fakes (``GenericFakeChatModel``, ``FakeMessagesListChatModel``) replay given
messages, but none implements ``bind_tools``, which ``langchain.agents.create_agent`` calls
when the agent has tools (``BaseChatModel.bind_tools`` raises ``NotImplementedError``).
:class:`ScriptedToolModel` accepts the tools (recording their names), replays its script and
records what the agent sent on each call. Script tool calls with :func:`tool_call`::

    model = ScriptedToolModel.from_script([
        tool_call("implement_bead", {"bead": "bd-a1b2"}),
        AIMessage(content="Done."),
    ])
    agent = create_agent(model, tools=[as_tool(...)])

A call past the end of the script raises ``AssertionError`` (the agent asked the model more
often than scripted), so a test cannot silently loop. Used by the tests and by
``examples/agent_tool.py`` (which takes a real chat model too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

__all__ = ["ScriptedToolModel", "tool_call"]


class ScriptedToolModel(GenericFakeChatModel):
    """Replays a script of ``AIMessage`` replies, tool calls included; records its inputs."""

    __test__: ClassVar[bool] = False
    bound_tools: list[str] = Field(default_factory=list)
    """Names of the tools the agent bound (the last ``bind_tools`` call)."""
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    """The messages the model was given, one list per call."""

    @classmethod
    def from_script(cls, replies: Iterable[AIMessage | str]) -> ScriptedToolModel:
        """A model that answers its n-th call with ``replies[n]``."""
        return cls(messages=iter(list(replies)))

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Accept the tools (the script decides what is called); record their names."""
        self.bound_tools = [convert_to_openai_tool(tool)["function"]["name"] for tool in tools]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        try:
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except StopIteration:
            raise AssertionError(
                f"ScriptedToolModel: call {len(self.calls)} is past the end of the script"
            ) from None


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> AIMessage:
    """An ``AIMessage`` that calls one tool: a script line for :class:`ScriptedToolModel`."""
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )
