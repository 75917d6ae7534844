"""Errors of the workflow layer: beads, tasks files, benchmark runs."""

from __future__ import annotations

from beadline.validators.errors import BeadlineError, UserError

__all__ = ["BeadError", "BeadlineError", "UserError"]


class BeadError(UserError):
    """Raised by the bead loaders when a bead file or tracker entry is invalid."""
