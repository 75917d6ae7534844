"""One way to pick a model, shared by every entry point: :class:`ModelChoice`.

The CLI (``--model/--backend/--base-url/--api-key-env``), the bead service (which stores the
choice with a thread, so a resumed run uses the same model) and the MCP server all build a
:class:`ModelChoice` and open it with :meth:`ModelChoice.load`. The API key itself is never
stored: only the *name* of the environment variable that holds it.

Example:
    >>> choice = ModelChoice(model="tiny-test")
    >>> choice.describe()
    'tiny-test (llama_cpp)'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from beadline.agents.errors import UserError
from beadline.agents.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from beadline.agents.models.base import Model

__all__ = ["BACKEND_NAMES", "SCRIPTED_PREFIX", "BackendName", "ModelChoice", "model_choice"]

BackendName = Literal["llama_cpp", "transformers", "openai"]
"""The model backends (:func:`beadline.agents.models.loader.list_backends`)."""

BACKEND_NAMES: tuple[str, ...] = get_args(BackendName)
"""The backend names in the order the CLI lists them (default first)."""

SCRIPTED_PREFIX = "scripted:"
"""``scripted:FILE.yaml`` names a scripted stage generator of the bead workflow, not a model."""


class ModelChoice(BaseModel):
    """Which model to run, on which backend, reached how.

    Frozen and JSON-serialisable (``model_dump(mode="json")``), so it can be stored with a run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        default=None,
        description="A packaged model name, a .gguf path, a transformers directory, the "
        "server's model id (openai), or scripted:FILE.yaml (bead workflow only). None: the "
        f"default ({DEFAULT_MODEL} locally, the only model the server serves for openai).",
    )
    backend: BackendName = Field(default="llama_cpp", description="The model backend.")
    base_url: str | None = Field(
        default=None, description="The OpenAI-compatible server's URL (backend openai only)."
    )
    api_key_env: str | None = Field(
        default=None,
        description="The NAME of the environment variable holding the API key (backend "
        "openai only); the key itself is never stored.",
    )

    @field_validator("model", "base_url", "api_key_env", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"--base-url {value!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1"
            )
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not (value.replace("_", "a").isalnum() and value[0].isalpha()):
            raise ValueError(
                f"--api-key-env {value!r} is not an environment variable name; pass the "
                "variable's NAME (e.g. OPENAI_API_KEY), not the key"
            )
        return value

    @model_validator(mode="after")
    def _openai_only(self) -> ModelChoice:
        if self.backend != "openai":
            for name, flag in (("base_url", "--base-url"), ("api_key_env", "--api-key-env")):
                if getattr(self, name) is not None:
                    raise ValueError(f"{flag} is only for --backend openai (got {self.backend})")
        if self.is_scripted and self.backend != "llama_cpp":
            raise ValueError(
                f"{self.model} is a scripted generator, not a model: drop --backend {self.backend}"
            )
        return self

    @property
    def is_scripted(self) -> bool:
        """True for ``scripted:FILE.yaml`` (a bead stage script, not a model)."""
        return bool(self.model and self.model.startswith(SCRIPTED_PREFIX))

    def describe(self) -> str:
        """One line for people: ``smollm2-135m (llama_cpp)``, ``qwen (openai at URL)``."""
        name = self.model or (DEFAULT_MODEL if self.backend != "openai" else "the server's model")
        if self.is_scripted:
            return name
        where = f" at {self.base_url}" if self.base_url else ""
        return f"{name} ({self.backend}{where})"

    def anchored(self, base: Path) -> ModelChoice:
        """The same choice with a relative model *file* (a ``.gguf``, a directory, a script)
        made absolute against ``base``, so the choice means the same from any directory."""
        if not self.model or self.backend == "openai":
            return self
        raw = self.model.removeprefix(SCRIPTED_PREFIX) if self.is_scripted else self.model
        path = Path(raw).expanduser()
        if path.is_absolute() or not (base / path).exists():
            return self
        resolved = str((base / path).resolve())
        return self.model_copy(
            update={"model": SCRIPTED_PREFIX + resolved if self.is_scripted else resolved}
        )

    def override(
        self,
        *,
        model: str | None = None,
        backend: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = None,
    ) -> ModelChoice:
        """This choice with the given fields replaced (``None``: keep). Changing the backend
        away from ``openai`` drops the server fields that were not given again.

        Raises:
            UserError: the result is not a valid choice (see :func:`model_choice`).
        """
        fields = self.model_dump()
        if backend is not None and backend != self.backend:
            fields.update(base_url=None, api_key_env=None)
        given = {
            "model": model,
            "backend": backend,
            "base_url": base_url,
            "api_key_env": api_key_env,
        }
        fields.update({k: v for k, v in given.items() if v is not None})
        return model_choice(**fields)

    def api_key(self, environ: Mapping[str, str]) -> str | None:
        """The API key from ``environ[api_key_env]`` (``None`` without ``api_key_env``).

        Raises:
            UserError: the variable is named but not set.
        """
        if self.api_key_env is None:
            return None
        key = environ.get(self.api_key_env, "")
        if not key:
            raise UserError(
                f"environment variable {self.api_key_env} (--api-key-env) is not set; export "
                f"{self.api_key_env}=<key> before running, or drop --api-key-env for a local server"
            )
        return key

    def load(self, environ: Mapping[str, str] | None = None, **options: Any) -> Model:
        """Open the model (:func:`beadline.agents.models.loader.load_model`).

        Args:
            environ: Where ``api_key_env`` is looked up (default ``os.environ``).
            **options: Further keyword arguments of the backend's class.

        Raises:
            UserError: a scripted choice (not a model), or the key's variable is not set.
            BackendError: the backend's packages are missing.
            ModelNotFoundError: the model cannot be resolved.
        """
        from beadline.agents.models.loader import load_model

        if self.is_scripted:
            raise UserError(
                f"{self.model} is a scripted bead generator, not a model; use it with "
                "`beadline bead`, or pass a model name"
            )
        if self.backend == "openai":
            key = self.api_key(os.environ if environ is None else environ)
            if self.base_url is not None:
                options.setdefault("base_url", self.base_url)
            if key is not None:
                options.setdefault("api_key", key)
        return load_model(self.model, backend=self.backend, **options)


def model_choice(
    model: str | None = None,
    backend: str = "llama_cpp",
    base_url: str | None = None,
    api_key_env: str | None = None,
) -> ModelChoice:
    """Build a :class:`ModelChoice`, turning a validation error into a one-line ``UserError``.

    Raises:
        UserError: an unknown backend, a flag that needs ``--backend openai``, a bad URL or
            variable name; the message names the fix.
    """
    try:
        return ModelChoice.model_validate(
            {"model": model, "backend": backend, "base_url": base_url, "api_key_env": api_key_env}
        )
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["loc"] == ("backend",):
                message = f"unknown backend {backend!r}: use one of {', '.join(BACKEND_NAMES)}"
            problems.append(message)
        raise UserError("; ".join(problems)) from None
