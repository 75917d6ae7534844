"""Errors of the agent layer: models, backends and decoding."""

from __future__ import annotations

from beadline.validators.errors import BeadlineError, UserError

__all__ = [
    "BackendError",
    "BeadlineError",
    "ContextOverflowError",
    "ModelNotFoundError",
    "UserError",
]


class ModelNotFoundError(BeadlineError):
    """Raised by the model registry when a model name or file cannot be resolved."""


class BackendError(BeadlineError):
    """Raised by a model backend when the model or server failed; ``body`` holds any response."""

    def __init__(self, message: str, body: object | None = None) -> None:
        super().__init__(message)
        self.body = body


class ContextOverflowError(BackendError):
    """Raised by a backend when a context would exceed the model's context window."""
