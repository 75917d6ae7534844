"""A throwaway MCP server (stdio) for tests/test_infra_mcp.py: one tool that reports progress.

Run as ``python progress_server.py``; it speaks MCP over stdin/stdout. The pattern to reuse for
``beadline mcp``: an ``MCPServer`` with typed tool functions, ``ctx.report_progress`` per stage,
and a ``ToolError`` for a one-line error the calling agent sees (``is_error=True``).
"""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("progress-demo")


@server.tool()
async def count_stages(stages: int, ctx: Context) -> str:
    """Walk through ``stages`` stages, reporting progress after each one."""
    if stages < 1:
        raise ToolError(f"stages must be at least 1, got {stages}")
    for done in range(1, stages + 1):
        await ctx.report_progress(done, stages, f"stage {done} of {stages}")
    return f"done {stages} stages"


if __name__ == "__main__":
    server.run()
