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

Top-k inputs (API backends) — an approximation: the union of the two sets is used, and a token
missing from one side's set gets that side's *floor*. The default floor is the tightest upper
bound the set itself gives on a missing token's log-probability: the smaller of (a) the least
likely returned token's log-probability (the set holds the k most likely tokens) and (b) the
log of the mass the set leaves over, ``log(1 − Σ p)`` (clipped at ``log(1e-12)``). The guided
values are then renormalised *over the union only*: tokens neither context listed get no mass.
So, for γ > 1, a token only the signal context likes is scored with an upper bound of its plain
probability — guidance boosts it at most as much as the exact formula would (a conservative
error); a token only the plain context likes gets an upper bound of its signal probability.
With γ = 1 the union result is the signal set renormalised (plus floored plain-only tokens);
with γ = 0 it is the plain set renormalised. Pass ``floor=`` to choose the values explicitly
(``-inf`` makes a missing token impossible on that side).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import numpy.typing as npt

from beadline.agents.errors import UserError
from beadline.agents.models.sampling import NextTokenLogprobs, log_softmax

__all__ = ["check_gamma", "guide", "guide_dense", "topk_floor"]

_MIN_REST = 1e-12
"""Smallest leftover mass :func:`topk_floor` assumes (keeps the floor finite)."""


def check_gamma(gamma: float) -> float:
    """Return ``gamma`` as a float, or raise :class:`UserError` when it is negative or not finite.

    Example:
        >>> check_gamma(3)
        3.0
    """
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not math.isfinite(gamma):
        raise UserError(
            f"guidance strength gamma must be a finite number >= 0, got {gamma!r}: "
            "use 0 for the plain model, 1 for the signal context alone, >1 to extrapolate"
        )
    if gamma < 0:
        raise UserError(
            f"guidance strength gamma must be >= 0, got {gamma!r}: "
            "use 0 for the plain model, 1 for the signal context alone, >1 to extrapolate"
        )
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
            default: :func:`topk_floor` of each side (see the module docstring).

    Returns:
        A new :class:`NextTokenLogprobs`, dense if both inputs were dense, else over the union
        (sorted token ids).

    Raises:
        UserError: gamma is invalid, or a dense input's length differs from the other's.

    Example:
        >>> import numpy as np
        >>> p = NextTokenLogprobs(np.log([0.6, 0.3]), np.array([1, 2]))
        >>> s = NextTokenLogprobs(np.log([0.7, 0.2]), np.array([2, 3]))
        >>> g = guide(p, s, 1.0)
        >>> g.token_ids.tolist()
        [1, 2, 3]
    """
    if plain.dense and signal.dense:
        return NextTokenLogprobs(guide_dense(plain.logprobs, signal.logprobs, gamma))
    check_gamma(gamma)
    p_ids, s_ids = plain.ids(), signal.ids()
    union = np.union1d(p_ids, s_ids)
    if plain.dense and not signal.dense:
        _check_ids(signal, plain.logprobs.shape[0])
    if signal.dense and not plain.dense:
        _check_ids(plain, signal.logprobs.shape[0])
    if floor is not None:
        p_floor, s_floor = (float(floor[0]), float(floor[1]))
        if math.isnan(p_floor) or math.isnan(s_floor) or max(p_floor, s_floor) > 0:
            raise UserError(f"floor must be two log-probabilities <= 0, got {floor!r}")
    else:
        p_floor, s_floor = topk_floor(plain), topk_floor(signal)

    def spread(
        ids: npt.NDArray[np.int64], lps: npt.NDArray[np.float64], fill: float
    ) -> npt.NDArray[np.float64]:
        out = np.full(union.shape[0], fill, dtype=np.float64)
        out[np.searchsorted(union, ids)] = lps
        return out

    p_union = spread(p_ids, plain.logprobs, p_floor)
    s_union = spread(s_ids, signal.logprobs, s_floor)
    return NextTokenLogprobs(guide_dense(p_union, s_union, gamma), union.astype(np.int64))


def topk_floor(dist: NextTokenLogprobs) -> float:
    """Upper bound of the log-probability of a token missing from a top-k set.

    The smaller of the set's least log-probability and the log of the mass it leaves over
    (clipped at ``log(1e-12)``). A dense distribution lacks no token: its floor is −inf.

    Example:
        >>> import numpy as np
        >>> round(topk_floor(NextTokenLogprobs(np.log([0.5, 0.3]), np.array([4, 9]))), 4)
        -1.6094
    """
    if dist.dense:
        return -math.inf
    lps = np.asarray(dist.logprobs, dtype=np.float64)
    finite = lps[np.isfinite(lps)]
    if finite.size == 0:
        return math.log(_MIN_REST)
    rest = max(1.0 - float(np.exp(finite).sum()), _MIN_REST)
    return min(float(finite.min()), math.log(rest))


def _check_ids(sparse: NextTokenLogprobs, vocab: int) -> None:
    ids = sparse.ids()
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise UserError(
            f"top-k token ids must lie in the dense side's vocabulary 0..{vocab - 1}, "
            f"got ids {int(ids.min())}..{int(ids.max())}"
        )
