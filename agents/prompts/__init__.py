"""Prompts of the EG-CFG decoder: ``builder.py`` fills the data files in ``templates/`` (the
prompt templates and the few-shot examples) into a :class:`Prompt` cut where the signal goes."""

from __future__ import annotations

from beadline.agents.prompts.builder import Prompt, build_prompt

__all__ = ["Prompt", "build_prompt"]
