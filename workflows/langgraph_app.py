"""Entry point of ``langgraph.json`` (``langgraph dev``): the bead graph built with defaults.

The LangGraph server loads this file by path; the graph and its state types live in
:mod:`beadline.workflows.bead.graph`, so they are imported here rather than defined.
"""

from __future__ import annotations

from beadline.workflows.bead.graph import make_default_graph

__all__ = ["make_graph"]


def make_graph() -> object:
    """Build the bead graph (packaged model, ``auto`` sandbox, review on) for the server."""
    return make_default_graph()
