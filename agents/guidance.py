"""Classifier-free guidance between the plain and the signal context, over log-probabilities.

The guided distribution of EG-CFG (Lavon, Katz & Wolf, 2025, "Execution Guided Line-by-Line
Code Generation", https://arxiv.org/abs/2506.10948) is, in log space::

    log p_g(x) = log p(x | P) + γ · (log p(x | P+S) − log p(x | P)),  renormalised,

where P is the plain prompt plus the code so far and S the dynamic signal. γ = 0 is the plain
model, γ = 1 is the signal context alone, γ > 1 extrapolates past it. Inputs and outputs are
*log-probabilities* (not raw logits); the output is log-softmax normalised. Inputs are never
changed in place.

Impossible tokens: a token with log p(x|P) = −inf stays impossible for every γ ≠ 1 (for γ < 1 the
formula gives −inf; for γ > 1 it would give +inf, which we treat as −inf: guidance never invents a
token the plain model rules out), and at γ = 1 the result is the signal distribution exactly. A
token with log p(x|P+S) = −inf is impossible for every γ > 0.

Top-k inputs (API backends): the union of the two sets is used; a token missing from one side
gets that side's *floor*, by default the smallest log-probability in that side's set (the
missing token's true log-probability is at most that value, so this is an upper bound). The
result is normalised over the union, i.e. the approximation renormalises within the tokens
either context considers likely.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from beadline.agents.errors import UserError
from beadline.agents.models.base import NextTokenLogprobs

__all__ = ["check_gamma", "guide", "guide_dense", "log_softmax"]


def log_softmax(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Numerically stable log-softmax of a 1-D array; −inf entries stay −inf.

    Raises:
        UserError: every entry is −inf (nothing can be sampled).
    """
    arr = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        raise UserError("every token has probability 0: nothing can be sampled")
    peak = arr[finite].max()
    shifted = np.where(finite, arr - peak, -np.inf)
    total = math.log(float(np.exp(shifted[finite]).sum()))
    out: npt.NDArray[np.float64] = np.where(finite, shifted - total, -np.inf)
    return out


def check_gamma(gamma: float) -> float:
    """Return ``gamma`` as a float, or raise :class:`UserError` when it is negative or not finite."""
    if not isinstance(gamma, int | float) or not math.isfinite(gamma) or gamma < 0:
        raise UserError(f"guidance strength gamma must be a finite number >= 0, got {gamma!r}")
    return float(gamma)


def guide_dense(
    plain: npt.ArrayLike, signal: npt.ArrayLike, gamma: float
) -> npt.NDArray[np.float64]:
    """Guided log-probabilities over a full vocabulary.

    Args:
        plain: shape ``(vocab,)`` log p(x|P).
        signal: shape ``(vocab,)`` log p(x|P+S).
        gamma: guidance strength ≥ 0.

    Returns:
        A new ``(vocab,)`` array of normalised guided log-probabilities.

    Raises:
        UserError: shapes differ, or gamma is negative / not finite.

    Example:
        >>> import numpy as np
        >>> p = np.log([0.5, 0.5]); s = np.log([0.9, 0.1])
        >>> np.round(np.exp(guide_dense(p, s, 1.0)), 3).tolist()
        [0.9, 0.1]
    """
    g = check_gamma(gamma)
    p = np.asarray(plain, dtype=np.float64)
    s = np.asarray(signal, dtype=np.float64)
    if p.shape != s.shape or p.ndim != 1:
        raise UserError(
            f"plain and signal log-probs must be 1-D arrays of one shape, got {p.shape} and {s.shape}"
        )
    if g == 0.0:
        return log_softmax(p)
    if g == 1.0:
        return log_softmax(s)
    p_ok = np.isfinite(p)
    s_ok = np.isfinite(s)
    both = p_ok & s_ok
    mixed = np.full_like(p, -np.inf)
    mixed[both] = p[both] + g * (s[both] - p[both])
    return log_softmax(mixed)


def guide(
    plain: NextTokenLogprobs,
    signal: NextTokenLogprobs,
    gamma: float,
    *,
    floor: tuple[float, float] | None = None,
) -> NextTokenLogprobs:
    """Guided next-token distribution from the plain and the signal context.

    Dense inputs are combined elementwise (:func:`guide_dense`). When either side is a top-k
    set, the union of both sets is used and a token missing from one side gets that side's
    floor (see the module docstring).

    Args:
        plain: log p(x|P).
        signal: log p(x|P+S).
        gamma: guidance strength ≥ 0.
        floor: explicit ``(plain_floor, signal_floor)`` for tokens missing from a top-k set;
            default: each side's smallest returned log-probability.

    Returns:
        A new :class:`NextTokenLogprobs`, dense if both inputs were dense, else over the union.
    """
    if plain.dense and signal.dense:
        return NextTokenLogprobs(guide_dense(plain.logprobs, signal.logprobs, gamma))
    check_gamma(gamma)
    p_ids, s_ids = plain.ids(), signal.ids()
    union = np.union1d(p_ids, s_ids)
    p_floor, s_floor = (
        floor
        if floor is not None
        else (
            float(np.min(plain.logprobs[np.isfinite(plain.logprobs)], initial=0.0)),
            float(np.min(signal.logprobs[np.isfinite(signal.logprobs)], initial=0.0)),
        )
    )

    def spread(
        ids: npt.NDArray[np.int64], lps: npt.NDArray[np.float64], fill: float
    ) -> npt.NDArray[np.float64]:
        out = np.full(union.shape[0], fill, dtype=np.float64)
        out[np.searchsorted(union, ids)] = lps
        return out

    p_union = spread(p_ids, plain.logprobs, p_floor)
    s_union = spread(s_ids, signal.logprobs, s_floor)
    return NextTokenLogprobs(guide_dense(p_union, s_union, gamma), union.astype(np.int64))
