"""The decoder's settings: one validated, frozen model with documented defaults.

The EG-CFG knobs follow the paper's notation (Lavon, Katz & Wolf 2025): **s** candidates, sampled
at temperature **t**, **d** lines ahead, every **k**-th line, guidance strength **γ**. The paper's
reference values are s∈{2,3}, t∈{0.7,0.75,0.9,1.2}, d∈{2,3,5}, k=1, γ∈{0,0.5,1,3}, 512 new tokens;
the defaults below pick from those the values that keep a 135M model on two CPU cores fast
(s=2, d=2). The beam fields belong to the execution-scored beam of the seed document
(``Score(c) = α·log P(c | prefix) + β·E(c)``, see :mod:`beadline.agents.decoding.beam`).

Per-call overrides go through :func:`merge_settings` (overrides win, the result is validated).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from beadline.agents.errors import UserError

__all__ = ["DecoderSettings", "PromptType", "SignalStyle", "Strategy", "merge_settings"]

PromptType = Literal["fewshot", "chat", "humaneval", "auto"]
"""``fewshot``: MBPP base-model prompt with solved examples; ``chat``: the model's own chat
template with a ``def <entry_point>(`` prefill; ``humaneval``: the task's code prompt continued
as is; ``auto``: ``chat`` when the model has a chat template, else ``fewshot``."""

Strategy = Literal["cfg", "beam", "cfg+beam"]
"""``cfg``: the paper's guided token sampling; ``beam``: the execution-scored line beam;
``cfg+beam``: guided line sampling inside the scored beam."""

SignalStyle = Literal["full", "compact"]
"""``full``: per test the line trace and outcome; ``compact``: per test what it returned or
raised, a failing test's folded line path and last values."""


class DecoderSettings(BaseModel):
    """Everything :func:`beadline.agents.decoding.decode` can be told. Immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- EG-CFG (the paper's names) ---------------------------------------------------------
    s: int = Field(default=2, ge=1, le=16, description="Candidates sampled at each guided line.")
    t: float = Field(
        default=0.75, ge=0.0, le=2.0, description="Temperature of the candidates (0 = greedy)."
    )
    d: int = Field(default=2, ge=1, le=10, description="Lines each candidate looks ahead.")
    k: int = Field(default=1, ge=1, le=20, description="Guide at the start of every k-th new line.")
    gamma: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="Guidance strength γ: 0 = plain model, 1 = signal context alone.",
    )
    prompt_type: PromptType = Field(default="auto", description="Prompt form (see PromptType).")
    n_shots: int = Field(
        default=3, ge=0, le=10, description="Solved MBPP problems shown by the few-shot prompt."
    )
    strategy: Strategy = Field(default="cfg", description="Decoding strategy (see Strategy).")

    # --- execution-scored beam --------------------------------------------------------------
    beam_width: int = Field(
        default=3, ge=1, le=16, description="Beam width K (entries kept per line)."
    )
    beam_candidates: int = Field(
        default=3, ge=1, le=16, description="Line candidates M sampled per beam entry."
    )
    alpha: float = Field(
        default=1.0, ge=0.0, le=100.0, description="Weight α of log P(c | prefix)."
    )
    beta: float = Field(
        default=2.0, ge=0.0, le=100.0, description="Weight β of the execution score E(c)."
    )
    w1: float = Field(default=1.0, ge=0.0, le=100.0, description="E weight of syntax_ok.")
    w2: float = Field(default=1.0, ge=0.0, le=100.0, description="E weight of runtime_ok.")
    w3: float = Field(
        default=3.0, ge=0.0, le=100.0, description="E weight of tests_passed_fraction."
    )
    w4: float = Field(default=1.0, ge=0.0, le=100.0, description="E weight of trace_quality.")

    # --- final tokens and budgets -----------------------------------------------------------
    temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="Temperature of the chosen tokens (0 = greedy)."
    )
    top_p: float = Field(
        default=1.0, gt=0.0, le=1.0, description="Nucleus mass of the chosen tokens."
    )
    seed: int | None = Field(default=0, description="Random seed; None draws a fresh one.")
    max_new_tokens: int = Field(
        default=512, ge=1, le=8192, description="Budget of tokens written to the answer."
    )
    max_line_tokens: int = Field(
        default=64,
        ge=4,
        le=1024,
        description="Token cap of one line of a candidate or beam extension.",
    )
    time_budget_s: float | None = Field(
        default=300.0,
        gt=0.0,
        description="Wall-clock budget of one decode in seconds (None = none).",
    )
    early_stop_agreements: int = Field(
        default=4,
        ge=0,
        le=100,
        description="Stop after this many consecutive guided lines whose candidates all agree "
        "on one complete program that returns (0 = never).",
    )
    stop_after_blocks: int | None = Field(
        default=None,
        ge=1,
        description="Stop once the function body has this many more complete top-level "
        "statements than the given prefix had (the bead workflow's one body part).",
    )

    # --- execution and signal ---------------------------------------------------------------
    exec_timeout_s: float = Field(
        default=2.0, gt=0.0, le=60.0, description="Wall and CPU limit of one candidate on one test."
    )
    signal_max_chars: int = Field(
        default=1_600,
        ge=200,
        le=100_000,
        description="Characters of the dynamic signal kept (traces are cut to fit).",
    )
    trace_chars: int = Field(
        default=400, ge=50, le=20_000, description="Characters of one trace shown in the signal."
    )
    signal_style: SignalStyle = Field(
        default="full",
        description="How the dynamic signal shows the candidates' runs: ``full`` (each test's "
        "line trace, cut to fit) or ``compact`` (every candidate, one short line per test; "
        "see beadline.agents.decoding.compact_signal).",
    )

    # --- speed levers (issue 14; each measured in benchmarks/guided_decoding.py --levers) -----
    signal_after_code: bool = Field(
        default=False,
        description="Put the dynamic signal as comments after the given code (the stable "
        "part of the prompt) rather than before the answer, so only the signal and the code "
        "written are evaluated again when it changes.",
    )
    reuse_candidates: bool = Field(
        default=True,
        description="Keep the signal and skip the guidance step while the code written is "
        "still a strict prefix of a candidate already executed (its remaining lines are the "
        "next step's candidate).",
    )
    skip_plain_at_gamma_one: bool = Field(
        default=True,
        description="At γ=1 the guided token is drawn from P+S alone: the plain context is not "
        "evaluated per token (it catches up in one batch when candidates are sampled).",
    )

    def label(self) -> str:
        """A short label of the configuration, e.g. ``cfg s=2 t=0.75 d=2 k=1 γ=1``."""
        head = f"{self.strategy} s={self.s} t={self.t:g} d={self.d} k={self.k} γ={self.gamma:g}"
        if self.strategy != "cfg":
            head += f" K={self.beam_width} M={self.beam_candidates}"
        return f"{head} {self.prompt_type}"


def merge_settings(
    base: DecoderSettings | None, overrides: Mapping[str, Any] | DecoderSettings | None = None
) -> DecoderSettings:
    """Return ``base`` with ``overrides`` applied; overrides win and the result is validated.

    ``None`` values in a mapping are ignored (so CLI options left unset keep the base value),
    except for fields whose meaning includes ``None`` when the key is given explicitly in a
    :class:`DecoderSettings`.

    Args:
        base: the starting settings (``None`` = the defaults).
        overrides: a mapping of field names to values, or another settings object whose
            explicitly set fields win.

    Returns:
        New validated settings.

    Raises:
        UserError: an unknown field or an out-of-range value; the message names it.

    Example:
        >>> merge_settings(DecoderSettings(), {"s": 3, "gamma": None}).s
        3
    """
    start = base if base is not None else DecoderSettings()
    if overrides is None:
        return start
    if isinstance(overrides, DecoderSettings):
        update = {name: getattr(overrides, name) for name in overrides.model_fields_set}
    else:
        update = {key: value for key, value in overrides.items() if value is not None}
    try:
        return DecoderSettings.model_validate({**start.model_dump(), **update})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            f" (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise UserError(f"invalid decoder settings: {problems}") from None
