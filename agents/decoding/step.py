"""One guidance step: sample candidates, make executable partial programs, run them, render
the signal (DESIGN.md §1, step 2).

:func:`guidance_step` samples ``s`` candidate continuations ``d`` lines ahead, cuts each at the
function's end, turns it into its executable partial program (:func:`executable`), runs the
distinct ones on the visible tests through the execution cache, and renders the dynamic signal
from their traces. It also tells the loop whether the candidates agree on one complete program,
and which complete candidate (if any) already passes every visible test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from beadline.agents._code import _def_re, function_end
from beadline.agents.decoding.cache import ExecutionCache, exec_limits
from beadline.agents.decoding.compact_signal import render_compact_signal
from beadline.agents.decoding.signal import (
    CandidateRun,
    describe_outcome,
    render_signal,
    trace_text,
)
from beadline.agents.models.base import Completion, Model, SamplingParams, Session
from beadline.agents.overfit import find_overfit
from beadline.agents.prompts.builder import Prompt
from beadline.agents.record import CandidateRecord, TestRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Task
from beadline.validators.executor import Executor, RunResult
from beadline.validators.partial import make_executable

__all__ = ["GuidanceStep", "candidate_code", "executable", "finish_of", "guidance_step"]


def executable(code: str, entry_point: str, signature: str | None = None) -> str | None:
    """The executable partial program of ``code`` (``None``: nothing executable).

    Uses :func:`beadline.validators.partial.make_executable`.
    """
    result = make_executable(code, signature=signature)
    program = result.program if result.ok else None
    if program is None or _def_re(entry_point).search(program) is None:
        return None
    return program


@dataclass(frozen=True, kw_only=True)
class GuidanceStep:
    """The result of sampling, executing and rendering candidates at one line."""

    records: tuple[CandidateRecord, ...]
    """Per sampled candidate."""
    signal: str
    """The dynamic-signal text."""
    agreed_program: str | None
    """The one complete, returning program all candidates agree on (else ``None``)."""
    passing_program: str | None = None
    """The first complete candidate program (cut at the function's end) that passes every
    visible test (else ``None``): the decoder accepts it at once."""
    passing_index: int | None = None
    """Its index among the sampled candidates."""
    overfit: tuple[str, ...] = ()
    """Complete candidates that passed every visible test but were refused by the overfit
    guard (:mod:`beadline.agents.overfit`): which one, the kind, line and test."""
    all_timed_out: bool
    """Every executed candidate timed out on every test."""
    tokens_generated: int
    """Tokens sampled for the candidates."""
    continuations: tuple[str, ...] = ()
    """Each executed candidate's code (the code so far and its continuation, cut at the
    function's end): while the code written stays a strict prefix of one of them, its next
    lines are what the next step would sample and run (the ``reuse_candidates`` lever)."""


def _returns(result: RunResult) -> bool:
    return bool(result.results) and all(r.status in ("passed", "failed") for r in result.results)


def finish_of(
    model: Model, completion: Completion, stop: Sequence[str], stop_lines: int | None
) -> str:
    """Why ``completion`` ended, with the line limit told apart from a stop sequence.

    :meth:`Model.complete` says ``stop`` both for a stop sequence and for reaching
    ``stop_lines`` lines; only the first ends the program. Returns ``stop`` (a stop sequence),
    ``lines`` (the line limit: the text was cut, not finished), or the completion's own
    reason (``eos``, ``length``).
    """
    if completion.finish_reason != "stop":
        return completion.finish_reason
    raw = model.detokenize(list(completion.tokens))
    if any(s in raw for s in stop):
        return "stop"
    text = completion.text
    if stop_lines is not None and text.endswith("\n") and text.count("\n") >= stop_lines:
        return "lines"
    return "stop"


def candidate_code(code: str, text: str, entry_point: str, finish: str) -> tuple[str, bool]:
    """``code + text`` cut at the function's end, and whether the candidate completed it.

    ``finish`` is :func:`finish_of`'s reason: a candidate that did not reach the function's
    end is complete only when it ended with EOS or a stop sequence — never when it was cut
    at the line limit (``lines``) or the token limit (``length``).
    """
    full = code + text
    end = function_end(full, entry_point)
    if end is not None:
        return full[:end], True
    return full, finish in ("eos", "stop")


def guidance_step(
    *,
    model: Model,
    executor: Executor,
    task: Task,
    prompt: Prompt,
    settings: DecoderSettings,
    cache: ExecutionCache,
    context: Sequence[int],
    code: str,
    session: Session,
    seed: int | None,
) -> GuidanceStep:
    """Sample ``s`` candidates ``d`` lines ahead of ``context``, execute their partial programs
    on the visible tests (cached), and render the dynamic signal."""
    completions = model.complete(
        context,
        n=settings.s,
        params=SamplingParams(temperature=settings.t, seed=seed),
        max_tokens=settings.d * settings.max_line_tokens,
        stop=prompt.stop,
        stop_lines=settings.d,
        session=session,
    )
    candidates = [_candidate(model, c, code, task, prompt, settings) for c in completions]
    distinct = list(dict.fromkeys(c.program for c in candidates if c.program is not None))
    runs = cache.run(
        executor,
        distinct,
        task.tests,
        setup=task.setup,
        limits=exec_limits(settings),
        entry_point=task.entry_point,
    )
    by_program = dict(zip(distinct, runs, strict=True))
    results = {p: result for p, (result, _cached) in by_program.items()}
    # Candidates that pass more tests come first: a small model tends to follow the first
    # code it sees in the signal. The sort is stable, so ties keep the sampling order.
    ranked = sorted(distinct, key=lambda p: -results[p].n_passed)
    shown = [CandidateRun(program=p, result=results[p]) for p in ranked]
    if settings.signal_style == "compact":
        signal = render_compact_signal(shown, entry_point=task.entry_point)
    else:
        signal = render_signal(
            shown,
            entry_point=task.entry_point,
            max_chars=settings.signal_max_chars,
            trace_chars=settings.trace_chars,
        )
    passing = [
        i
        for i, c in enumerate(candidates)
        if c.complete and c.program is not None and results[c.program].passed
    ]
    # The overfit guard: a candidate that passes by copying the tests' expected values is
    # not accepted; the decode goes on (its findings are kept for the step's note).
    guarded: list[str] = []
    passing_index = None
    for i in passing:
        findings = find_overfit(candidates[i].full, entry_point=task.entry_point, tests=task.tests)
        if not findings:
            passing_index = i
            break
        guarded.append(f"candidate {i + 1}: {findings[0].kind}, {findings[0].reason}")
    executed = [results[p] for p in distinct]
    return GuidanceStep(
        records=_records(candidates, by_program, settings.trace_chars),
        signal=signal,
        agreed_program=_agreed(candidates, results),
        passing_program=None if passing_index is None else candidates[passing_index].full,
        passing_index=passing_index,
        overfit=tuple(guarded),
        all_timed_out=bool(executed)
        and all(r.results and all(t.status == "timeout" for t in r.results) for r in executed),
        tokens_generated=sum(len(c.tokens) for c in completions),
        continuations=tuple(dict.fromkeys(c.full for c in candidates if c.program is not None)),
    )


@dataclass(frozen=True, kw_only=True)
class _Candidate:
    text: str
    """The sampled continuation."""
    full: str
    """The code with it, cut at the function's end."""
    complete: bool
    """It completed the function (see :func:`candidate_code`)."""
    program: str | None
    """Its executable partial program (``None``: nothing executable)."""


def _candidate(
    model: Model,
    completion: Completion,
    code: str,
    task: Task,
    prompt: Prompt,
    settings: DecoderSettings,
) -> _Candidate:
    finish = finish_of(model, completion, prompt.stop, settings.d)
    full, complete = candidate_code(code, completion.text, task.entry_point, finish)
    return _Candidate(
        text=completion.text,
        full=full,
        complete=complete,
        program=executable(full, task.entry_point, task.signature),
    )


def _records(
    candidates: Sequence[_Candidate],
    by_program: dict[str, tuple[RunResult, bool]],
    trace_chars: int,
) -> tuple[CandidateRecord, ...]:
    """One record per sampled candidate, in sampling order; a program seen before in this step
    is a ``duplicate``, one run in an earlier step ``cached``."""
    records: list[CandidateRecord] = []
    seen: set[str] = set()
    for candidate in candidates:
        program = candidate.program
        tests: tuple[TestRecord, ...] = ()
        cached = False
        if program is not None:
            result, cached = by_program[program]
            tests = tuple(
                TestRecord(
                    name=r.test.name or r.test.source,
                    status=r.status,
                    outcome=describe_outcome(r),
                    return_repr=r.return_repr,
                    trace=trace_text(r.trace, trace_chars),
                )
                for r in result.results
            )
        records.append(
            CandidateRecord(
                text=candidate.text,
                program=program,
                complete=candidate.complete,
                cached=cached and program not in seen,
                duplicate=program in seen,
                tests=tests,
            )
        )
        if program is not None:
            seen.add(program)
    return tuple(records)


def _agreed(candidates: Sequence[_Candidate], results: dict[str, RunResult]) -> str | None:
    """The program every candidate agrees on, when they all completed the function into one
    executable program that returns on every test (else ``None``)."""
    distinct = list(dict.fromkeys(c.program for c in candidates if c.program is not None))
    if (
        len(distinct) == 1
        and all(c.complete for c in candidates)
        and _returns(results[distinct[0]])
    ):
        return candidates[0].full
    return None
