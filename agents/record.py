"""The decoding record: why each line of the program was written.

A :class:`DecodeRecord` keeps, for every line the decoder wrote, the tokens chosen with their
plain and guided probabilities and, for guided lines, the candidates sampled, their executable
partial programs, the per-test status and trace, and the dynamic-signal text the model saw. Beam
runs add, per line, every scored candidate with the parts of its score. Records are JSON
(:meth:`DecodeRecord.to_json` / :meth:`DecodeRecord.from_json`) and ``beadline show`` renders
them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RECORD_VERSION",
    "BeamCandidateRecord",
    "BeamStepRecord",
    "CandidateRecord",
    "DecodeRecord",
    "GuidedStepRecord",
    "LineRecord",
    "TestRecord",
    "TokenRecord",
]

RECORD_VERSION = 1
"""Bumped when the record's shape changes incompatibly."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TestRecord(_Frozen):
    """One test case run of one candidate."""

    __test__ = False  # not a pytest class

    name: str = Field(description="The test (its assert line).")
    status: str = Field(description="passed / failed / error / timeout / killed.")
    outcome: str = Field(default="", description="One line: 'failed: expected 4, got 5'.")
    return_repr: str | None = Field(default=None, description="repr of the call's value.")
    trace: str = Field(default="", description="The trace text as shown in the signal.")


class CandidateRecord(_Frozen):
    """One sampled candidate continuation at a guided line."""

    text: str = Field(description="The sampled continuation (d lines ahead).")
    program: str | None = Field(
        default=None, description="Its executable partial program (None: nothing executable)."
    )
    complete: bool = Field(
        default=False, description="The candidate reached the end of the function."
    )
    cached: bool = Field(
        default=False, description="The program had run before; the result was reused."
    )
    duplicate: bool = Field(
        default=False, description="Same program as an earlier candidate of the line."
    )
    tests: tuple[TestRecord, ...] = Field(default=(), description="Per-test results.")


class GuidedStepRecord(_Frozen):
    """What happened at the start of a guided line."""

    candidates: tuple[CandidateRecord, ...] = Field(
        default=(), description="Candidates in sample order."
    )
    signal: str = Field(default="", description="The dynamic-signal text inserted into P+S.")
    agreements: int = Field(default=0, description="Consecutive agreement count after this step.")
    note: str = Field(default="", description="Anything unusual (no tests, all timed out, ...).")


class TokenRecord(_Frozen):
    """One chosen token."""

    text: str = Field(description="The token's text.")
    id: int = Field(description="The token id.")
    p_plain: float | None = Field(default=None, description="p(token | P), when known.")
    p_guided: float | None = Field(default=None, description="p_guided(token), when guided.")
    plain_top: str | None = Field(
        default=None, description="The plain model's top token when it differs from the chosen one."
    )


class LineRecord(_Frozen):
    """One line of the answer, as written."""

    index: int = Field(description="0-based index among the generated lines.")
    text: str = Field(description="The line's text (without the newline).")
    guided: GuidedStepRecord | None = Field(
        default=None, description="The guidance step before it."
    )
    tokens: tuple[TokenRecord, ...] = Field(default=(), description="Tokens chosen on this line.")


class BeamCandidateRecord(_Frozen):
    """One scored extension of a beam entry."""

    parent: int = Field(description="Index of the beam entry it extends.")
    line: str = Field(description="The candidate line.")
    logp: float = Field(description="log P of the entry's whole code including this line.")
    syntax_ok: float = Field(
        default=0.0, description="1 if the code (completed minimally) compiles."
    )
    runtime_ok: float = Field(
        default=0.0, description="Fraction of tests that ran without exception."
    )
    tests_passed: float = Field(default=0.0, description="Fraction of tests passed.")
    trace_quality: float = Field(
        default=0.0, description="Fraction of test calls that returned a value other than None."
    )
    static_ok: float | None = Field(
        default=None,
        description="No undefined names (used instead of the tests when there are none).",
    )
    e: float = Field(default=0.0, description="The execution score E.")
    score: float = Field(default=0.0, description="α·logP + β·E.")
    kept: bool = Field(default=False, description="Kept in the beam (or finished).")
    finished: bool = Field(default=False, description="The entry ended the function.")


class BeamStepRecord(_Frozen):
    """One line of the beam."""

    index: int = Field(description="0-based line index.")
    candidates: tuple[BeamCandidateRecord, ...] = Field(
        default=(), description="All scored candidates."
    )


class DecodeRecord(_Frozen):
    """A whole decoding run."""

    version: int = Field(default=RECORD_VERSION, description="Record format version.")
    task_id: str = Field(description="The task.")
    entry_point: str = Field(description="The function written.")
    model: str = Field(default="", description="The model's name.")
    settings: dict[str, Any] = Field(default_factory=dict, description="DecoderSettings used.")
    prompt_type: str = Field(default="", description="The prompt form used.")
    prompt: str = Field(default="", description="The plain prompt text (without the signal).")
    program_prefix: str = Field(default="", description="Code given to the model to continue.")
    lines: tuple[LineRecord, ...] = Field(default=(), description="Lines written (cfg).")
    beam: tuple[BeamStepRecord, ...] = Field(default=(), description="Beam steps (beam, cfg+beam).")
    program: str = Field(default="", description="The final program.")
    status: str = Field(default="", description="How the run ended (a SolveStatus).")
    stop_reason: str = Field(
        default="", description="function_end, eos, stop, early_stop, budget ..."
    )
    message: str = Field(default="", description="One line on what happened.")
    overfit: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="The overfit guard's findings on the final program (kind, line, test, "
        "detail): it passed the visible tests by copying their expected values, so it is "
        "not solved.",
    )
    cost: dict[str, float] = Field(default_factory=dict, description="The run's Cost.")

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DecodeRecord:
        """Inverse of :meth:`to_json`.

        Raises:
            pydantic.ValidationError: ``data`` is not a record.
        """
        return cls.model_validate(data)
