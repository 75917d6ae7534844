"""beadline.agents: the EG-CFG agent — model backends, guidance, prompts, decoder, search."""

from __future__ import annotations

__all__: list[str] = []
