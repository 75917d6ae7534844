"""The llama.cpp backend on the tiny packaged model (and SmolLM2 for the chat template)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from beadline.agents.errors import BackendError, ContextOverflowError, ModelNotFoundError, UserError
from beadline.agents.models.base import SamplingParams, common_prefix
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.agents.models.registry import resolve_model_path

PROMPT = "def add(a, b):\n    return"


@pytest.fixture(scope="module")
def tiny() -> Iterator[LlamaCppModel]:
    with LlamaCppModel("tiny-test", n_ctx=256) as model:
        yield model


def test_logprobs_equal_a_direct_log_softmax_of_the_logits(tiny: LlamaCppModel) -> None:
    import llama_cpp

    tokens = tiny.tokenize(PROMPT, add_bos=True)
    with tiny.new_session(tokens) as session:
        got = session.next_logprobs()
    # An independent path: the high-level Llama with every position's logits kept.
    ref = llama_cpp.Llama(
        str(resolve_model_path("tiny-test")), n_ctx=256, logits_all=True, verbose=False
    )
    ref.eval(tokens)
    logits = np.asarray(ref.scores[len(tokens) - 1], dtype=np.float64)
    expected = logits - logits.max()
    expected -= np.log(np.exp(expected).sum())
    assert got.dense and got.logprobs.shape == (tiny.n_vocab,)
    np.testing.assert_allclose(got.logprobs, expected, atol=1e-4)
    assert np.exp(got.logprobs).sum() == pytest.approx(1.0)


def test_prefix_reuse_gives_the_same_logprobs_as_a_fresh_evaluation(tiny: LlamaCppModel) -> None:
    stem = tiny.tokenize("def f(x):\n    y = x + 1\n", add_bos=True)
    a = stem + tiny.tokenize("    return y")
    b = stem + tiny.tokenize("    print(x)\n    return y * 2")
    shared = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    base = b[:shared]
    with tiny.new_session(a) as session:
        session.next_logprobs()
        used = session.n_evaluated
        session.set_tokens(b)
        reused = session.next_logprobs()
        assert session.n_evaluated - used == len(b) - len(base)  # only the new suffix
        session.rewind(len(base))
        rewound = session.next_logprobs()
        # the last two tokens again: never a one-token llama_decode (bit-identical log-probs)
        assert session.n_evaluated - used == len(b) - len(base) + 2
    with tiny.new_session(b) as fresh_b:
        np.testing.assert_allclose(reused.logprobs, fresh_b.next_logprobs().logprobs, atol=1e-4)
    with tiny.new_session(base) as fresh_base:
        np.testing.assert_allclose(rewound.logprobs, fresh_base.next_logprobs().logprobs, atol=1e-4)


def test_unchanged_context_is_not_evaluated_again(tiny: LlamaCppModel) -> None:
    with tiny.new_session(tiny.tokenize(PROMPT)) as session:
        first = session.next_logprobs()
        n = session.n_evaluated
        second = session.next_logprobs()
        assert session.n_evaluated == n
        np.testing.assert_array_equal(first.logprobs, second.logprobs)
        second.logprobs[0] = 0.0  # a copy: the session's cache is untouched
        assert session.next_logprobs().logprobs[0] == first.logprobs[0]


def test_greedy_decoding_is_deterministic(tiny: LlamaCppModel) -> None:
    prompt = tiny.tokenize(PROMPT, add_bos=True)
    one = tiny.complete(prompt, max_tokens=24)
    two = tiny.complete(prompt, max_tokens=24)
    assert one[0].tokens == two[0].tokens and len(one[0].tokens) > 0
    seeded = SamplingParams(temperature=0.9, seed=11)
    assert [c.tokens for c in tiny.complete(prompt, n=2, params=seeded, max_tokens=10)] == [
        c.tokens for c in tiny.complete(prompt, n=2, params=seeded, max_tokens=10)
    ]


def test_two_sessions_do_not_disturb_each_other(tiny: LlamaCppModel) -> None:
    pa = tiny.tokenize("import os\n", add_bos=True)
    pb = tiny.tokenize("class A:\n    pass\n", add_bos=True)
    with tiny.new_session(pa) as alone:
        expected = [alone.next_logprobs().logprobs]
        for tok in (10, 20, 30):
            alone.append([tok])
            expected.append(alone.next_logprobs().logprobs)
    with tiny.new_session(pa) as a, tiny.new_session(pb) as b:
        got = [a.next_logprobs().logprobs]
        b.next_logprobs()
        for tok in (10, 20, 30):
            a.append([tok])
            b.append([tok + 1])
            b.next_logprobs()
            got.append(a.next_logprobs().logprobs)
            b.set_tokens(pb)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-4)


def test_context_overflow_is_reported_with_sizes(tiny: LlamaCppModel) -> None:
    with tiny.new_session() as session:
        with pytest.raises(ContextOverflowError, match=r"300 tokens .* 256"):
            session.set_tokens([5] * 300)
        session.set_tokens([5] * 250)
        (c,) = tiny.complete([5] * 250, max_tokens=50, session=session)
        assert c.finish_reason == "length" and len(c.tokens) == 6


def test_tokenize_roundtrip_and_eos(tiny: LlamaCppModel) -> None:
    text = "def f(x):\n    return x * 2\n"
    # pieces are joined exactly: a SentencePiece model shows its dummy-prefix space
    assert tiny.detokenize(tiny.tokenize(text)) == " " + text
    assert tiny.eos_token_ids
    assert tiny.capabilities.full_vocabulary and not tiny.capabilities.chat_template
    with pytest.raises(NotImplementedError, match="no chat template"):
        tiny.apply_chat_template([{"role": "user", "content": "hi"}])


def test_closed_sessions_and_models_say_so(tiny: LlamaCppModel) -> None:
    session = tiny.new_session(tiny.tokenize("x"))
    session.close()
    session.close()
    with pytest.raises(UserError, match="closed"):
        session.next_logprobs()
    with pytest.raises(UserError, match="non-empty"):
        tiny.new_session().next_logprobs()
    model = LlamaCppModel("tiny-test", n_ctx=64)
    live = model.new_session(model.tokenize("x"))
    model.close()
    model.close()
    with pytest.raises(UserError, match="closed"):
        live.next_logprobs()
    with pytest.raises(UserError, match="closed"):
        model.tokenize("x")


def test_smollm2_chat_template_is_applied() -> None:
    with LlamaCppModel("smollm2-135m", n_ctx=512) as model:
        assert model.capabilities.chat_template
        text = model.apply_chat_template([{"role": "user", "content": "Write add."}])
        assert text.endswith("<|im_start|>assistant\n")
        assert "<|im_start|>user\nWrite add.<|im_end|>" in text
        tokens = model.tokenize(text)
        assert model.token_text(tokens[0]) == "<|im_start|>"  # parsed as a special token
        code = "def f(x):\n    return x * 2\n"
        assert model.detokenize(model.tokenize(code)) == code


def test_bad_files_and_options_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        LlamaCppModel(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        LlamaCppModel("no-such-model")
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    with pytest.raises(BackendError, match="not a GGUF file"):
        LlamaCppModel(str(not_gguf))
    truncated = tmp_path / "tiny.gguf"
    truncated.write_bytes(resolve_model_path("tiny-test").read_bytes()[:4096])
    with pytest.raises(BackendError, match=r"corrupt.*reinstall"):
        LlamaCppModel(str(truncated))
    with pytest.raises(UserError, match="n_ctx"):
        LlamaCppModel("tiny-test", n_ctx=0)


def test_batched_guided_step_is_one_decode_and_equals_separate_sessions() -> None:
    tiny = LlamaCppModel("tiny-test", n_ctx=256)
    plain = tiny.tokenize("def f(x):\n    return x", add_bos=True)
    signal = tiny.tokenize("# f(2) == 4\ndef f(x):\n    return x", add_bos=True)
    with tiny.new_session(plain) as a, tiny.new_session(signal) as b:
        tiny.next_logprobs_batch([a, b])
        for tok in (7, 70, 700):
            a.append([tok])
            b.append([tok])
            before = tiny.decode_calls
            got = tiny.next_logprobs_batch([a, b])
            assert tiny.decode_calls == before + 1  # both new tokens in one llama_decode
            for session, dist in zip((a, b), got, strict=True):
                with tiny.new_session(session.tokens) as fresh:
                    np.testing.assert_allclose(
                        dist.logprobs, fresh.next_logprobs().logprobs, atol=1e-4
                    )
        # a new signal (a long prefill) beside a one-token plain step still agrees
        b.set_tokens(tiny.tokenize("# other signal text\n" * 40, add_bos=True) + list(a.tokens))
        a.append([9])
        got = tiny.next_logprobs_batch([a, b])
        for session, dist in zip((a, b), got, strict=True):
            with tiny.new_session(session.tokens) as fresh:
                np.testing.assert_allclose(dist.logprobs, fresh.next_logprobs().logprobs, atol=1e-4)
    with pytest.raises(UserError, match="this model only"):
        tiny.next_logprobs_batch([object()])  # type: ignore[list-item]
    tiny.close()


def test_sessions_opened_together_share_a_context(tiny: LlamaCppModel) -> None:
    # whatever earlier sessions left in the pool, a pair opened together is batched
    with (
        tiny.new_session(tiny.tokenize("a = 1")) as a,
        tiny.new_session(tiny.tokenize("b = 2")) as b,
    ):
        a.next_logprobs()
        b.next_logprobs()
        a.append([5])
        b.append([6])
        before = tiny.decode_calls
        tiny.next_logprobs_batch([a, b])
        assert tiny.decode_calls == before + 1


@pytest.mark.parametrize("name", ["tiny-test", "smollm2-135m"])
def test_logprobs_are_bit_identical_however_the_context_was_evaluated(name: str) -> None:
    # Greedy decoding must not depend on what a pooled context held before: a fresh session
    # (one batch), a prefix-reused session (the rest in one batch), one token at a time, and a
    # batched pair must give the same bits (llama.cpp's CPU flash attention broke this).
    with LlamaCppModel(name, n_ctx=512) as model:
        stem = model.tokenize("def count(s):\n    n = 0\n    for c in s:\n", add_bos=True)
        tail = model.tokenize("        if c in 'aeiou':\n            n += 1\n    return")
        full = stem + tail
        with model.new_session(full) as fresh:
            expected = fresh.next_logprobs().logprobs
        with model.new_session(stem) as reused:
            reused.next_logprobs()
            reused.set_tokens(full)
            got_reused = reused.next_logprobs().logprobs
            assert reused.n_evaluated < len(full)  # the pooled cache of `fresh` was reused
        with model.new_session(full[:1]) as stepwise:
            for i in range(2, len(full) + 1):
                stepwise.set_tokens(full[:i])
                got_stepwise = stepwise.next_logprobs().logprobs
        with model.new_session(stem[:-3]) as a, model.new_session(stem) as b:
            model.next_logprobs_batch([a, b])
            a.set_tokens(full)
            b.set_tokens(full)
            got_pair = model.next_logprobs_batch([a, b])
    with LlamaCppModel(name, n_ctx=512, n_batch=5) as small, small.new_session(full) as chunked:
        got_chunked = chunked.next_logprobs().logprobs  # a long prefill in chunks of <= 5
    np.testing.assert_array_equal(got_chunked, expected)
    np.testing.assert_array_equal(got_reused, expected)
    np.testing.assert_array_equal(got_stepwise, expected)
    for dist in got_pair:
        np.testing.assert_array_equal(dist.logprobs, expected)


def test_the_faster_non_reproducible_path_still_agrees_closely() -> None:
    with LlamaCppModel("tiny-test", n_ctx=256, reproducible=False) as fast:
        tokens = fast.tokenize(PROMPT, add_bos=True)
        with fast.new_session(tokens[:-1]) as session:
            session.next_logprobs()
            session.append(tokens[-1:])
            got = session.next_logprobs().logprobs
            assert session.n_evaluated == len(tokens)  # one-token steps
    with LlamaCppModel("tiny-test", n_ctx=256) as exact, exact.new_session(tokens) as fresh:
        np.testing.assert_allclose(got, fresh.next_logprobs().logprobs, atol=1e-3)


@pytest.mark.parametrize("share", [True, False])
def test_a_new_sequence_copies_its_siblings_prefix(share: bool) -> None:
    # The signal session of a guided decoder starts with the plain session's prompt head: with
    # share_prefix it copies the sibling's KV cache instead of evaluating the head again, and
    # its log-probs are the bits of a fresh evaluation.
    with LlamaCppModel("tiny-test", n_ctx=512, share_prefix=share) as model:
        head = model.tokenize("def f(x):\n    # a long shared prompt head\n" * 12, add_bos=True)
        assert len(head) > 100
        plain_ctx = head + model.tokenize("    return x\n")
        signal_ctx = head + model.tokenize("# signal: f(1) returned 2\n    return x + 1\n")
        with model.new_session(plain_ctx) as plain, model.new_session() as signal:
            plain.next_logprobs()
            signal.set_tokens(signal_ctx)
            got = signal.next_logprobs().logprobs
            shared = common_prefix(plain_ctx, signal_ctx)
            if share:
                assert signal.n_evaluated == len(signal_ctx) - shared
                assert model.borrowed_tokens == shared
            else:
                assert signal.n_evaluated == len(signal_ctx)
                assert model.borrowed_tokens == 0
            plain.append(model.tokenize("    y = 1\n"))  # the donor goes on unchanged
            after = plain.next_logprobs().logprobs
    with LlamaCppModel("tiny-test", n_ctx=512) as fresh:
        with fresh.new_session(signal_ctx) as s:
            np.testing.assert_array_equal(got, s.next_logprobs().logprobs)
        with fresh.new_session(plain_ctx + fresh.tokenize("    y = 1\n")) as s:
            np.testing.assert_array_equal(after, s.next_logprobs().logprobs)


def test_no_copy_when_the_sibling_saves_too_little() -> None:
    with LlamaCppModel("tiny-test", n_ctx=512) as model:
        head = model.tokenize("def f(x):\n", add_bos=True)
        with model.new_session([*head, 11, 12, 13]) as a, model.new_session() as b:
            a.next_logprobs()
            b.set_tokens([*head, 14, 15])
            b.next_logprobs()
            assert model.borrowed_tokens == 0
            assert b.n_evaluated == len(head) + 2
