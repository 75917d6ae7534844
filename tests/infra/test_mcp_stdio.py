"""The MCP Python SDK over stdio: its own client calls a tool on a server in a subprocess and
receives the tool's progress notifications; a ToolError arrives as an MCP tool error.

The pattern ``beadline mcp``'s tests reuse. The server is tests/data/mcp/progress_server.py
(mcp 2.x: ``mcp.server.mcpserver.MCPServer``, the SDK's former ``FastMCP``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

SERVER = Path(__file__).resolve().parents[1] / "data" / "mcp" / "progress_server.py"


async def _session_calls(
    errlog_path: Path,
) -> tuple[list[str], object, list[tuple[float, float | None, str | None]], object]:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    with errlog_path.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = [tool.name for tool in (await session.list_tools()).tools]
            ok = await session.call_tool(
                "count_stages", {"stages": 3}, progress_callback=on_progress
            )
            bad = await session.call_tool("count_stages", {"stages": 0})
    return tools, ok, progress, bad


@pytest.mark.slow  # ~3 s on an idle machine: a server process, imports of the SDK
def test_stdio_client_calls_a_tool_and_receives_progress(tmp_path: Path) -> None:
    from mcp.types import CallToolResult, TextContent

    tools, ok, progress, bad = anyio.run(_session_calls, tmp_path / "server-stderr.log")

    assert tools == ["count_stages"]
    assert isinstance(ok, CallToolResult)
    assert not ok.is_error
    assert ok.structured_content == {"result": "done 3 stages"}
    assert progress == [
        (1.0, 3.0, "stage 1 of 3"),
        (2.0, 3.0, "stage 2 of 3"),
        (3.0, 3.0, "stage 3 of 3"),
    ]
    assert isinstance(bad, CallToolResult)
    assert bad.is_error
    [content] = bad.content
    assert isinstance(content, TextContent)
    assert content.text == "Error executing tool count_stages: stages must be at least 1, got 0"
