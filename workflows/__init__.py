"""beadline.workflows: the jobs built on the agent — one folder each.

``bead/`` (the K&V bead workflow: the bead model and loaders, the LangGraph graph, stage checks,
generation, review, apply, report), ``bench/`` (benchmark runs, datasets, reports, task files),
``agent_api/`` (the agents' way in: ``beadline mcp``, an MCP server, and :func:`as_tool`, a
LangChain tool), ``cli/`` (the ``beadline`` command: the click app and one module per command).
Beside them: ``doctor.py`` (what this machine offers), ``errors.py``, ``langgraph_app.py`` (the
entry point of ``langgraph.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beadline.workflows.agent_api.langchain_tool import as_tool

__all__ = ["as_tool"]


def __getattr__(name: str) -> Any:
    """``as_tool`` is imported on first use (it needs LangChain, the ``agents`` extra)."""
    if name == "as_tool":
        try:
            from beadline.workflows.agent_api.langchain_tool import as_tool
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"beadline.workflows.as_tool needs LangChain ({exc.name} is missing): "
                "pip install 'beadline[agents]'",
                name=exc.name,
            ) from None
        return as_tool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
