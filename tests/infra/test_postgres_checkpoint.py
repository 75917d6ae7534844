"""LangGraph on PostgreSQL: a run killed with SIGKILL resumes from its checkpoint in a new process.

The generic pattern the bead graph's kill -9 / resume test on PostgreSQL follows: the graph
runs in a subprocess (tests/data/langgraph/kill_resume_graph.py), is killed inside its second
node, and a second process continues the same thread from the last checkpoint PostgresSaver
wrote.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests._servers import wait_until

pytestmark = pytest.mark.postgres

GRAPH = Path(__file__).resolve().parents[1] / "data" / "langgraph" / "kill_resume_graph.py"


def _nodes(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [
        (name, int(pid)) for name, pid in (line.split() for line in log.read_text().splitlines())
    ]


def test_postgres_saver_round_trip(postgres_dsn: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    builder.add_node("inc", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    config = {"configurable": {"thread_id": "round-trip"}}
    with PostgresSaver.from_conn_string(postgres_dsn) as saver:
        saver.setup()
        assert builder.compile(checkpointer=saver).invoke({"n": 41}, config) == {"n": 42}
    with PostgresSaver.from_conn_string(postgres_dsn) as saver:
        state = builder.compile(checkpointer=saver).get_state(config)
    assert state.values == {"n": 42}
    assert state.next == ()


@pytest.mark.slow
def test_sigkill_mid_run_resumes_from_checkpoint(postgres_dsn: str, tmp_path: Path) -> None:
    log = tmp_path / "nodes.log"
    args = [sys.executable, str(GRAPH), postgres_dsn, "thread-kill-9", str(log)]
    first = subprocess.Popen([*args, "start"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        reached = wait_until(lambda: any(n == "slow" for n, _ in _nodes(log)), timeout=60)
        assert reached, f"the graph never reached its slow node: {first.stderr.read1().decode()!r}"  # type: ignore[union-attr]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL

    resumed = subprocess.run(
        [*args, "resume"], capture_output=True, text=True, timeout=120, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1]) == {"steps": ["first", "slow", "last"]}

    nodes = _nodes(log)
    assert [name for name, _ in nodes] == ["first", "slow", "slow", "last"]
    killed_pid, resumed_pid = nodes[0][1], nodes[-1][1]
    assert killed_pid == first.pid
    # "first" ran once, in the killed process: its checkpoint survived the kill and was reused.
    assert [pid for name, pid in nodes if name == "slow"] == [killed_pid, resumed_pid]
