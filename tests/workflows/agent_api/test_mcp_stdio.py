"""``beadline mcp`` over stdio, driven by the MCP SDK's own client (``stdio_client`` +
``ClientSession``): the tools are listed, a tracker bead is implemented with the scripted model
(progress seen, the file written), an inline bead is reviewed stage by stage through
``resume_bead``, and bad calls come back as one-line tool errors.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

SCRIPT = "body[0]: return n * 2\n"
"""The scripted model: every bead's first body part (both beads here double n)."""

TWICE = {
    "id": "twice",
    "description": "Return n multiplied by two.",
    "target": {
        "file": "sample_pkg/extra.py",
        "function": "twice",
        "signature": "def twice(n):",
        "create": True,
    },
    "tests": ["assert twice(2) == 4", "assert twice(-1) == -2"],
}


async def _session(repo: Path, script: Path, home: Path, errlog: Path) -> dict[str, Any]:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    seen: dict[str, Any] = {"progress": []}

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen["progress"].append((done, message))

    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "beadline.workflows",
            "mcp",
            "--repo",
            str(repo),
            "-m",
            f"scripted:{script}",
            "--sandbox",
            "local",
        ],
        env={**os.environ, "BEADLINE_HOME": str(home)},
    )
    with errlog.open("w") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = (await session.list_tools()).tools
            seen["tools"] = {tool.name: tool for tool in listed}
            seen["ready"] = await session.call_tool("list_ready_beads", {})
            seen["built"] = await session.call_tool(
                "implement_bead", {"bead": "sp-1"}, progress_callback=on_progress
            )
            result = await session.call_tool("implement_bead", {"inline": TWICE, "review": True})
            questions = []
            for _ in range(8):
                out = result.structured_content or {}
                if out.get("status") != "waiting_review":
                    break
                questions.append(out["question"])
                result = await session.call_tool(
                    "resume_bead",
                    {"thread": out["thread_id"], "decision": {"action": "approve"}},
                )
            seen["questions"], seen["reviewed"] = questions, result
            thread = (result.structured_content or {}).get("thread_id", "?")
            seen["status"] = await session.call_tool("bead_status", {"thread": thread})
            seen["unknown_bead"] = await session.call_tool("implement_bead", {"bead": "nope"})
            seen["bad_decision"] = await session.call_tool(
                "resume_bead", {"thread": thread, "decision": {"action": "frobnicate"}}
            )
            seen["finished"] = await session.call_tool(
                "resume_bead", {"thread": thread, "decision": {"action": "approve"}}
            )
            seen["solve_scripted"] = await session.call_tool(
                "solve_task", {"description": "Double n.", "tests": ["assert double(2) == 4"]}
            )
    return seen


def _error_text(result: Any) -> str:
    assert result.is_error, result
    [content] = result.content
    text = str(content.text)
    assert "\n" not in text and "Traceback" not in text, text
    return text


@pytest.mark.slow  # a server process and four scripted bead runs: ~10-20 s
def test_mcp_server_over_stdio(sample_repo: Path, tmp_path: Path) -> None:
    script = tmp_path / "double.yaml"
    script.write_text(SCRIPT)
    errlog = tmp_path / "server-stderr.log"
    seen = anyio.run(_session, sample_repo, script, tmp_path / "home", errlog)

    tools = seen["tools"]
    assert set(tools) == {
        "implement_bead",
        "resume_bead",
        "bead_status",
        "list_ready_beads",
        "solve_task",
    }
    schema = tools["implement_bead"].input_schema
    assert {"bead", "inline", "repo", "review", "dry_run"} <= set(schema["properties"])
    assert "tracker" in schema["properties"]["bead"]["description"]
    assert "Bead" in schema["$defs"]  # the inline bead is typed (id, description, target ...)
    decision = tools["resume_bead"].input_schema["$defs"]["ReviewDecision"]
    assert decision["properties"]["action"]["enum"] == ["approve", "edit", "retry", "abort"]

    ready = seen["ready"].structured_content["result"]
    assert [(b["id"], b["buildable"]) for b in ready] == [("sp-1", True), ("sp-2", True)]

    built = seen["built"]
    assert not built.is_error, built.content
    out = built.structured_content
    assert out["status"] == "passed" and out["written"] is True
    assert out["bead_id"] == "sp-1" and out["thread_id"].startswith("sp-1-")
    assert "+def double(n: int) -> int:\n+    return n * 2\n" in out["diff"]
    assert "return n * 2" in (sample_repo / "sample_pkg" / "mathx.py").read_text()
    assert Path(out["report_path"]).is_file()
    assert Path(out["report_path"]).parent == sample_repo / ".beadline" / "reports"
    assert json.loads(built.content[0].text)["status"] == "passed"  # the same as text

    messages = [m for _n, m in seen["progress"]]
    steps = [n for n, _m in seen["progress"]]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    for expected in (
        "signature: validated (attempt 1): signature compiles",
        "body part 1: validated (attempt 1): the part runs on the tests",
        "finished: passed: bead sp-1: all stages validated",
    ):
        assert expected in messages, messages
    assert any(m.startswith("integration: validated") for m in messages)

    questions = seen["questions"]
    assert [q["stage"] for q in questions] == ["signature", "setup", "body", "integration"]
    assert questions[0]["code"] == "def twice(n):"
    assert "resume_bead(thread=" in questions[0]["how_to_answer"]
    assert "def twice(n):\n    return n * 2" in questions[-1]["code"]
    reviewed = seen["reviewed"].structured_content
    assert reviewed["status"] == "passed" and reviewed["written"] is True
    assert (sample_repo / "sample_pkg" / "extra.py").read_text() == (
        "def twice(n):\n    return n * 2\n"
    )

    status = seen["status"].structured_content
    assert status["status"] == "passed" and status["bead_id"] == "twice"
    assert status["result"]["report_path"] == status["report_path"]

    assert _error_text(seen["unknown_bead"]).startswith(
        "Error executing tool implement_bead: no bead with id 'nope'"
    )
    assert _error_text(seen["bad_decision"]) == (
        "Error executing tool resume_bead: invalid arguments: decision.action: Input should be "
        "'approve', 'edit', 'retry' or 'abort'"
    )
    assert "already finished (passed)" in _error_text(seen["finished"])
    assert "is a scripted bead generator, not a model" in _error_text(seen["solve_scripted"])
    assert "Traceback" not in errlog.read_text()


@pytest.mark.slow  # a server process and two scripted bead runs: ~8-15 s
def test_the_example_client_session(sample_repo: Path, tmp_path: Path) -> None:
    import subprocess

    example = Path(__file__).resolve().parents[3] / "examples" / "mcp_client.py"
    done = subprocess.run(
        [sys.executable, str(example), "--repo", str(sample_repo)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "BEADLINE_HOME": str(tmp_path / "home")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "tools: implement_bead, resume_bead, bead_status, list_ready_beads, solve_task" in out
    assert "  progress 5: signature: validated (attempt 1): signature compiles" in out
    assert "  -> passed: bead sp-1: all stages validated" in out
    assert out.count("  question: ") == 4
    assert "  -> passed: bead twice: all stages validated" in out
    assert "+def twice(n):\n+    return n * 2\n" in out
    assert "  -> tool error: Error executing tool implement_bead: no bead with id" in out
