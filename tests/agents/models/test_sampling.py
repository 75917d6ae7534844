"""Temperature / top-p after guidance, token sampling, and completion on a fake model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from beadline.agents.errors import ContextOverflowError, UserError
from beadline.agents.models.base import (
    NextTokenLogprobs,
    SamplingParams,
    common_prefix,
    fit_window,
    require_context,
)
from beadline.agents.models.sampling import sample_token, warp
from beadline.agents.testing import FunctionModel, ScriptedModel

D = NextTokenLogprobs(np.log(np.array([0.5, 0.3, 0.2])))


def test_temperature_sharpens_and_flattens() -> None:
    got = np.exp(warp(D, SamplingParams(temperature=0.5)).logprobs)
    raw = np.array([0.5, 0.3, 0.2]) ** 2
    np.testing.assert_allclose(got, raw / raw.sum())
    flat = np.exp(warp(D, SamplingParams(temperature=100.0)).logprobs)
    assert flat.max() - flat.min() < 0.01


def test_top_p_keeps_the_smallest_set_reaching_the_mass() -> None:
    got = np.exp(warp(D, SamplingParams(temperature=1.0, top_p=0.8)).logprobs)
    np.testing.assert_allclose(got, [0.625, 0.375, 0.0])
    got = np.exp(warp(D, SamplingParams(temperature=1.0, top_p=0.5)).logprobs)
    np.testing.assert_allclose(got, [1.0, 0.0, 0.0])


def test_warp_keeps_sparse_ids_and_does_not_mutate() -> None:
    sparse = NextTokenLogprobs(np.log(np.array([0.2, 0.8])), np.array([7, 3]))
    before = sparse.logprobs.copy()
    out = warp(sparse, SamplingParams(temperature=2.0))
    np.testing.assert_array_equal(sparse.logprobs, before)
    assert out.token_ids is not None and out.token_ids.tolist() == [7, 3]


def test_greedy_and_seeded_sampling() -> None:
    rng = np.random.default_rng(0)
    assert sample_token(D, SamplingParams(), rng) == 0
    params = SamplingParams(temperature=1.0, seed=1)
    a = [sample_token(D, params, np.random.default_rng(5)) for _ in range(3)]
    b = [sample_token(D, params, np.random.default_rng(5)) for _ in range(3)]
    assert a == b
    draws = [sample_token(D, params, rng) for _ in range(3000)]
    assert np.bincount(draws, minlength=3) / 3000 == pytest.approx([0.5, 0.3, 0.2], abs=0.04)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": math.nan}, "top_p"),
    ],
)
def test_bad_sampling_params(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(UserError, match=match):
        SamplingParams(**kwargs)


def test_complete_stops_at_stop_sequences_lines_and_eos() -> None:
    text = "ab\ncd\nef"

    def next_piece(ctx: str) -> dict[str, float]:
        done = len(ctx) - 1  # the prompt is one character
        return {text[done]: 0.0} if done < len(text) else {"<eos>": 0.0}

    model = FunctionModel(next_piece)
    prompt = model.tokenize(">")
    (c,) = model.complete(prompt, stop_lines=1)
    assert (c.text, c.finish_reason) == ("ab\n", "stop")
    (c,) = model.complete(prompt, stop=["d"])
    assert (c.text, c.finish_reason) == ("ab\nc", "stop")
    (c,) = model.complete(prompt)
    assert (c.text, c.finish_reason) == (text, "eos")
    assert c.tokens == tuple(model.tokenize(text))
    (c,) = model.complete(prompt, max_tokens=4)
    assert (c.text, c.finish_reason) == ("ab\nc", "length")


def test_complete_rewinds_a_given_session_and_samples_n() -> None:
    model = FunctionModel(lambda ctx: {"x": 0.0, "y": 0.0, "<eos>": -1.0})
    prompt = model.tokenize("p")
    session = model.new_session(prompt)
    outs = model.complete(
        prompt,
        n=5,
        params=SamplingParams(temperature=1.0, seed=3),
        max_tokens=6,
        session=session,
    )
    assert len(outs) == 5 and len({o.text for o in outs}) > 1
    assert list(session.tokens) == prompt
    again = model.complete(
        prompt, n=5, params=SamplingParams(temperature=1.0, seed=3), max_tokens=6
    )
    assert [o.text for o in again] == [o.text for o in outs]
    assert all(o.logprob < 0 for o in outs if o.tokens)


def test_complete_ends_when_the_window_is_full() -> None:
    model = FunctionModel(lambda ctx: {"z": 0.0}, n_ctx=6)
    (c,) = model.complete(model.tokenize("abc"), max_tokens=50)
    assert c.finish_reason == "length" and c.text == "zzz"
    with pytest.raises(ContextOverflowError):
        model.complete(model.tokenize("abcdefg"))


def test_scripted_model_replays_and_records() -> None:
    model = ScriptedModel([{"a": 0.0}, {"b": 0.0}])
    s = model.new_session(model.tokenize("q"))
    assert model.detokenize([s.next_logprobs().top(1)[0][0]]) == "a"
    s.append(model.tokenize("a"))
    assert model.detokenize([s.next_logprobs().top(1)[0][0]]) == "b"
    assert model.history == ["q", "qa"]
    assert s.n_evaluated == 2


def test_session_helpers_shared_by_every_backend() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([7, 8], [7, 8]) == 2
    model = FunctionModel(lambda ctx: {"z": 0.0}, n_ctx=4)
    assert fit_window((np.int64(1), 2), model) == [1, 2]
    with pytest.raises(ContextOverflowError, match=r"5 tokens .* window of 4 .* or raise n_ctx"):
        fit_window(range(5), model, fix=" or raise n_ctx")
    with pytest.raises(UserError, match="non-empty context"):
        require_context([])
    require_context([1])
