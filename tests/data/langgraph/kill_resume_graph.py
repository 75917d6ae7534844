"""A three-node LangGraph graph on a PostgresSaver, run in its own process by a kill -9 test.

Usage: ``python kill_resume_graph.py DSN THREAD_ID LOG_PATH start|resume``

``start`` runs the graph from its input; node ``slow`` logs that it started, then sleeps for
a long time, so the test can SIGKILL this process while the run is inside ``slow``. ``resume``
continues the same thread from its last checkpoint (``invoke(None, config)``), in a new
process; ``slow`` does not sleep there. Every node appends its name to LOG_PATH when it
starts, so the test can tell which nodes ran in which process. The final state is printed as
one JSON line. Nothing here is beadline's: it is the generic pattern the bead graph's
kill -9 / resume test on PostgreSQL follows.
"""

from __future__ import annotations

import json
import operator
import os
import sys
import time
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    """The graph's state: the steps done so far, in order."""

    steps: Annotated[list[str], operator.add]


def _log(name: str) -> None:
    with Path(sys.argv[3]).open("a", encoding="utf-8") as log:
        log.write(f"{name} {os.getpid()}\n")
        log.flush()
        os.fsync(log.fileno())


def first(state: State) -> dict[str, list[str]]:
    _log("first")
    return {"steps": ["first"]}


def slow(state: State) -> dict[str, list[str]]:
    _log("slow")
    if sys.argv[4] == "start":
        time.sleep(600)  # killed here by the test
    return {"steps": ["slow"]}


def last(state: State) -> dict[str, list[str]]:
    _log("last")
    return {"steps": ["last"]}


def main() -> None:
    dsn, thread_id, _, mode = sys.argv[1:5]
    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("slow", slow)
    builder.add_node("last", last)
    builder.add_edge(START, "first")
    builder.add_edge("first", "slow")
    builder.add_edge("slow", "last")
    builder.add_edge("last", END)
    config = {"configurable": {"thread_id": thread_id}}
    with PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()
        graph = builder.compile(checkpointer=saver)
        result = graph.invoke({"steps": []} if mode == "start" else None, config)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
