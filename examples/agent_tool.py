"""A LangChain agent that implements a bead with beadline's tool (``beadline.workflows.as_tool``).

The agent (``langchain.agents.create_agent``) gets one tool, ``implement_bead``; asked to
implement bead ``sp-1`` of the sample repository's tracker, it calls the tool, which runs the
bead graph (stage by stage, each validated, the function written into ``sample_pkg/mathx.py``)
and answers with the status, the diff, the report path and the thread id. The bead's progress
reaches the agent's ``custom`` stream.

Run it (no model needed: a scripted chat model and scripted bead stages; it works on a copy of
examples/sample_repo)::

    python examples/agent_tool.py

``--model smollm2-135m`` lets the packaged model write the bead (EG-CFG);
``--chat-model PROVIDER:MODEL`` uses a real chat model through
``langchain.chat_models.init_chat_model`` (its provider package and key are yours to install).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage

from beadline.workflows import as_tool
from beadline.workflows.agent_api.testing import ScriptedToolModel, tool_call

HERE = Path(__file__).resolve().parent
REQUEST = "Implement bead sp-1 of the repository's tracker, then tell me what changed."


def scripted_chat_model() -> ScriptedToolModel:
    """An agent model that calls the tool once, then answers."""
    return ScriptedToolModel.from_script(
        [
            tool_call("implement_bead", {"bead": "sp-1"}),
            AIMessage(content="Bead sp-1 is implemented: see the tool's diff and report."),
        ]
    )


def build_agent(chat_model: Any, *, model: str, repo: Path, sandbox: str) -> Any:
    """The agent, with beadline's ``implement_bead`` tool on ``repo``."""
    tool = as_tool(model=model, repo=repo, sandbox=sandbox)
    return create_agent(chat_model, tools=[tool], system_prompt="You implement beads.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default=f"scripted:{HERE / 'scripted' / 'double.yaml'}",
        help="who writes the bead's code [default: scripted stages]",
    )
    parser.add_argument("--chat-model", default=None, help="PROVIDER:MODEL for the agent")
    parser.add_argument("--sandbox", default="local")
    parser.add_argument(
        "--repo", type=Path, default=None, help="work here [default: a copy of sample_repo]"
    )
    args = parser.parse_args(argv)
    repo: Path = args.repo or Path(tempfile.mkdtemp(prefix="beadline-agent-")) / "sample_repo"
    if args.repo is None:
        shutil.copytree(HERE / "sample_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    if args.chat_model:
        from langchain.chat_models import init_chat_model

        chat_model: Any = init_chat_model(args.chat_model)
    else:
        chat_model = scripted_chat_model()
    agent = build_agent(chat_model, model=args.model, repo=repo, sandbox=args.sandbox)
    print(f"repository: {repo}")
    final: dict[str, Any] = {}
    for mode, chunk in agent.stream(
        {"messages": [HumanMessage(REQUEST)]}, stream_mode=["custom", "values"]
    ):
        if mode == "custom" and chunk.get("event") in ("stage_validated", "stage_failed"):
            print(f"  [bead {chunk.get('bead')}] {chunk['event']}: {chunk.get('stage')}")
        elif mode == "values":
            final = chunk
    for message in final["messages"]:
        kind = type(message).__name__
        if getattr(message, "tool_calls", None):
            for call in message.tool_calls:
                print(f"{kind}: calls {call['name']}({json.dumps(call['args'])})")
        elif kind == "ToolMessage":
            print(f"{kind} ({message.status}):\n{message.content}")
        else:
            print(f"{kind}: {message.content}")


if __name__ == "__main__":
    main()
