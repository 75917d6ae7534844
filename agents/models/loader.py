"""One entry point that opens a model on any backend: :func:`load_model`.

Backends load lazily (``transformers`` imports torch only when asked for), and a backend whose
extra is not installed says which command installs it.

Example:
    >>> with load_model("tiny-test", n_ctx=128) as model:
    ...     model.capabilities.full_vocabulary
    True
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beadline.agents.errors import BackendError, UserError
from beadline.agents.models.base import Model
from beadline.agents.models.registry import DEFAULT_MODEL

__all__ = ["DEFAULT_BACKEND", "BackendInfo", "list_backends", "load_model"]

DEFAULT_BACKEND = "llama_cpp"


@dataclass(frozen=True, kw_only=True)
class BackendInfo:
    """A model backend and whether this machine can use it."""

    name: str
    """The name :func:`load_model` takes (``llama_cpp``, ``transformers``, ``openai``)."""
    target: str
    """``module:Class`` implementing it."""
    description: str
    """One line for help texts."""
    requires: tuple[str, ...]
    """Import names it needs."""
    install: str
    """The command that installs what it needs."""
    model_argument: str
    """What ``name_or_path`` means for this backend."""

    @property
    def available(self) -> bool:
        """True when every required package can be imported (nothing is imported to check)."""
        return all(importlib.util.find_spec(m) is not None for m in self.requires)


_BACKENDS: dict[str, BackendInfo] = {
    b.name: b
    for b in (
        BackendInfo(
            name="llama_cpp",
            target="beadline.agents.models.llama_cpp:LlamaCppModel",
            description="GGUF files through llama.cpp on the CPU (default)",
            requires=("llama_cpp",),
            install="pip install llama-cpp-python==0.3.36 (or make setup)",
            model_argument="a packaged model name or a .gguf path",
        ),
        BackendInfo(
            name="transformers",
            target="beadline.agents.models.transformers:TransformersModel",
            description="Hugging Face transformers on CPU or CUDA (GGUF or a local directory)",
            requires=("torch", "transformers", "gguf"),
            install="pip install torch==2.13.0 && pip install 'beadline[hf]'",
            model_argument="a packaged model name, a .gguf path or a local model directory",
        ),
        BackendInfo(
            name="openai",
            target="beadline.agents.models.openai:OpenAIModel",
            description="an OpenAI-compatible server (vLLM, llama_cpp.server, hosted APIs)",
            requires=("openai",),
            install="pip install openai",
            model_argument="the server's model id (default: the only model it serves)",
        ),
    )
}


def list_backends() -> list[BackendInfo]:
    """Every backend, default first."""
    return list(_BACKENDS.values())


def _backend(name: str) -> BackendInfo:
    try:
        return _BACKENDS[name]
    except KeyError:
        known = ", ".join(_BACKENDS)
        raise UserError(f"unknown backend {name!r}: use one of {known}") from None


def load_model(
    name_or_path: str | Path | None = None, *, backend: str = DEFAULT_BACKEND, **options: Any
) -> Model:
    """Open a model on a backend.

    Args:
        name_or_path: what the backend loads (see :func:`list_backends`): a packaged model
            name (``smollm2-135m``, ``tiny-test``, ``gemma3-270m``), a ``.gguf`` path, a local
            transformers directory, or — for ``openai`` — the server's model id. ``None``:
            ``smollm2-135m`` locally, the only model the server serves for ``openai``.
        backend: ``llama_cpp`` (default), ``transformers`` or ``openai``.
        **options: keyword arguments of the backend's class (e.g. ``n_ctx``, ``n_threads``
            for llama.cpp; ``base_url``, ``endpoint``, ``top_logprobs`` for openai; ``device``
            for transformers).

    Returns:
        An open :class:`Model`; close it (or use it as a context manager) when done.

    Raises:
        UserError: unknown backend, or an option the backend does not take.
        BackendError: the backend's packages are missing (the message says what to install).
        ModelNotFoundError: the model name or file cannot be resolved.
    """
    info = _backend(backend)
    if not info.available:
        missing = [m for m in info.requires if importlib.util.find_spec(m) is None]
        raise BackendError(
            f"backend {backend!r} needs {', '.join(missing)}, which is not installed: "
            f"{info.install}"
        )
    module_name, cls_name = info.target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    params = inspect.signature(cls.__init__).parameters
    accepted = [p for p in params if p not in ("self", "name_or_path", "model")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UserError(
            f"backend {backend!r} does not take {', '.join(map(repr, unknown))}: "
            f"its options are {', '.join(accepted)}"
        )
    if backend == "openai":
        target = str(name_or_path) if name_or_path else None
    else:
        target = str(name_or_path) if name_or_path is not None else DEFAULT_MODEL
    model: Model = cls(target, **options)
    return model
