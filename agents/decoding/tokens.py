"""Guided token choice: one token from ``guide(p(·|P), p(·|P+S), γ)``, and whole guided lines.

:func:`choose_token` is the per-token step of the ``cfg`` loop; :func:`guided_lines` samples the
one-line extensions of ``cfg+beam`` token by token with it. Both record how likely each context
found the chosen token (:class:`~beadline.agents.record.TokenRecord`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from beadline.agents.decoding.guidance import guide
from beadline.agents.models.base import Completion, Model, SamplingParams, Session
from beadline.agents.models.sampling import NextTokenLogprobs, sample_token
from beadline.agents.record import TokenRecord

__all__ = ["TokenChoice", "choose_token", "guided_lines", "logprob_of"]


def logprob_of(dist: NextTokenLogprobs, token: int) -> float | None:
    """log p(token) in ``dist`` (``None`` when a top-k set does not contain it)."""
    if dist.dense:
        return float(dist.logprobs[token])
    where = np.nonzero(dist.ids() == token)[0]
    return float(dist.logprobs[where[0]]) if where.size else None


def _prob(lp: float | None) -> float | None:
    return None if lp is None else round(float(np.exp(lp)), 6)


@dataclass(frozen=True, kw_only=True)
class TokenChoice:
    """One chosen token and how likely each context found it."""

    token: int
    """The token id."""
    logp_plain: float | None
    """log p(token | P)."""
    record: TokenRecord
    """The record entry."""


def choose_token(
    *,
    model: Model,
    plain: Session,
    signal: Session | None,
    gamma: float,
    params: SamplingParams,
    rng: np.random.Generator,
    skip_plain_at_one: bool = False,
) -> TokenChoice:
    """Draw the next token from the guided distribution (plain alone when ``signal`` is
    ``None`` or γ=0).

    With ``skip_plain_at_one`` and γ=1 on a model with full distributions, the token comes
    from P+S alone: ``log p + 1·(log p_s − log p)`` is ``log p_s``, so evaluating P adds
    nothing but cost. ``plain`` is then left with unevaluated tokens (it catches up in one
    batch when next asked), and the record has no plain probability.
    """
    if (
        skip_plain_at_one
        and signal is not None
        and gamma == 1.0
        and model.capabilities.full_vocabulary
    ):
        dist = signal.next_logprobs()
        token = sample_token(dist, params, rng)
        return TokenChoice(
            token=token,
            logp_plain=None,
            record=TokenRecord(
                text=model.detokenize([token]),
                id=token,
                p_guided=_prob(logprob_of(dist, token)),
            ),
        )
    guided = signal is not None and gamma > 0
    if guided:
        assert signal is not None  # for mypy; guided implies it
        # both contexts at once: one llama_decode locally, concurrent requests on a server
        plain_lp, signal_lp = model.next_logprobs_batch([plain, signal])
        dist = guide(plain_lp, signal_lp, gamma)
    else:
        plain_lp = dist = plain.next_logprobs()
    token = sample_token(dist, params, rng)
    lp_plain = logprob_of(plain_lp, token)
    top_plain = plain_lp.top(1)[0][0]
    return TokenChoice(
        token=token,
        logp_plain=lp_plain,
        record=TokenRecord(
            text=model.detokenize([token]),
            id=token,
            p_plain=_prob(lp_plain),
            p_guided=_prob(logprob_of(dist, token)) if guided else None,
            plain_top=model.detokenize([top_plain]) if top_plain != token else None,
        ),
    )


def guided_lines(
    *,
    model: Model,
    plain: Session,
    signal: Session | None,
    plain_context: Sequence[int],
    signal_context: Sequence[int],
    n: int,
    gamma: float,
    params: SamplingParams,
    max_tokens: int,
    stop: Sequence[str],
) -> list[Completion]:
    """Sample ``n`` one-line continuations token by token from the guided distribution.

    ``Completion.logprob`` is the log-probability under the *plain* context (what the beam
    scores); the sessions are left at their contexts.
    """
    rng = np.random.default_rng(params.seed)
    out: list[Completion] = []
    for _ in range(n):
        plain.set_tokens(plain_context)
        if signal is not None:
            signal.set_tokens(signal_context)
        generated: list[int] = []
        logp = 0.0
        reason = "length"
        for _step in range(max_tokens):
            choice = choose_token(
                model=model, plain=plain, signal=signal, gamma=gamma, params=params, rng=rng
            )
            if choice.token in model.eos_token_ids:
                reason = "eos"
                break
            generated.append(choice.token)
            logp += choice.logp_plain if choice.logp_plain is not None else 0.0
            plain.append([choice.token])
            if signal is not None:
                signal.append([choice.token])
            text = model.detokenize(generated)
            if any(s in text for s in stop):
                reason = "stop"
                break
            if "\n" in text:
                reason = "stop"
                break
        text = model.detokenize(generated)
        for s in stop:
            if s in text:
                text = text[: text.index(s)]
        if "\n" in text:
            text = text[: text.index("\n") + 1]
        out.append(
            Completion(text=text, tokens=tuple(generated), logprob=logp, finish_reason=reason)
        )
    plain.set_tokens(plain_context)
    if signal is not None:
        signal.set_tokens(signal_context)
    return out
