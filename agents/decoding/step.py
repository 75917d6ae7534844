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
from beadline.agents.decoding.signal import (
    CandidateRun,
    describe_outcome,
    render_signal,
    trace_text,
)
from beadline.agents.models.base import Completion, Model, SamplingParams, Session
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
    all_timed_out: bool
    """Every executed candidate timed out on every test."""
    tokens_generated: int
    """Tokens sampled for the candidates."""


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
    texts: list[tuple[str, bool, str | None]] = []
    fulls: list[str] = []
    for c in completions:
        finish = finish_of(model, c, prompt.stop, settings.d)
        full, complete = candidate_code(code, c.text, task.entry_point, finish)
        texts.append((c.text, complete, executable(full, task.entry_point, task.signature)))
        fulls.append(full)
    distinct = list(dict.fromkeys(p for _, _, p in texts if p is not None))
    runs = cache.run(
        executor,
        distinct,
        task.tests,
        setup=task.setup,
        limits=exec_limits(settings),
        entry_point=task.entry_point,
    )
    by_program = dict(zip(distinct, runs, strict=True))
    records: list[CandidateRecord] = []
    seen: set[str] = set()
    for text, complete, program in texts:
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
                    trace=trace_text(r.trace, settings.trace_chars),
                )
                for r in result.results
            )
        records.append(
            CandidateRecord(
                text=text,
                program=program,
                complete=complete,
                cached=cached and program not in seen,
                duplicate=program in seen,
                tests=tests,
            )
        )
        if program is not None:
            seen.add(program)
    # Candidates that pass more tests come first: a small model tends to follow the first
    # code it sees in the signal. The sort is stable, so ties keep the sampling order.
    ranked = sorted(distinct, key=lambda p: -by_program[p][0].n_passed)
    signal = render_signal(
        [CandidateRun(program=p, result=by_program[p][0]) for p in ranked],
        entry_point=task.entry_point,
        max_chars=settings.signal_max_chars,
        trace_chars=settings.trace_chars,
    )
    agreed: str | None = None
    if (
        len(distinct) == 1
        and all(complete for _, complete, _ in texts)
        and _returns(by_program[distinct[0]][0])
    ):
        agreed = fulls[0]
    passing_index = next(
        (
            i
            for i, (_, complete, program) in enumerate(texts)
            if complete and program is not None and by_program[program][0].passed
        ),
        None,
    )
    executed = [by_program[p][0] for p in distinct]
    timed_out = bool(executed) and all(
        r.results and all(t.status == "timeout" for t in r.results) for r in executed
    )
    return GuidanceStep(
        records=tuple(records),
        signal=signal,
        agreed_program=agreed,
        passing_program=None if passing_index is None else fulls[passing_index],
        passing_index=passing_index,
        all_timed_out=timed_out,
        tokens_generated=sum(len(c.tokens) for c in completions),
    )
