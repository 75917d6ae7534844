"""The transformers backend: same GGUF as llama.cpp, batched sessions, clear errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from beadline.agents.errors import BackendError, ModelNotFoundError
from beadline.agents.models.llama_cpp import LlamaCppModel

PROMPTS = ["def add(a, b):\n    return", "import numpy as np\n", "for i in range(10):\n   "]


@pytest.fixture(scope="module")
def hf() -> Iterator[object]:
    pytest.importorskip("torch", reason="the transformers backend needs the `hf` extra")
    from beadline.agents.models.transformers import TransformersModel

    with TransformersModel("tiny-test", device="cpu") as model:
        yield model


@pytest.mark.slow
def test_same_gguf_gives_the_same_top1_as_llama_cpp(hf: object) -> None:
    from beadline.agents.models.transformers import TransformersModel

    assert isinstance(hf, TransformersModel)
    with LlamaCppModel("tiny-test") as ref:
        for prompt in PROMPTS:
            tokens = ref.tokenize(prompt, add_bos=True)
            assert hf.tokenize(prompt, add_bos=True) == tokens
            want = ref.new_session(tokens).next_logprobs()
            got = hf.new_session(tokens).next_logprobs()
            assert got.top(1)[0][0] == want.top(1)[0][0]
            np.testing.assert_allclose(got.logprobs, want.logprobs, atol=1e-3)


@pytest.mark.slow
def test_batched_sessions_equal_fresh_evaluations_in_one_pass(hf: object) -> None:
    from beadline.agents.models.transformers import TransformersModel

    assert isinstance(hf, TransformersModel)
    plain = hf.tokenize("def f(x):\n    return x", add_bos=True)
    signal = hf.tokenize("# trace: f(2) -> 4\ndef f(x):\n    return x", add_bos=True)
    a, b = hf.new_session(plain), hf.new_session(signal)
    hf.next_logprobs_batch([a, b])
    for tok in (3, 17, 99):
        a.append([tok])
        b.append([tok])
        before = hf.forward_passes
        got = hf.next_logprobs_batch([a, b])
        assert hf.forward_passes == before + 1  # both contexts in one forward pass
        for session, dist in zip((a, b), got, strict=True):
            fresh = hf.new_session(session.tokens).next_logprobs()
            np.testing.assert_allclose(dist.logprobs, fresh.logprobs, atol=1e-4)
    # rewinding reuses the cached prefix and still agrees with a fresh evaluation
    evaluated = a.n_evaluated
    a.rewind(len(plain))
    np.testing.assert_allclose(
        a.next_logprobs().logprobs,
        hf.new_session(plain).next_logprobs().logprobs,
        atol=1e-4,
    )
    assert a.n_evaluated == evaluated + 1
    (c,) = hf.complete(plain, max_tokens=5)
    assert len(c.tokens) == 5 and hf.detokenize(c.tokens) == c.text


@pytest.mark.gpu
@pytest.mark.slow
def test_cuda_matches_cpu() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA GPU")
    from beadline.agents.models.transformers import TransformersModel

    with (
        TransformersModel("tiny-test", device="cpu") as cpu,
        TransformersModel("tiny-test", device="cuda") as gpu,
    ):
        for prompt in PROMPTS:
            tokens = cpu.tokenize(prompt, add_bos=True)
            a, b = gpu.new_session(tokens), gpu.new_session(tokens[:-1])
            got = gpu.next_logprobs_batch([a, b])
            np.testing.assert_allclose(
                got[0].logprobs, cpu.new_session(tokens).next_logprobs().logprobs, atol=1e-3
            )


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from beadline.agents.models.transformers import TransformersModel

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendError, match=r"hf.*pip install torch==2.13.0"):
        TransformersModel("tiny-test")


def test_bad_model_paths(tmp_path: Path) -> None:
    from beadline.agents.models.transformers import TransformersModel

    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        TransformersModel(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="never downloaded"):
        TransformersModel("some-org/some-hub-model-name-without-a-dir")
    with pytest.raises(ModelNotFoundError, match="not a file"):
        TransformersModel(str(tmp_path), gguf_file="x.gguf")
