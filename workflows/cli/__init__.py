"""The ``beadline`` command line: the click app in ``app.py`` and one module per subcommand,
which :mod:`beadline.workflows.cli.app` loads lazily (``_options.py``: options shared by several).

The console script is ``beadline.workflows.cli:main``; ``python -m beadline.workflows`` runs it too.
"""

from __future__ import annotations

from beadline.workflows.cli.app import cli, main

__all__ = ["cli", "main"]
