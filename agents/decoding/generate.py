"""Guided generation with a fixed signal context: the simplest guided decoder.

:func:`generate_guided` decodes token by token from ``guide(p(·|P), p(·|P+S), γ)`` with
temperature / top-p applied *after* guidance (:func:`~beadline.agents.models.sampling.sample_token`).
The signal S never changes here; the EG-CFG decoder, which rebuilds it from executions as it goes,
is :mod:`beadline.agents.decoding.cfg`. ``beadline generate`` and the guided-decoding benchmark
use this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from beadline.agents.decoding.guidance import check_gamma, guide
from beadline.agents.errors import BackendError, UserError
from beadline.agents.models.base import Model, SamplingParams, Session, cut_text
from beadline.agents.models.sampling import sample_token

__all__ = ["GuidedGeneration", "GuidedStep", "generate_guided"]


@dataclass(frozen=True, kw_only=True)
class GuidedStep:
    """One token of :func:`generate_guided`, with the top of each distribution for displays."""

    token: int
    """The chosen token id."""
    plain_top: tuple[tuple[int, float], ...]
    """Most likely ``(token, logprob)`` under the plain context."""
    signal_top: tuple[tuple[int, float], ...]
    """Most likely ``(token, logprob)`` under the signal context (empty without a signal)."""
    guided_top: tuple[tuple[int, float], ...]
    """Most likely ``(token, logprob)`` after guidance (before temperature / top-p)."""


@dataclass(frozen=True, kw_only=True)
class GuidedGeneration:
    """The result of :func:`generate_guided`."""

    text: str
    """The continuation (cut at a stop sequence or after ``stop_lines`` lines)."""
    tokens: tuple[int, ...]
    """Every generated token."""
    finish_reason: str
    """``stop``, ``eos`` or ``length`` (as :class:`Completion`)."""
    steps: tuple[GuidedStep, ...] = ()
    """One entry per generated token when ``top > 0``."""
    n_tokens_evaluated: int = 0
    """Tokens both sessions evaluated (cost accounting)."""


_GREEDY = SamplingParams()


def generate_guided(
    model: Model,
    plain_tokens: Sequence[int],
    signal_tokens: Sequence[int] | None = None,
    *,
    gamma: float = 1.0,
    params: SamplingParams = _GREEDY,
    max_tokens: int = 128,
    stop: Sequence[str] = (),
    stop_lines: int | None = None,
    top: int = 0,
) -> GuidedGeneration:
    """Decode token by token from the guided distribution of a plain and a signal context.

    Each step asks the model for both contexts' next-token log-probs at once
    (:meth:`Model.next_logprobs_batch`), combines them with :func:`guide`, applies temperature /
    top-p, draws a token and appends it to *both* contexts. Without ``signal_tokens`` (or with
    γ = 0) this is plain decoding from ``plain_tokens``.

    Args:
        model: any backend with log-probabilities.
        plain_tokens: the plain context P.
        signal_tokens: the signal context P+S (the decoder decides where S goes).
        gamma: guidance strength (see :mod:`beadline.agents.decoding.guidance`).
        params: temperature / top-p / seed, applied after guidance.
        max_tokens: the most tokens to generate.
        stop: stop sequences (excluded from the text).
        stop_lines: stop after this many newlines.
        top: keep the ``top`` most likely tokens of every distribution in ``steps``.

    Raises:
        UserError: bad gamma / counts.
        BackendError: the backend has no log-probabilities (use ``Model.complete`` on the signal
            context for γ = 1 then).
        ContextOverflowError: a context does not fit the window.
    """
    g = _check(model, gamma, max_tokens, top)
    use_signal = signal_tokens is not None and g != 0.0
    plain = model.new_session(plain_tokens)
    signal = model.new_session(signal_tokens) if use_signal and signal_tokens is not None else None
    sessions = [plain] if signal is None else [plain, signal]
    rng = np.random.default_rng(params.seed)
    generated: list[int] = []
    steps: list[GuidedStep] = []
    reason = "length"
    text = ""
    longest = max(len(s.tokens) for s in sessions)
    try:
        for _ in range(max_tokens):
            tok, step = _draw(model, sessions, g, params, rng, top)
            if step is not None:
                steps.append(step)
            if tok in model.eos_token_ids:
                reason = "eos"
                break
            generated.append(tok)
            text, hit = cut_text(model.detokenize(generated), stop, stop_lines)
            if hit:
                reason = "stop"
                break
            if longest + len(generated) >= model.n_ctx:
                break
            for s in sessions:
                s.append([tok])
        else:
            text, _ = cut_text(model.detokenize(generated), stop, stop_lines)
        evaluated = sum(s.n_evaluated for s in sessions)
    finally:
        for s in sessions:
            s.close()
    return GuidedGeneration(
        text=text,
        tokens=tuple(generated),
        finish_reason=reason,
        steps=tuple(steps),
        n_tokens_evaluated=evaluated,
    )


def _check(model: Model, gamma: float, max_tokens: int, top: int) -> float:
    """γ as a float, once the arguments and the model's capabilities are checked."""
    g = check_gamma(gamma)
    if max_tokens < 0 or top < 0:
        raise UserError(f"max_tokens and top must be >= 0, got {max_tokens} and {top}")
    if not model.capabilities.logprobs:
        raise BackendError(
            f"model {model.name!r} returns no logprobs: use gamma=1 (sampling from the signal "
            "context alone) or a backend that does"
        )
    return g


def _draw(
    model: Model,
    sessions: Sequence[Session],
    gamma: float,
    params: SamplingParams,
    rng: np.random.Generator,
    top: int,
) -> tuple[int, GuidedStep | None]:
    """One token from the guided distribution of the sessions (the plain one alone when there
    is no signal session), with the tops of each distribution when ``top > 0``."""
    dists = model.next_logprobs_batch(sessions)
    guided = dists[0] if len(dists) == 1 else guide(dists[0], dists[1], gamma)
    tok = sample_token(guided, params, rng)
    if not top:
        return tok, None
    return tok, GuidedStep(
        token=tok,
        plain_top=tuple(dists[0].top(top)),
        signal_top=tuple(dists[1].top(top)) if len(dists) > 1 else (),
        guided_top=tuple(guided.top(top)),
    )
