"""The root of beadline's error tree and the errors of the execution layer.

Every error beadline raises on purpose derives from :class:`BeadlineError`, so a caller (the
CLI, a LangGraph node) can tell "this went wrong and here is how to fix it" from a bug. Messages
say what failed, show the offending value and say how to fix it.
"""

from __future__ import annotations

__all__ = ["BeadlineError", "SandboxError", "SandboxUnavailableError", "UserError"]


class BeadlineError(Exception):
    """Base class of every error beadline raises on purpose."""


class UserError(BeadlineError, ValueError):
    """Raised by any layer when its caller passed something invalid (a bad argument or file)."""


class SandboxError(BeadlineError):
    """Raised by an executor when the sandbox itself failed (not the program under test)."""


class SandboxUnavailableError(SandboxError):
    """Raised when a requested sandbox backend cannot run on this machine (no engine, no image)."""
