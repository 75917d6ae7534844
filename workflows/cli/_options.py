"""Click options shared by several commands (one definition, one help text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from beadline.agents.models.choice import BACKEND_NAMES, ModelChoice, model_choice

__all__ = ["BACKEND_CHOICE", "choice_from", "grid_rounds_option", "model_options"]

F = TypeVar("F", bound=Callable[..., Any])

grid_rounds_option = click.option(
    "--grid-rounds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="egcfg: passes over the grid, new seeds each pass, while the task's time budget lasts.",
)
"""``--grid-rounds N`` → ``grid_rounds`` (:func:`beadline.agents.search.repeat_grid`)."""

BACKEND_CHOICE = click.Choice(list(BACKEND_NAMES))
"""The model backends, a fixed list (``llama_cpp``, ``transformers``, ``openai``)."""


def model_options(*, defaults: bool = True, scripted: bool = False) -> Callable[[F], F]:
    """``-m/--model``, ``--backend``, ``--base-url``, ``--api-key-env`` →
    ``model``, ``backend``, ``base_url``, ``api_key_env`` (build one with :func:`choice_from`).

    Args:
        defaults: Give the options their defaults and environment variables (``BEADLINE_MODEL``,
            ``BEADLINE_BACKEND``, ``OPENAI_BASE_URL``); off for ``resume``, where a missing
            option keeps what the thread was started with.
        scripted: Mention ``scripted:FILE.yaml`` (bead commands).
    """
    model_help = "Packaged model name, .gguf path, HF directory, or the server's model id"
    model_help += ", or scripted:FILE.yaml" if scripted else ""
    keep = " [default: as the run was started]"
    options = [
        click.option(
            "-m",
            "--model",
            "model",
            default=None,
            envvar="BEADLINE_MODEL" if defaults else None,
            help=model_help
            + (" [default: smollm2-135m; env BEADLINE_MODEL]." if defaults else keep),
        ),
        click.option(
            "--backend",
            "backend",
            type=BACKEND_CHOICE,
            default="llama_cpp" if defaults else None,
            show_default=defaults,
            envvar="BEADLINE_BACKEND" if defaults else None,
            help="Model backend." + ("" if defaults else keep),
        ),
        click.option(
            "--base-url",
            "base_url",
            default=None,
            envvar="OPENAI_BASE_URL" if defaults else None,
            help="--backend openai: the server's URL, e.g. http://127.0.0.1:8000/v1"
            + (" [env OPENAI_BASE_URL]." if defaults else "."),
        ),
        click.option(
            "--api-key-env",
            "api_key_env",
            default=None,
            metavar="VAR",
            help="--backend openai: the NAME of the environment variable holding the API key "
            "(the key is never stored) [default: OPENAI_API_KEY if set].",
        ),
    ]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def choice_from(
    model: str | None, backend: str | None, base_url: str | None, api_key_env: str | None
) -> ModelChoice:
    """The :class:`ModelChoice` of the options (a bad combination: a one-line usage error)."""
    from beadline.validators.errors import UserError

    try:
        return model_choice(model, backend or "llama_cpp", base_url, api_key_env)
    except UserError as exc:
        raise click.UsageError(str(exc)) from None
