"""beadline.workflows: the jobs built on the agent — one folder each.

``bead/`` (the K&V bead workflow: the bead model and loaders, the LangGraph graph, stage checks,
generation, review, apply, report), ``bench/`` (benchmark runs, datasets, reports, task files),
``cli/`` (the ``beadline`` command: the click app and one module per command). Beside them:
``doctor.py`` (what this machine offers), ``errors.py``, ``langgraph_app.py`` (the entry point of
``langgraph.json``).
"""

from __future__ import annotations

__all__: list[str] = []
