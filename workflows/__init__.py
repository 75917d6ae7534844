"""beadline.workflows: LangGraph graphs, the bead model and loaders, benchmarks, the CLI, and
the agents' way in (:func:`as_tool`, a LangChain tool; ``beadline mcp``, an MCP server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beadline.workflows.agent_api.langchain_tool import as_tool

__all__ = ["as_tool"]


def __getattr__(name: str) -> Any:
    """``as_tool`` is imported on first use (it needs LangChain, the ``agents`` extra)."""
    if name == "as_tool":
        from beadline.workflows.agent_api.langchain_tool import as_tool

        return as_tool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
