"""Guided generation with a fixed signal context (``generate_guided``) on a fake model."""

from __future__ import annotations

import pytest

from beadline.agents.decoding import generate_guided
from beadline.agents.errors import BackendError
from beadline.agents.models.base import Capabilities
from beadline.agents.testing import FunctionModel


def _prefers(ctx: str) -> dict[str, float]:
    # The "model" writes 'a' unless the context holds the signal '!', then it prefers 'b'.
    if len(ctx) > 8:
        return {"<eos>": 0.0}
    return {"a": 0.0, "b": -1.0} if "!" not in ctx else {"a": -1.0, "b": 0.0}


def test_generate_guided_gamma_zero_is_plain_decoding() -> None:
    model = FunctionModel(_prefers)
    plain, signal = model.tokenize("P:"), model.tokenize("!P:")
    (ref,) = model.complete(plain, max_tokens=5)
    got = generate_guided(model, plain, signal, gamma=0.0, max_tokens=5)
    assert got.text == ref.text == "aaaaa" and got.tokens == ref.tokens


def test_generate_guided_follows_the_signal_and_records_steps() -> None:
    model = FunctionModel(_prefers)
    got = generate_guided(
        model, model.tokenize("P:"), model.tokenize("!P:"), gamma=3.0, max_tokens=3, top=2
    )
    assert got.text == "bbb" and got.finish_reason == "length"
    first = got.steps[0]
    b, a = model.token_id("b"), model.token_id("a")
    assert first.token == b and first.plain_top[0][0] == a and first.signal_top[0][0] == b
    # guided log-odds b:a = (1-γ)(−1) + γ(+1) = 2γ − 1 = 5
    (tb, lb), (ta, la) = first.guided_top
    assert (tb, ta) == (b, a) and lb - la == pytest.approx(5.0)
    eos = generate_guided(model, model.tokenize("P:aaaaaaa"), max_tokens=5)
    assert eos.finish_reason == "eos"


def test_generate_guided_needs_logprobs() -> None:
    model = FunctionModel(_prefers)
    model.capabilities = Capabilities(full_vocabulary=True, logprobs=False)
    with pytest.raises(BackendError, match="gamma=1"):
        generate_guided(model, model.tokenize("P"), model.tokenize("!P"))
