"""An MCP client session with ``beadline mcp`` over stdio, printed as a transcript.

What a coding agent does through its ``mcpServers`` entry, with the MCP SDK's own client: list
the tools, implement bead ``sp-1`` of the sample repository's tracker (progress notifications
stage by stage), then implement an inline bead in review mode and answer each review question
with ``resume_bead``.

Run it (scripted bead stages, no model needed; it works on a copy of examples/sample_repo)::

    python examples/mcp_client.py

``--model smollm2-135m`` lets the packaged model write the beads.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

HERE = Path(__file__).resolve().parent
TWICE = {
    "id": "twice",
    "description": "Return n multiplied by two.",
    "target": {
        "file": "sample_pkg/extra.py",
        "function": "twice",
        "signature": "def twice(n):",
        "create": True,  # a new module
    },
    "tests": ["assert twice(2) == 4", "assert twice(-1) == -2"],
}


def _show(result: Any) -> dict[str, Any]:
    if result.is_error:
        print(f"  -> tool error: {result.content[0].text}")
        return {}
    out: dict[str, Any] = result.structured_content or {}
    print(f"  -> {out.get('status')}: {out.get('message')} (thread {out.get('thread_id')})")
    return out


async def session(repo: Path, model: str) -> None:
    """Drive one server through the calls an agent makes."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "beadline.workflows", "mcp", "--repo", str(repo), "-m", model],
    )

    async def progress(done: float, total: float | None, message: str | None) -> None:
        print(f"  progress {done:g}: {message}")

    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        tools = (await client.list_tools()).tools
        print("tools:", ", ".join(tool.name for tool in tools))
        ready = (await client.call_tool("list_ready_beads", {})).structured_content or {}
        print("ready beads:", ", ".join(f"{b['id']} ({b['title']})" for b in ready["result"]))

        print('call implement_bead {"bead": "sp-1"}')
        out = _show(
            await client.call_tool("implement_bead", {"bead": "sp-1"}, progress_callback=progress)
        )
        print(out.get("diff", ""), end="")
        print(f"  report: {out.get('report_path')}")

        print('call implement_bead {"inline": {"id": "twice", ...}, "review": true}')
        out = _show(await client.call_tool("implement_bead", {"inline": TWICE, "review": True}))
        while out.get("status") == "waiting_review":
            question = out["question"]
            print(f"  question: {question['stage']}: {question['summary']}")
            print("    " + question["code"].replace("\n", "\n    ").rstrip())
            print(f'call resume_bead {{"thread": "{out["thread_id"]}", "decision": "approve"}}')
            out = _show(
                await client.call_tool(
                    "resume_bead",
                    {"thread": out["thread_id"], "decision": {"action": "approve"}},
                    progress_callback=progress,
                )
            )
        print(out.get("diff", ""), end="")

        print('call implement_bead {"bead": "no-such-bead"}')
        _show(await client.call_tool("implement_bead", {"bead": "no-such-bead"}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=f"scripted:{HERE / 'scripted' / 'double.yaml'}")
    parser.add_argument("--repo", type=Path, default=None, help="[default: a copy of sample_repo]")
    args = parser.parse_args(argv)
    repo: Path = args.repo or Path(tempfile.mkdtemp(prefix="beadline-mcp-")) / "sample_repo"
    if args.repo is None:
        shutil.copytree(HERE / "sample_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    print(f"repository: {repo}")
    anyio.run(session, repo, args.model)


if __name__ == "__main__":
    main()
