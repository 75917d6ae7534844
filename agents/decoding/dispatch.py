"""Decode one program: pick the strategy ``settings.strategy`` names and run it.

``cfg`` is EG-CFG's guided line loop (:mod:`beadline.agents.decoding.cfg`); ``beam`` and
``cfg+beam`` are the execution-scored line beam, alone or with guided lines
(:mod:`beadline.agents.decoding.beam`). The dispatch lives above both strategies, so neither
imports the other; both judge their final program with
:func:`beadline.agents.decoding.outcome.finish`.
"""

from __future__ import annotations

from beadline.agents.decoding.beam import beam_decode
from beadline.agents.decoding.cache import ExecutionCache
from beadline.agents.decoding.cfg import cfg_decode
from beadline.agents.decoding.outcome import Decoded
from beadline.agents.models.base import Model
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.validators.executor import Executor

__all__ = ["decode"]


def decode(
    task: Task,
    model: Model,
    executor: Executor,
    settings: DecoderSettings | None = None,
    *,
    cache: ExecutionCache | None = None,
) -> Decoded:
    """Write a program for ``task`` with execution-guided decoding.

    Args:
        task: the task; the model continues after ``task.prompt`` (or ``task.signature``) when
            given. Candidates run on ``task.tests`` only.
        model: the language model.
        executor: the sandbox the candidates run in.
        settings: decoder settings (defaults: :class:`DecoderSettings`).
        cache: an execution cache to share across decodes of the same task.

    Returns:
        The program, its status (``solved`` when it passes the visible tests), cost and record.

    Raises:
        UserError: settings the model cannot honour (e.g. γ other than 0 or 1 without logprobs)
            or a prompt type the task cannot use.
        BackendError, SandboxError: the model or the sandbox itself failed.
    """
    settings = settings or DecoderSettings()
    cache = cache if cache is not None else ExecutionCache()
    if settings.strategy == "cfg":
        return cfg_decode(task, model, executor, settings, cache=cache)
    return beam_decode(task, model, executor, settings, cache=cache)
