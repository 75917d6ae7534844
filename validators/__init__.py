"""beadline.validators: execution — sandboxes, tracer, partial programs, harnesses, stage validators.

Imports nothing from ``beadline.agents`` or ``beadline.workflows``.
"""

from __future__ import annotations

__all__: list[str] = []
