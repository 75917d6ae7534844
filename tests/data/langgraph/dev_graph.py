"""A trivial graph for the ``langgraph dev`` test: count, ask a person (interrupt), finish.

Served from a temp directory by tests/infra/test_langgraph_dev.py; no checkpointer is given
here: the LangGraph server supplies its own.
"""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict):
    """A counter and the reviewer's answer."""

    n: int
    answer: str


def count(state: State) -> dict[str, int]:
    return {"n": state["n"] + 1}


def review(state: State) -> dict[str, str]:
    return {"answer": str(interrupt({"question": f"accept n={state['n']}?"}))}


builder = StateGraph(State)
builder.add_node("count", count)
builder.add_node("review", review)
builder.add_edge(START, "count")
builder.add_edge("count", "review")
builder.add_edge("review", END)
graph = builder.compile()
