"""``beadline generate``: continue a prompt, optionally guided by a signal text.

What "signal" means for a raw prompt: the *plain* context is the prompt; the *signal* context is
the signal text followed by the prompt (a newline is put between them when the signal does not
end with one). With ``--chat`` both are wrapped in the model's chat template as one user message,
the signal text first. Each token is then drawn from
``log p(x|prompt) + γ·(log p(x|signal+prompt) − log p(x|prompt))`` — exactly the EG-CFG step,
with a fixed signal instead of execution traces. ``--show-guidance`` prints, for every step, the
top tokens under the plain context, the signal context and after guidance, so a person can see
what guidance changed.
"""

from __future__ import annotations

import math
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from beadline.agents.decoding import GuidedGeneration, generate_guided
from beadline.agents.decoding.guidance import check_gamma
from beadline.agents.models.base import Model, SamplingParams
from beadline.agents.models.loader import DEFAULT_BACKEND, load_model
from beadline.validators.errors import BeadlineError
from beadline.workflows.cli._options import BACKEND_CHOICE

__all__ = ["generate", "signal_context"]


def signal_context(signal: str, prompt: str) -> str:
    """The signal context of a raw prompt: the signal text, a newline if needed, the prompt.

    Example:
        >>> signal_context("# f(2) == 4", "def f(x):")
        '# f(2) == 4\\ndef f(x):'
    """
    if not signal:
        return prompt
    return signal + ("" if signal.endswith("\n") else "\n") + prompt


def _contexts(
    model: Model, prompt: str, signal: str | None, chat: bool
) -> tuple[list[int], list[int] | None]:
    def render(text: str) -> str:
        if not chat:
            return text
        try:
            return model.apply_chat_template([{"role": "user", "content": text}])
        except NotImplementedError as exc:
            raise click.UsageError(f"--chat: {exc}") from None

    plain = model.tokenize(render(prompt), add_bos=True)
    if signal is None:
        return plain, None
    sig = signal + "\n\n" + prompt if chat else signal_context(signal, prompt)
    return plain, model.tokenize(render(sig), add_bos=True)


def _fmt(model: Model, pairs: tuple[tuple[int, float], ...], i: int) -> str:
    if i >= len(pairs):
        return ""
    tok, lp = pairs[i]
    return f"{model.token_text(tok)!r} {math.exp(lp):.3f}"


def _print_steps(console: Console, model: Model, result: GuidedGeneration, gamma: float) -> None:
    for n, step in enumerate(result.steps, 1):
        table = Table(
            title=f"step {n}: chose {model.token_text(step.token)!r}",
            title_justify="left",
            show_edge=False,
        )
        table.add_column("#", justify="right")
        table.add_column("plain p(x|P)")
        if step.signal_top:
            table.add_column("signal p(x|P+S)")
            table.add_column(f"guided (γ={gamma:g})")
        rows = max(len(step.plain_top), len(step.signal_top), len(step.guided_top))
        for i in range(rows):
            cells = [str(i + 1), _fmt(model, step.plain_top, i)]
            if step.signal_top:
                cells += [_fmt(model, step.signal_top, i), _fmt(model, step.guided_top, i)]
            table.add_row(*cells)
        console.print(table)


@click.command()
@click.option("-m", "--model", "model_name", default=None, help="Model name or path.")
@click.option("-p", "--prompt", required=True, help="The text to continue.")
@click.option("-s", "--signal", default=None, help="Signal text placed before the prompt.")
@click.option(
    "-g", "--gamma", type=float, default=None, help="Guidance strength (default 1 with --signal)."
)
@click.option("-n", "--max-tokens", type=click.IntRange(min=0), default=64, show_default=True)
@click.option("-t", "--temperature", type=float, default=0.0, show_default=True, help="0 = greedy.")
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of the sampler.")
@click.option("--stop", multiple=True, help="Stop sequence (repeatable).")
@click.option(
    "-b",
    "--backend",
    type=BACKEND_CHOICE,
    default=DEFAULT_BACKEND,
    show_default=True,
)
@click.option("--base-url", envvar="OPENAI_BASE_URL", default=None, help="openai backend URL.")
@click.option("--api-key", envvar="OPENAI_API_KEY", default=None, help="openai backend key.")
@click.option("--chat", is_flag=True, help="Wrap the prompt in the model's chat template.")
@click.option("--show-guidance", is_flag=True, help="Print the top tokens of every step.")
@click.option("--top", type=click.IntRange(1, 50), default=5, show_default=True)
def generate(
    model_name: str | None,
    prompt: str,
    signal: str | None,
    gamma: float | None,
    max_tokens: int,
    temperature: float,
    top_p: float,
    seed: int | None,
    stop: tuple[str, ...],
    backend: str,
    base_url: str | None,
    api_key: str | None,
    chat: bool,
    show_guidance: bool,
    top: int,
) -> None:
    """Continue PROMPT with a model, optionally guided by a SIGNAL text.

    The signal context is the signal text, a newline, then the prompt (with --chat: one user
    message, signal first). Tokens come from log p(x|P) + γ·(log p(x|P+S) − log p(x|P)).
    """
    if gamma is not None and signal is None:
        raise click.UsageError("--gamma needs --signal (the text that guides the prompt)")
    g = check_gamma(1.0 if gamma is None else gamma)
    params = SamplingParams(temperature=temperature, top_p=top_p, seed=seed)
    options: dict[str, Any] = {}
    if backend == "openai":
        options = {"base_url": base_url, "api_key": api_key}
        if chat:
            options["endpoint"] = "chat"
    console = Console(highlight=False)
    with load_model(model_name, backend=backend, **options) as model:
        plain, sig = _contexts(model, prompt, signal, chat)
        if not model.capabilities.logprobs:
            # γ = 1 (or no signal) needs no logprobs: one completion request
            if sig is not None and g != 1.0:
                raise BeadlineError(
                    f"this server returns no logprobs: use --gamma 1 or a server that does "
                    f"(asked for γ={g:g})"
                )
            context = sig if sig is not None else plain
            (done,) = model.complete(context, params=params, max_tokens=max_tokens, stop=stop)
            click.echo(done.text)
            return
        result = generate_guided(
            model,
            plain,
            sig,
            gamma=g,
            params=params,
            max_tokens=max_tokens,
            stop=stop,
            top=top if show_guidance else 0,
        )
        if show_guidance:
            _print_steps(console, model, result, g)
            console.rule(f"continuation ({len(result.tokens)} tokens, {result.finish_reason})")
        click.echo(result.text)
