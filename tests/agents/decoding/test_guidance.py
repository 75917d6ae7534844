"""Guidance math against closed-form values; inputs are never changed in place."""

from __future__ import annotations

import math

import numpy as np
import pytest

from beadline.agents.decoding.guidance import check_gamma, guide, guide_dense, topk_floor
from beadline.agents.errors import UserError
from beadline.agents.models.base import NextTokenLogprobs
from beadline.agents.models.sampling import log_softmax

P = np.log(np.array([0.5, 0.3, 0.2]))
S = np.log(np.array([0.1, 0.3, 0.6]))


def _closed_form(p: np.ndarray, s: np.ndarray, gamma: float) -> np.ndarray:
    # p^(1-γ) · s^γ, renormalised, computed in probability space.
    raw = np.exp(p) ** (1 - gamma) * np.exp(s) ** gamma
    return raw / raw.sum()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 3.0])
def test_dense_guidance_matches_closed_form(gamma: float) -> None:
    got = np.exp(guide_dense(P, S, gamma))
    np.testing.assert_allclose(got, _closed_form(P, S, gamma), rtol=1e-12)
    assert got.sum() == pytest.approx(1.0)


def test_gamma_zero_is_plain_and_one_is_signal() -> None:
    np.testing.assert_allclose(guide_dense(P, S, 0), P, atol=1e-12)
    np.testing.assert_allclose(guide_dense(P, S, 1), S, atol=1e-12)


def test_gamma_three_by_hand() -> None:
    # log p_g = log p + 3 (log s − log p) = 3 log s − 2 log p, then normalise.
    raw = [0.1**3 / 0.5**2, 0.3**3 / 0.3**2, 0.6**3 / 0.2**2]
    expected = [r / sum(raw) for r in raw]
    np.testing.assert_allclose(np.exp(guide_dense(P, S, 3)), expected, rtol=1e-12)


def test_inputs_are_not_mutated() -> None:
    p, s = P.copy(), S.copy()
    out = guide_dense(p, s, 3.0)
    np.testing.assert_array_equal(p, P)
    np.testing.assert_array_equal(s, S)
    assert out is not p and out is not s
    sp = NextTokenLogprobs(P.copy(), np.array([0, 1, 2]))
    ss = NextTokenLogprobs(S.copy(), np.array([1, 2, 3]))
    guide(sp, ss, 3.0)
    np.testing.assert_array_equal(sp.logprobs, P)
    np.testing.assert_array_equal(ss.logprobs, S)
    logits = np.array([1.0, 2.0, -np.inf])
    log_softmax(logits)
    np.testing.assert_array_equal(logits, [1.0, 2.0, -np.inf])


@pytest.mark.parametrize("gamma", [0.5, 3.0])
def test_minus_inf_entries_stay_impossible(gamma: float) -> None:
    p = np.array([math.log(0.5), math.log(0.5), -np.inf])
    s = np.array([-np.inf, math.log(0.4), math.log(0.6)])
    got = guide_dense(p, s, gamma)
    # token 0 is ruled out by the signal, token 2 by the plain model: only token 1 remains
    assert got[0] == -np.inf and got[2] == -np.inf
    assert got[1] == pytest.approx(0.0)


def test_minus_inf_at_gamma_one_is_the_signal_exactly() -> None:
    p = np.array([0.0, -np.inf])
    s = np.log(np.array([0.25, 0.75]))
    np.testing.assert_allclose(np.exp(guide_dense(p, s, 1.0)), [0.25, 0.75])


def test_huge_logits_are_stable() -> None:
    out = log_softmax(np.array([1e308, 1e308 - 1e292, -1e308]))
    assert np.isfinite(out[:2]).all() and np.exp(out).sum() == pytest.approx(1.0)
    g = guide_dense(np.array([-1e6, 0.0]), np.array([0.0, -1e6]), 3.0)
    assert np.exp(g).sum() == pytest.approx(1.0) and g[0] == pytest.approx(0.0)


def test_disjoint_topk_sets_use_the_union_and_the_floor() -> None:
    plain = NextTokenLogprobs(np.log([0.6, 0.3]), np.array([10, 20]))
    signal = NextTokenLogprobs(np.log([0.7, 0.2]), np.array([30, 40]))
    floors = (math.log(0.05), math.log(0.01))
    got = guide(plain, signal, 3.0, floor=floors)
    assert got.token_ids is not None and got.token_ids.tolist() == [10, 20, 30, 40]
    p_u = np.array([0.6, 0.3, 0.05, 0.05])
    s_u = np.array([0.01, 0.01, 0.7, 0.2])
    raw = p_u ** (1 - 3) * s_u**3
    np.testing.assert_allclose(np.exp(got.logprobs), raw / raw.sum(), rtol=1e-12)


def test_default_floor_is_the_tightest_upper_bound() -> None:
    # leftover mass 0.1 < least listed 0.3: the floor is log 0.1
    d = NextTokenLogprobs(np.log([0.6, 0.3]), np.array([1, 2]))
    assert topk_floor(d) == pytest.approx(math.log(0.1))
    # leftover 0.5 > least listed 0.2: the floor is log 0.2
    d = NextTokenLogprobs(np.log([0.3, 0.2]), np.array([1, 2]))
    assert topk_floor(d) == pytest.approx(math.log(0.2))
    assert topk_floor(NextTokenLogprobs(P)) == -math.inf


def test_topk_overlapping_sets_by_hand_with_default_floor() -> None:
    plain = NextTokenLogprobs(np.log([0.6, 0.3]), np.array([1, 2]))  # floor log 0.1
    signal = NextTokenLogprobs(np.log([0.5, 0.4]), np.array([2, 3]))  # floor log 0.1
    got = guide(plain, signal, 0.5)
    p_u = np.array([0.6, 0.3, 0.1])
    s_u = np.array([0.1, 0.5, 0.4])
    raw = np.sqrt(p_u * s_u)
    np.testing.assert_allclose(np.exp(got.logprobs), raw / raw.sum(), rtol=1e-12)


def test_dense_with_topk_covers_the_vocabulary() -> None:
    dense = NextTokenLogprobs(P)
    sparse = NextTokenLogprobs(np.log([0.9]), np.array([2]))
    got = guide(dense, sparse, 1.0, floor=(-np.inf, math.log(0.05)))
    assert got.ids().tolist() == [0, 1, 2]
    np.testing.assert_allclose(np.exp(got.logprobs), np.array([0.05, 0.05, 0.9]) / 1.0)
    with pytest.raises(UserError, match="vocabulary"):
        guide(dense, NextTokenLogprobs(np.log([0.9]), np.array([7])), 1.0)


def test_dense_dense_guide_returns_dense() -> None:
    got = guide(NextTokenLogprobs(P), NextTokenLogprobs(S), 3.0)
    assert got.dense
    np.testing.assert_allclose(np.exp(got.logprobs), _closed_form(P, S, 3.0), rtol=1e-12)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "2", True])
def test_bad_gamma_is_rejected(bad: object) -> None:
    with pytest.raises(UserError, match="gamma"):
        check_gamma(bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="gamma"):
        guide_dense(P, S, bad)  # type: ignore[arg-type]


def test_numpy_scalars_are_accepted_as_gamma() -> None:
    assert check_gamma(np.float32(2.0)) == 2.0


def test_shape_mismatch_and_broken_inputs() -> None:
    with pytest.raises(UserError, match="shape"):
        guide_dense(P, S[:2], 1.0)
    with pytest.raises(UserError, match="NaN"):
        log_softmax([0.0, float("nan")])
    with pytest.raises(UserError, match="probability 0"):
        log_softmax([-np.inf, -np.inf])
    with pytest.raises(UserError, match="floor"):
        guide(
            NextTokenLogprobs(P, np.array([0, 1, 2])),
            NextTokenLogprobs(S, np.array([0, 1, 2])),
            1.0,
            floor=(0.5, -1.0),
        )
