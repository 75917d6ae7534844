"""The next-token distribution of a context and drawing a token from it.

:class:`NextTokenLogprobs` is what every backend returns for a context (dense over the vocabulary,
or a top-k set from an API); :func:`log_softmax` normalises raw scores into it. Drawing a token
(:func:`sample_token`) applies :class:`SamplingParams` — temperature, then top-p (:func:`warp`) —
*after* any guidance, to the guided log-probabilities.

This module sits below :mod:`beadline.agents.models.base` (whose default ``Model.complete``
draws tokens with it) and below the CFG arithmetic of :mod:`beadline.agents.decoding.guidance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from beadline.agents.errors import UserError

__all__ = ["NextTokenLogprobs", "SamplingParams", "log_softmax", "sample_token", "warp"]


@dataclass(frozen=True)
class NextTokenLogprobs:
    """Log-probabilities of the next token of one context.

    Dense (``token_ids is None``): ``logprobs[i]`` is the log-probability of token id ``i``,
    normalised over the vocabulary. Sparse (a top-k set from an API): ``logprobs[j]`` belongs to
    ``token_ids[j]``; the set is not normalised (its mass is ≤ 1).
    """

    logprobs: npt.NDArray[np.float64]
    """Shape ``(vocab,)`` when dense, ``(k,)`` when sparse."""
    token_ids: npt.NDArray[np.int64] | None = None
    """``None`` when dense, else shape ``(k,)`` token ids of the top-k set."""

    @property
    def dense(self) -> bool:
        """True when this covers the whole vocabulary."""
        return self.token_ids is None

    def ids(self) -> npt.NDArray[np.int64]:
        """The token ids the entries belong to."""
        if self.token_ids is None:
            return np.arange(self.logprobs.shape[0], dtype=np.int64)
        return self.token_ids

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely ``(token_id, logprob)`` pairs, best first."""
        order = np.argsort(-self.logprobs, kind="stable")[:k]
        ids = self.ids()
        return [(int(ids[i]), float(self.logprobs[i])) for i in order]


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    """How a token is drawn from a distribution (after any guidance)."""

    temperature: float = 0.0
    """0 means greedy; otherwise > 0."""
    top_p: float = 1.0
    """Nucleus sampling mass in (0, 1]."""
    seed: int | None = None
    """Seed of the sampler's random generator; ``None`` draws a fresh one."""

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not (isinstance(t, int | float) and math.isfinite(t) and t >= 0):
            raise UserError(
                f"temperature must be 0 (greedy) or a positive number, got {t!r}: "
                "use 0 for greedy decoding or e.g. 0.8 for sampling"
            )
        p = self.top_p
        if isinstance(p, bool) or not (isinstance(p, int | float) and 0 < p <= 1):
            raise UserError(f"top_p must be in (0, 1], got {p!r}")

    @property
    def greedy(self) -> bool:
        """True for greedy decoding."""
        return self.temperature == 0


def log_softmax(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Numerically stable log-softmax of a 1-D array; −inf entries stay −inf.

    Returns a new float64 array; the input is not changed.

    Raises:
        UserError: every entry is −inf (nothing can be sampled), or an entry is NaN or +inf.

    Example:
        >>> log_softmax([0.0, 0.0, float("-inf")]).round(4).tolist()
        [-0.6931, -0.6931, -inf]
    """
    arr = np.asarray(values, dtype=np.float64)
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise UserError(
            "log-probabilities/logits contain NaN or +inf: the model output is broken "
            "(check the model file)"
        )
    finite = np.isfinite(arr)
    if not finite.any():
        raise UserError("every token has probability 0: nothing can be sampled")
    peak = arr[finite].max()
    with np.errstate(over="ignore"):  # a difference beyond float range is exp(...) = 0 anyway
        shifted = np.where(finite, arr - peak, -np.inf)
    total = math.log(float(np.exp(shifted[finite]).sum()))
    out: npt.NDArray[np.float64] = np.where(finite, shifted - total, -np.inf)
    return out


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
