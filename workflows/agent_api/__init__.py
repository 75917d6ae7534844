"""The agents' way in: the bead workflow as MCP tools (``beadline mcp``) and as a LangChain tool.

Modules: ``operations.py`` (the calls both entry points make on the bead service),
``mcp_server.py`` (the MCP server), ``langchain_tool.py`` (:func:`as_tool`), ``testing.py`` (a
scripted tool-calling chat model), ``_results.py`` (the typed results), ``_progress.py`` (stage
events as progress messages).

Both need the ``agents`` extra (``pip install 'beadline[agents]'``: the ``mcp`` SDK, LangChain);
the names below are imported on first use, so this package imports without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beadline.workflows.agent_api.langchain_tool import as_tool
    from beadline.workflows.agent_api.mcp_server import build_server

__all__ = ["as_tool", "build_server"]

_LOCATIONS = {
    "as_tool": "beadline.workflows.agent_api.langchain_tool",
    "build_server": "beadline.workflows.agent_api.mcp_server",
}


def __getattr__(name: str) -> Any:
    """Import the entry points lazily (PEP 562): each needs its optional dependency."""
    if name in _LOCATIONS:
        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
