"""Click options shared by several commands (one definition, one help text)."""

from __future__ import annotations

import click

__all__ = ["grid_rounds_option"]

grid_rounds_option = click.option(
    "--grid-rounds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="egcfg: passes over the grid, new seeds each pass, while the task's time budget lasts.",
)
"""``--grid-rounds N`` → ``grid_rounds`` (:func:`beadline.agents.search.repeat_grid`)."""
