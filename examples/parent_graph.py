"""The bead graph as a subgraph: a parent graph that builds two beads one after the other.

The compiled bead graph is added as a node of the parent (``builder.add_node("bead", graph)``):
the parent hands it ``bead``/``repo`` through their shared state keys and reads back its
``status``/``program``/``applied``. Built with ``apply=True``, the bead graph writes each passed
function into its file itself (merged in, atomic write, previous file kept as ``<name>.bak``);
without it nothing is written and the parent decides. Progress events of the subgraph reach
the parent's stream with ``stream_mode="custom", subgraphs=True``; interrupts (review mode)
surface in the parent too.

Run it (scripted stages, no model needed; writes into a copy of examples/sample_repo)::

    python examples/parent_graph.py

``--repo DIR`` writes into DIR instead; ``--model smollm2-135m`` uses the packaged model.
"""

from __future__ import annotations

import argparse
import operator
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from beadline.validators.executor import Executor
from beadline.workflows.bead import (
    Bead,
    ScriptedGenerator,
    StageGenerator,
    build_bead_graph,
    load_bead_file,
)
from beadline.workflows.bead.generation import GeneratedStage, StageRequest

HERE = Path(__file__).resolve().parent


class ParentState(TypedDict, total=False):
    """The parent's state: a queue of beads, the keys it shares with the bead graph, results."""

    queue: list[dict[str, Any]]
    bead: dict[str, Any]
    repo: str | None
    status: str
    message: str
    program: str
    applied: dict[str, Any] | None
    results: Annotated[list[dict[str, Any]], operator.add]


def next_bead(state: ParentState) -> dict[str, Any]:
    """Take the next bead off the queue."""
    queue = list(state.get("queue", []))
    item = queue.pop(0)
    return {"queue": queue, "bead": item["bead"], "repo": item.get("repo")}


def collect(state: ParentState) -> dict[str, Any]:
    """Keep the bead graph's verdict."""
    return {
        "results": [
            {
                "bead": state["bead"]["id"],
                "status": state.get("status"),
                "message": state.get("message", ""),
                "program": state.get("program", ""),
                "applied": state.get("applied"),
            }
        ]
    }


def more(state: ParentState) -> Literal["next_bead", "__end__"]:
    """Loop while beads are queued."""
    return "next_bead" if state.get("queue") else "__end__"


def build_parent_graph(
    generator: StageGenerator | Any,
    executor: Executor,
    *,
    checkpointer: Any = None,
    apply: bool = True,
    review: bool = False,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A parent graph running the compiled bead graph as its ``bead`` node, once per bead.

    ``apply``: the bead graph writes each passed function into the repository itself.
    ``review``: the bead graph interrupts at each stage (the parent's thread is resumed with
    ``Command(resume="approve")`` and the like).
    """
    bead_graph = build_bead_graph(generator, executor, apply=apply, review=review, name="bead")
    builder = StateGraph(ParentState)
    builder.add_node("next_bead", next_bead)
    builder.add_node("bead", bead_graph)
    builder.add_node("collect", collect)
    builder.add_edge(START, "next_bead")
    builder.add_edge("next_bead", "bead")
    builder.add_edge("bead", "collect")
    builder.add_conditional_edges("collect", more, {"next_bead": "next_bead", "__end__": END})
    return builder.compile(checkpointer=checkpointer)


_BODIES = {
    "square": "return n * n",
    "count-vowels": "return sum(c in 'aeiou' for c in s)",
}


def scripted_stage(request: StageRequest) -> GeneratedStage:
    """Fixed code per bead, so the example runs without a model."""
    if request.stage == "signature":
        return GeneratedStage(code=request.bead.target.signature or "")
    if request.stage == "setup":
        return GeneratedStage(code="")
    return GeneratedStage(code=_BODIES[request.bead.id])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="scripted", help="'scripted' or a model name")
    parser.add_argument("--sandbox", default="local")
    parser.add_argument(
        "--repo", type=Path, default=None, help="write here [default: a copy of sample_repo]"
    )
    args = parser.parse_args()
    from beadline.validators.sandbox.factory import make_executor

    repo: Path = args.repo or Path(tempfile.mkdtemp(prefix="beadline-parent-")) / "sample_repo"
    if args.repo is None:
        shutil.copytree(HERE / "sample_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))

    beads: list[Bead] = [
        load_bead_file(HERE / "beads" / "1-square.yaml"),
        load_bead_file(HERE / "beads" / "2-count-vowels.yaml"),
    ]
    with make_executor(args.sandbox) as executor:
        if args.model == "scripted":
            generator: Any = ScriptedGenerator(fn=scripted_stage)
        else:
            from beadline.agents.models import load_model
            from beadline.workflows.bead import EgcfgGenerator

            generator = EgcfgGenerator(load_model(args.model), executor)
        parent = build_parent_graph(generator, executor, checkpointer=InMemorySaver())
        queue = [{"bead": b.model_dump(mode="json"), "repo": str(repo)} for b in beads]
        config = {"configurable": {"thread_id": "parent"}}
        for namespace, event in parent.stream(
            {"queue": queue}, config, stream_mode="custom", subgraphs=True
        ):
            print(" / ".join(namespace) or "parent", event)
        for result in parent.get_state(config).values["results"]:
            print(f"{result['bead']}: {result['status']} — {result['message']}")
            applied = result["applied"]
            if applied and applied["written"]:
                print(f"  wrote {applied['path']} (backup {applied['backup']})")
                print(applied["diff"], end="")


if __name__ == "__main__":
    main()
