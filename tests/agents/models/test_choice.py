"""ModelChoice: one validated way to name a model, its backend and its server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beadline.agents.errors import UserError
from beadline.agents.models import loader
from beadline.agents.models.choice import BACKEND_NAMES, ModelChoice, model_choice


def test_the_backend_list_is_the_loader_s() -> None:
    assert list(BACKEND_NAMES) == [b.name for b in loader.list_backends()]


def test_defaults_describe_and_json_round_trip() -> None:
    choice = ModelChoice()
    assert choice.describe() == "smollm2-135m (llama_cpp)"
    remote = model_choice("qwen", "openai", "http://127.0.0.1:8000/v1", "MY_KEY")
    assert remote.describe() == "qwen (openai at http://127.0.0.1:8000/v1)"
    assert ModelChoice.model_validate(remote.model_dump(mode="json")) == remote
    assert model_choice(None, "openai").describe() == "the server's model (openai)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("m", "vllm"), "unknown backend 'vllm': use one of llama_cpp, transformers, openai"),
        (
            ("m", "llama_cpp", "http://x/v1"),
            "--base-url is only for --backend openai (got llama_cpp)",
        ),
        (
            ("m", "transformers", None, "KEY"),
            "--api-key-env is only for --backend openai (got transformers)",
        ),
        (
            ("m", "openai", "localhost:8000"),
            "--base-url 'localhost:8000' is not an http(s) URL; e.g. http://127.0.0.1:8000/v1",
        ),
        (
            ("m", "openai", None, "sk-abc123!"),
            "--api-key-env 'sk-abc123!' is not an environment variable name; pass the "
            "variable's NAME (e.g. OPENAI_API_KEY), not the key",
        ),
        (
            ("scripted:s.yaml", "openai"),
            "scripted:s.yaml is a scripted generator, not a model: drop --backend openai",
        ),
    ],
)
def test_bad_choices_are_one_line_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(UserError) as caught:
        model_choice(*args)
    assert str(caught.value) == message


def test_override_keeps_what_is_not_given_and_drops_server_fields_with_the_backend() -> None:
    remote = model_choice("qwen", "openai", "http://h:1/v1", "KEY")
    assert remote.override(model="other") == model_choice("other", "openai", "http://h:1/v1", "KEY")
    local = remote.override(backend="llama_cpp", model="tiny-test")
    assert local == ModelChoice(model="tiny-test")
    with pytest.raises(UserError, match="only for --backend openai"):
        remote.override(backend="llama_cpp", base_url="http://h:1/v1")


def test_anchored_makes_relative_files_absolute(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"")
    (tmp_path / "s.yaml").write_text("{}")
    assert ModelChoice(model="m.gguf").anchored(tmp_path).model == str(tmp_path / "m.gguf")
    assert ModelChoice(model="scripted:s.yaml").anchored(tmp_path).model == (
        f"scripted:{tmp_path / 's.yaml'}"
    )
    assert ModelChoice(model="smollm2-135m").anchored(tmp_path).model == "smollm2-135m"
    served = model_choice("m.gguf", "openai")
    assert served.anchored(tmp_path) == served  # a server's model id, not a file


def test_load_passes_url_and_the_key_from_the_named_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, str, dict[str, Any]]] = []

    def fake(name: Any, *, backend: str, **options: Any) -> str:
        calls.append((name, backend, options))
        return "model"

    monkeypatch.setattr(loader, "load_model", fake)
    choice = model_choice("qwen", "openai", "http://h:1/v1", "MY_KEY")
    assert choice.load({"MY_KEY": "secret"}) == "model"
    assert calls == [("qwen", "openai", {"base_url": "http://h:1/v1", "api_key": "secret"})]
    with pytest.raises(UserError) as caught:
        choice.load({})
    assert str(caught.value) == (
        "environment variable MY_KEY (--api-key-env) is not set; export MY_KEY=<key> before "
        "running, or drop --api-key-env for a local server"
    )
    with pytest.raises(UserError, match="is a scripted bead generator, not a model"):
        ModelChoice(model="scripted:x.yaml").load({})
    assert "secret" not in choice.model_dump_json()
