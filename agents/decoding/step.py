"""Pieces shared by the guided decoder and the scored beam: code structure, execution cache,
candidate sampling and execution, the dynamic signal, guided token steps.

Private: the public entry points are :func:`beadline.agents.decoding.cfg.decode` and
:mod:`beadline.agents.decoding.beam`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from beadline.agents._code import (
    _def_re,
    body_statements,
    def_header_done,
    function_complete,
    function_end,
)
from beadline.agents.decoding.guidance import guide
from beadline.agents.decoding.sampling import sample_token
from beadline.agents.decoding.signal import (
    CandidateRun,
    describe_outcome,
    render_signal,
    trace_text,
)
from beadline.agents.models.base import (
    Completion,
    Model,
    NextTokenLogprobs,
    SamplingParams,
    Session,
)
from beadline.agents.prompts.builder import Prompt
from beadline.agents.record import CandidateRecord, DecodeRecord, TestRecord, TokenRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, SolveStatus, Task
from beadline.validators.executor import Executor, Limits, RunRequest, RunResult, TestCase
from beadline.validators.partial import make_executable

__all__ = [
    "Decoded",
    "ExecutionCache",
    "body_statements",
    "def_header_done",
    "executable",
    "finish_of",
    "function_complete",
    "function_end",
]


@dataclass(frozen=True, kw_only=True)
class Decoded:
    """The outcome of :func:`beadline.agents.decoding.cfg.decode`."""

    program: str
    """The final program (imports, the function; empty when none was written)."""
    status: SolveStatus
    """``solved`` when it passes the visible tests, else how the run ended."""
    cost: Cost
    """Tokens evaluated and generated, programs executed, seconds."""
    record: DecodeRecord
    """Why each line was written (JSON via ``record.to_json()``)."""
    message: str = ""
    """One line on what happened."""
    stop_reason: str = ""
    """``function_end``, ``eos``, ``stop``, ``early_stop``, ``accepted`` (a complete candidate
    passed every visible test), ``blocks``, ``budget``, ``no_function``."""
    visible: RunResult | None = None
    """The final program on the visible tests (when it was run)."""


def executable(code: str, entry_point: str, signature: str | None = None) -> str | None:
    """The executable partial program of ``code`` (``None``: nothing executable).

    Uses :func:`beadline.validators.partial.make_executable`.
    """
    result = make_executable(code, signature=signature)
    program = result.program if result.ok else None
    if program is None or _def_re(entry_point).search(program) is None:
        return None
    return program


# --------------------------------------------------------------------------------------------
# execution cache
# --------------------------------------------------------------------------------------------


@dataclass
class ExecutionCache:
    """Results of programs already run, by program text and tests; never runs one twice.

    Share one cache across the decodes of one task (the configuration grid) so a program found
    by several configurations runs once.
    """

    results: dict[tuple[str, tuple[TestCase, ...], str], RunResult] = field(default_factory=dict)
    """Cached results."""
    executed: int = 0
    """Programs actually executed through this cache."""

    def run(
        self,
        executor: Executor,
        programs: Sequence[str],
        tests: Sequence[TestCase],
        *,
        setup: str = "",
        limits: Limits | None = None,
        entry_point: str | None = None,
        trace: bool = True,
    ) -> list[tuple[RunResult, bool]]:
        """Run each program on ``tests`` (one ``run_many`` call for the new ones).

        Returns:
            Per program, in order: its result and whether it came from the cache.
        """
        tests_key = tuple(tests)
        keys = [(p, tests_key, setup) for p in programs]
        todo: list[tuple[str, tuple[TestCase, ...], str]] = []
        for key in keys:
            if key not in self.results and key not in todo:
                todo.append(key)
        if todo:
            requests = [
                RunRequest(
                    program=key[0],
                    tests=tests_key,
                    limits=limits or Limits(),
                    trace=trace,
                    trace_function=entry_point,
                    setup=setup,
                )
                for key in todo
            ]
            for key, result in zip(todo, executor.run_many(requests), strict=True):
                self.results[key] = result
            self.executed += len(todo)
        fresh = set(todo)
        out: list[tuple[RunResult, bool]] = []
        for key in keys:
            out.append((self.results[key], key not in fresh))
            fresh.discard(key)
        return out


def exec_limits(settings: DecoderSettings) -> Limits:
    """Per-test limits of a candidate run."""
    return Limits(
        wall_s=settings.exec_timeout_s,
        cpu_s=settings.exec_timeout_s,
        trace_chars=max(settings.trace_chars * 2, 1_000),
    )


# --------------------------------------------------------------------------------------------
# one guidance step: candidates → executions → signal
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# token steps
# --------------------------------------------------------------------------------------------


def logprob_of(dist: NextTokenLogprobs, token: int) -> float | None:
    """log p(token) in ``dist`` (``None`` when a top-k set does not contain it)."""
    if dist.dense:
        return float(dist.logprobs[token])
    where = np.nonzero(dist.ids() == token)[0]
    return float(dist.logprobs[where[0]]) if where.size else None


def _prob(lp: float | None) -> float | None:
    return None if lp is None else round(float(np.exp(lp)), 6)


@dataclass(frozen=True, kw_only=True)
class TokenChoice:
    """One chosen token and how likely each context found it."""

    token: int
    """The token id."""
    logp_plain: float | None
    """log p(token | P)."""
    record: TokenRecord
    """The record entry."""


def choose_token(
    *,
    model: Model,
    plain: Session,
    signal: Session | None,
    gamma: float,
    params: SamplingParams,
    rng: np.random.Generator,
) -> TokenChoice:
    """Draw the next token from the guided distribution (plain alone when ``signal`` is
    ``None`` or γ=0)."""
    plain_lp = plain.next_logprobs()
    dist = plain_lp
    guided = signal is not None and gamma > 0
    if guided:
        assert signal is not None  # for mypy; guided implies it
        dist = guide(plain_lp, signal.next_logprobs(), gamma)
    token = sample_token(dist, params, rng)
    lp_plain = logprob_of(plain_lp, token)
    top_plain = plain_lp.top(1)[0][0]
    return TokenChoice(
        token=token,
        logp_plain=lp_plain,
        record=TokenRecord(
            text=model.detokenize([token]),
            id=token,
            p_plain=_prob(lp_plain),
            p_guided=_prob(logprob_of(dist, token)) if guided else None,
            plain_top=model.detokenize([top_plain]) if top_plain != token else None,
        ),
    )


def guided_lines(
    *,
    model: Model,
    plain: Session,
    signal: Session | None,
    plain_context: Sequence[int],
    signal_context: Sequence[int],
    n: int,
    gamma: float,
    params: SamplingParams,
    max_tokens: int,
    stop: Sequence[str],
) -> list[Completion]:
    """Sample ``n`` one-line continuations token by token from the guided distribution.

    ``Completion.logprob`` is the log-probability under the *plain* context (what the beam
    scores); the sessions are left at their contexts.
    """
    rng = np.random.default_rng(params.seed)
    out: list[Completion] = []
    for _ in range(n):
        plain.set_tokens(plain_context)
        if signal is not None:
            signal.set_tokens(signal_context)
        generated: list[int] = []
        logp = 0.0
        reason = "length"
        for _step in range(max_tokens):
            choice = choose_token(
                model=model, plain=plain, signal=signal, gamma=gamma, params=params, rng=rng
            )
            if choice.token in model.eos_token_ids:
                reason = "eos"
                break
            generated.append(choice.token)
            logp += choice.logp_plain if choice.logp_plain is not None else 0.0
            plain.append([choice.token])
            if signal is not None:
                signal.append([choice.token])
            text = model.detokenize(generated)
            if any(s in text for s in stop):
                reason = "stop"
                break
            if "\n" in text:
                reason = "stop"
                break
        text = model.detokenize(generated)
        for s in stop:
            if s in text:
                text = text[: text.index(s)]
        if "\n" in text:
            text = text[: text.index("\n") + 1]
        out.append(
            Completion(text=text, tokens=tuple(generated), logprob=logp, finish_reason=reason)
        )
    plain.set_tokens(plain_context)
    if signal is not None:
        signal.set_tokens(signal_context)
    return out


class Clock:
    """Wall-clock budget of one decode."""

    def __init__(self, budget_s: float | None) -> None:
        self.start = time.monotonic()
        self.budget_s = budget_s

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    @property
    def over(self) -> bool:
        """True once the budget is spent."""
        return self.budget_s is not None and self.elapsed >= self.budget_s
