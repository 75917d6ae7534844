"""One module per ``beadline`` subcommand; :mod:`beadline.workflows.cli` loads them lazily."""
