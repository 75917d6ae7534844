"""The MCP tools in-process (the SDK's ``Client`` on the server object): review decisions,
dry runs, progress, and the errors a calling agent gets as one-line tool errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client

from beadline.agents.models.choice import ModelChoice
from beadline.workflows.agent_api.mcp_server import build_server
from beadline.workflows.agent_api.operations import AgentDefaults

T = TypeVar("T")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

INLINE = {
    "id": "twice",
    "description": "Return n multiplied by two.",
    "target": {
        "file": "sample_pkg/extra.py",
        "function": "twice",
        "signature": "def twice(n):",
        "create": True,
    },
    "tests": ["assert twice(2) == 4"],
}


def _defaults(repo: Path | None, tmp_path: Path) -> AgentDefaults:
    script = tmp_path / "script.yaml"
    script.write_text("body[0]: return n * 2\n")
    return AgentDefaults(
        repo=repo,
        model=ModelChoice(model=f"scripted:{script}"),
        sandbox="local",
        index=tmp_path / "index.sqlite",
    )


def _with_client(defaults: AgentDefaults, body: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Client(build_server(defaults)) as client:
            return await body(client)

    return anyio.run(main)


def _error(result: Any) -> str:
    assert result.is_error, result.structured_content
    text = str(result.content[0].text)
    assert "\n" not in text and "Traceback" not in text
    return text.removeprefix("Error executing tool ").split(": ", 1)[1]


def test_review_edit_and_retry_decisions(sample_repo: Path, tmp_path: Path) -> None:
    async def body(client: Client) -> list[dict[str, Any]]:
        out = await client.call_tool("implement_bead", {"inline": INLINE, "review": True})
        results = [out.structured_content]
        thread = out.structured_content["thread_id"]
        for decision in (
            {"action": "approve"},  # signature
            {"action": "retry", "hint": "keep it short"},  # setup: asked again
            {"action": "approve"},  # setup
            {"action": "edit", "code": "    return n + n"},  # body: a valid edit is taken
            {"action": "approve"},  # integration
        ):
            out = await client.call_tool("resume_bead", {"thread": thread, "decision": decision})
            assert not out.is_error, out.content
            results.append(out.structured_content)
        return results

    results = _with_client(_defaults(sample_repo, tmp_path), body)
    stages = [r["question"]["stage"] if r["question"] else r["status"] for r in results]
    assert stages == ["signature", "setup", "setup", "body", "integration", "passed"]
    assert results[3]["question"]["code"] == "    return n * 2"  # the model's
    assert results[4]["question"]["code"] == "def twice(n):\n    return n + n\n"  # the edit
    assert (sample_repo / "sample_pkg" / "extra.py").read_text() == (
        "def twice(n):\n    return n + n\n"
    )


def test_dry_run_returns_the_diff_and_progress_is_reported(
    sample_repo: Path, tmp_path: Path
) -> None:
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(str(message))

    async def body(client: Client) -> Any:
        return await client.call_tool(
            "implement_bead", {"bead": "sp-1", "dry_run": True}, progress_callback=on_progress
        )

    out = _with_client(_defaults(sample_repo, tmp_path), body).structured_content
    assert out["status"] == "passed" and out["written"] is False and out["dry_run"] is True
    assert "+    return n * 2" in out["diff"]
    assert "def double" not in (sample_repo / "sample_pkg" / "mathx.py").read_text()
    assert progress[0].startswith("bead sp-1: started on thread sp-1-")
    assert "setup: validated (attempt 1): module sample_pkg.mathx imports" in progress
    # the graph's last node computes the write (here: the diff only), then the run finishes
    assert progress[-2:] == [
        f"would write {sample_repo / 'sample_pkg' / 'mathx.py'}",
        "finished: passed: bead sp-1: all stages validated",
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("implement_bead", {}, "give either bead (a tracker id or a bead file) or inline"),
        ("implement_bead", {"bead": "sp-1", "inline": INLINE}, "not both and not neither"),
        ("implement_bead", {"bead": "sp-1", "repo": "/no/such/dir"}, "repository '/no/such/dir'"),
        ("implement_bead", {"bead": "sp-1", "model": "x", "inline": None}, "unknown model 'x'"),
        ("bead_status", {"thread": "t-404"}, "no bead run"),
        ("resume_bead", {"thread": "t-404"}, "no bead run"),
        ("solve_task", {"description": "d", "tests": ["print(1)"]}, "assert"),
        ("solve_task", {"description": "d", "tests": []}, "invalid arguments: tests: List"),
    ],
)
def test_errors_are_one_line_tool_errors(
    sample_repo: Path, tmp_path: Path, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async def body(client: Client) -> Any:
        return await client.call_tool(tool, arguments)

    assert expected in _error(_with_client(_defaults(sample_repo, tmp_path), body))


def test_an_inline_bead_needs_a_repository(tmp_path: Path) -> None:
    async def body(client: Client) -> Any:
        return await client.call_tool("implement_bead", {"inline": INLINE})

    message = _error(_with_client(_defaults(None, tmp_path), body))
    assert message == (
        "inline bead 'twice' names no repository; pass repo (the directory holding its target file)"
    )


def test_list_ready_beads_without_a_tracker(tmp_path: Path) -> None:
    async def body(client: Client) -> Any:
        return await client.call_tool("list_ready_beads", {"repo": str(tmp_path)})

    assert ".beads" in _error(_with_client(_defaults(tmp_path, tmp_path), body))


@pytest.mark.slow  # the packaged model on one easy task: ~5-15 s
def test_solve_task_with_the_packaged_model(tmp_path: Path) -> None:
    import yaml

    task = yaml.safe_load((EXAMPLES / "tasks" / "sum_list.yaml").read_text())
    defaults = AgentDefaults(
        repo=tmp_path, model=ModelChoice(model="smollm2-135m"), sandbox="local"
    )

    async def body(client: Client) -> Any:
        return await client.call_tool(
            "solve_task",
            {
                "description": task["description"],
                "tests": task["tests"],
                "held_out_tests": task["held_out_tests"],
                "time_budget_s": 120,
            },
        )

    result = _with_client(defaults, body)
    assert not result.is_error, result.content
    out = result.structured_content
    assert out["method"] == "egcfg"
    assert [v["test"] for v in out["verdicts"]] == task["tests"]
    assert [v["test"] for v in out["held_out"]] == task["held_out_tests"]
    # the verdicts are the program's: solved means every visible test passed on it
    assert out["status"] in {"solved", "unsolved", "budget"}
    passed = all(v["status"] == "passed" for v in out["verdicts"])
    assert passed == (out["status"] == "solved")
    assert "def sum_list(" in out["program"]
