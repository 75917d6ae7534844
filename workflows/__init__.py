"""beadline.workflows: LangGraph graphs, the bead model and loaders, benchmarks and the CLI."""

from __future__ import annotations

__all__: list[str] = []
