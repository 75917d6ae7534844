"""Drawing tokens from a distribution, token-by-token completion, and guided generation.

Temperature and top-p are applied *after* guidance, to the guided log-probabilities.
:func:`generate_guided` is the simplest guided decoder (a fixed signal context); the EG-CFG
decoder, which rebuilds the signal as it goes, lives in :mod:`beadline.agents.decoding.cfg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from beadline.agents.decoding.guidance import check_gamma, guide, log_softmax
from beadline.agents.errors import BackendError, UserError
from beadline.agents.models.base import Completion, NextTokenLogprobs, SamplingParams

if TYPE_CHECKING:
    from beadline.agents.models.base import Model, Session

__all__ = [
    "GuidedGeneration",
    "GuidedStep",
    "complete_by_tokens",
    "cut_text",
    "generate_guided",
    "sample_token",
    "warp",
]


def warp(dist: NextTokenLogprobs, params: SamplingParams) -> NextTokenLogprobs:
    """Apply temperature then top-p to ``dist``; returns a new, normalised distribution.

    Temperature divides the log-probabilities (``p^(1/T)``, renormalised); top-p keeps the
    smallest set of most likely tokens whose mass reaches ``top_p`` and renormalises it.
    Greedy params (temperature 0) skip the temperature step. ``dist`` is not changed.

    Example:
        >>> import numpy as np
        >>> d = NextTokenLogprobs(np.log([0.5, 0.3, 0.2]))
        >>> np.exp(warp(d, SamplingParams(temperature=1.0, top_p=0.7)).logprobs).round(3).tolist()
        [0.625, 0.375, 0.0]
    """
    lps = np.asarray(dist.logprobs, dtype=np.float64)
    if not params.greedy and params.temperature != 1.0:
        lps = np.where(np.isfinite(lps), lps / params.temperature, -np.inf)
    lps = log_softmax(lps)
    if params.top_p < 1.0:
        order = np.argsort(-lps, kind="stable")
        probs = np.exp(lps[order])
        keep_n = int(np.searchsorted(np.cumsum(probs), params.top_p) + 1)
        mask = np.full(lps.shape, -np.inf)
        kept = order[:keep_n]
        mask[kept] = lps[kept]
        lps = log_softmax(mask)
    return NextTokenLogprobs(lps, dist.token_ids)


def sample_token(dist: NextTokenLogprobs, params: SamplingParams, rng: np.random.Generator) -> int:
    """Draw one token id: argmax when greedy (first on ties), else from the warped distribution.

    Example:
        >>> import numpy as np
        >>> d = NextTokenLogprobs(np.log([0.2, 0.8]))
        >>> sample_token(d, SamplingParams(), np.random.default_rng(0))
        1
    """
    ids = dist.ids()
    if params.greedy:
        return int(ids[int(np.argmax(dist.logprobs))])
    warped = warp(dist, params)
    probs: npt.NDArray[np.float64] = np.exp(warped.logprobs)
    probs = probs / probs.sum()
    return int(ids[int(rng.choice(probs.shape[0], p=probs))])


def cut_text(text: str, stop: Sequence[str], stop_lines: int | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence (excluded) or after ``stop_lines`` newlines.

    Returns the kept text and whether a cut happened.

    Example:
        >>> cut_text("a\nb\nc", ["c"], 1)
        ('a\n', True)
    """
    cut = len(text)
    hit = False
    for s in stop:
        i = text.find(s)
        if i != -1 and i < cut:
            cut, hit = i, True
    if stop_lines is not None:
        pos = -1
        for _ in range(stop_lines):
            pos = text.find("\n", pos + 1)
            if pos == -1:
                break
        if pos != -1 and pos + 1 <= cut:
            cut, hit = pos + 1, True
    return text[:cut], hit


def complete_by_tokens(
    model: Model,
    tokens: Sequence[int],
    *,
    n: int,
    params: SamplingParams,
    max_tokens: int,
    stop: Sequence[str] = (),
    stop_lines: int | None = None,
    session: Session | None = None,
) -> list[Completion]:
    """Sample ``n`` continuations token by token, rewinding the session between them.

    See :meth:`Model.complete` for the stopping rules; a continuation that fills the model's
    context window ends with ``finish_reason="length"``. The session is left at ``tokens``.
    ``Completion.tokens`` holds every sampled token, including those of a stop sequence that
    was cut from the text.

    Raises:
        UserError: ``n`` or ``max_tokens`` is negative.
        ContextOverflowError: ``tokens`` alone does not fit the context window.
    """
    if n < 0 or max_tokens < 0:
        raise UserError(f"n and max_tokens must be >= 0, got n={n}, max_tokens={max_tokens}")
    own = session is None
    sess = model.new_session(tokens) if session is None else session
    rng = np.random.default_rng(params.seed)
    out: list[Completion] = []
    try:
        for _ in range(n):
            sess.set_tokens(tokens)
            start_eval = sess.n_evaluated
            generated: list[int] = []
            logprob = 0.0
            reason = "length"
            text = ""
            for _step in range(max_tokens):
                dist = sess.next_logprobs()
                tok = sample_token(dist, params, rng)
                if tok in model.eos_token_ids:
                    reason = "eos"
                    break
                ids = dist.ids()
                where = np.nonzero(ids == tok)[0]
                logprob += float(dist.logprobs[where[0]]) if where.size else 0.0
                generated.append(tok)
                text, hit = cut_text(model.detokenize(generated), stop, stop_lines)
                if hit:
                    reason = "stop"
                    break
                if len(tokens) + len(generated) >= model.n_ctx:
                    break  # the window is full: end as "length" rather than overflow
                sess.append([tok])
            out.append(
                Completion(
                    text=text,
                    tokens=tuple(generated),
                    logprob=logprob,
                    finish_reason=reason,
                    n_tokens_evaluated=sess.n_evaluated - start_eval,
                )
            )
        sess.set_tokens(tokens)
    finally:
        if own:
            sess.close()
    return out


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
    g = check_gamma(gamma)
    if max_tokens < 0 or top < 0:
        raise UserError(f"max_tokens and top must be >= 0, got {max_tokens} and {top}")
    if not model.capabilities.logprobs:
        raise BackendError(
            f"model {model.name!r} returns no logprobs: use gamma=1 (sampling from the signal "
            "context alone) or a backend that does"
        )
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
            dists = model.next_logprobs_batch(sessions)
            guided = dists[0] if len(dists) == 1 else guide(dists[0], dists[1], g)
            tok = sample_token(guided, params, rng)
            if top:
                steps.append(
                    GuidedStep(
                        token=tok,
                        plain_top=tuple(dists[0].top(top)),
                        signal_top=tuple(dists[1].top(top)) if len(dists) > 1 else (),
                        guided_top=tuple(guided.top(top)),
                    )
                )
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
