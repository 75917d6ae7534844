"""load_model / list_backends: every backend by name, clear errors for bad names and options."""

from __future__ import annotations

import pytest

from beadline.agents.errors import BackendError, ModelNotFoundError, UserError
from beadline.agents.models import loader
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.agents.models.loader import list_backends, load_model


def test_default_backend_opens_a_packaged_model() -> None:
    with load_model("tiny-test", n_ctx=64) as model:
        assert isinstance(model, LlamaCppModel) and model.n_ctx == 64
    with load_model() as default:
        assert default.name.startswith("SmolLM2")


def test_list_backends_names_and_availability() -> None:
    infos = list_backends()
    assert [b.name for b in infos] == ["llama_cpp", "transformers", "openai"]
    assert infos[0].available and all(b.install for b in infos)


def test_unknown_backend_model_and_option() -> None:
    with pytest.raises(UserError, match=r"unknown backend 'vllm': use one of llama_cpp"):
        load_model("tiny-test", backend="vllm")
    with pytest.raises(ModelNotFoundError, match="unknown model 'nope'"):
        load_model("nope")
    with pytest.raises(UserError, match=r"does not take 'temperature'.*n_ctx"):
        load_model("tiny-test", temperature=0.3)


def test_missing_backend_packages_name_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = loader.importlib.util.find_spec

    def fake(name: str, *args: object) -> object:
        return None if name == "torch" else real(name)

    monkeypatch.setattr(loader.importlib.util, "find_spec", fake)
    with pytest.raises(BackendError, match=r"needs torch.*pip install torch==2.13.0"):
        load_model("tiny-test", backend="transformers")
