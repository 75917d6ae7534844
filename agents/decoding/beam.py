"""The execution-scored line beam (the seed document's formulation), alone or with guidance.

At each line every beam entry is extended by ``M`` sampled one-line candidates; each extension
``c`` of an entry with code ``prefix`` is scored

    Score(c) = α · log P(prefix ⊕ c) + β · E(prefix ⊕ c)

where ``log P(prefix ⊕ c) = log P(prefix) + log P(c | prefix)`` sums the plain model's token
log-probabilities of all lines so far (so entries with different parents compare fairly), and
the execution score is

    E = w1·syntax_ok + w2·runtime_ok + w3·tests_passed_fraction + w4·trace_quality

computed on the extension's executable partial program run on the visible tests:

- ``syntax_ok``: 1 if the code compiles as it is or with a ``pass`` opening the block its last
  line starts (an unfinished ``for …:`` is fine), else 0;
- ``runtime_ok``: the fraction of tests whose call ran to the end without an exception or a
  timeout (status ``passed`` or ``failed``);
- ``tests_passed_fraction``: the fraction of tests passed;
- ``trace_quality``: the fraction of tests whose traced call *returned a value other than
  None* without an exception — it rewards code that already reaches a ``return`` with a
  result, which partial programs completed with ``pass`` do not.

A task without tests falls back to static checks: ``E = w1·syntax_ok + w2·static_ok`` where
``static_ok`` is 1 when the function has no undefined names (``symtable``: every global it reads
is defined in the module, imported, or a builtin).

The ``K`` best extensions are kept. One that ends the function leaves the beam as a finished
program; the run ends when ``K`` programs are finished, a finished program passes every
visible test, or the budget is spent, and returns the best finished program by score.
Strategy ``cfg+beam`` samples each entry's ``M`` extensions token by token from the guided
distribution of the paper (its own candidates ``d`` lines ahead, executed, as the signal).

Defaults (:class:`~beadline.agents.settings.DecoderSettings`): K=3, M=3, α=1, β=2, w=(1,1,3,1):
passing all tests is worth 6 nats of log-probability, a syntax error costs 2.
"""

from __future__ import annotations

import builtins
import symtable
import warnings
from dataclasses import dataclass

from beadline.agents._code import def_header_done, function_end
from beadline.agents.decoding.cache import ExecutionCache, exec_limits
from beadline.agents.decoding.outcome import Clock, Decoded, finish
from beadline.agents.decoding.step import executable, guidance_step
from beadline.agents.decoding.tokens import guided_lines
from beadline.agents.models.base import Completion, Model, SamplingParams, Session
from beadline.agents.prompts.builder import build_prompt
from beadline.agents.record import BeamCandidateRecord, BeamStepRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, Task
from beadline.validators.executor import Executor, RunResult

__all__ = [
    "ExecScore",
    "beam_decode",
    "execution_score",
    "score",
    "strict_syntax_ok",
    "syntax_ok",
    "undefined_names",
]

_MAX_LINES = 200


def _compiles(code: str) -> bool:
    """Whether ``code`` compiles; the model's code may warn (``"is" with a literal``): those
    warnings are nobody's business at this point and must not reach the user's terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(code, "<candidate>", "exec")
        except (SyntaxError, ValueError):
            return False
    return True


def syntax_ok(code: str) -> float:
    """1.0 when ``code`` compiles as is or with a ``pass`` closing its last open block."""
    text = code if code.endswith("\n") else code + "\n"
    lines = [ln for ln in text.split("\n") if ln.strip()]
    attempts = [text]
    if lines and lines[-1].rstrip().endswith(":"):
        last = lines[-1]
        attempts.append(text + " " * (len(last) - len(last.lstrip()) + 4) + "pass\n")
    return 1.0 if any(_compiles(attempt) for attempt in attempts) else 0.0


def strict_syntax_ok(code: str) -> float:
    """1.0 when ``code`` compiles exactly as it is (a finished program gets no ``pass``)."""
    return 1.0 if _compiles(code) else 0.0


def undefined_names(code: str, entry_point: str) -> set[str]:
    """Globals read by the function ``entry_point`` that nothing defines (``symtable``).

    Returns an empty set when the code does not parse or has no such function.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = symtable.symtable(code, "<candidate>", "exec")
    except SyntaxError:
        return set()
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    known = defined | set(dir(builtins))
    missing: set[str] = set()

    def walk(t: symtable.SymbolTable) -> None:
        for sym in t.get_symbols():
            if sym.is_referenced() and sym.is_global() and sym.get_name() not in known:
                missing.add(sym.get_name())
        for child in t.get_children():
            walk(child)

    for child in table.get_children():
        if child.get_name() == entry_point:
            walk(child)
    return missing


@dataclass(frozen=True, kw_only=True)
class ExecScore:
    """The parts of E for one candidate."""

    syntax_ok: float
    """1 if it compiles (completed minimally)."""
    runtime_ok: float = 0.0
    """Fraction of tests that ran without exception or timeout."""
    tests_passed: float = 0.0
    """Fraction of tests passed."""
    trace_quality: float = 0.0
    """Fraction of tests whose call returned a value other than None."""
    static_ok: float | None = None
    """No undefined names (only when the task has no tests)."""

    def e(self, settings: DecoderSettings) -> float:
        """E = w1·syntax_ok + w2·runtime_ok + w3·tests_passed + w4·trace_quality (with tests),
        or w1·syntax_ok + w2·static_ok (without)."""
        if self.static_ok is not None:
            return settings.w1 * self.syntax_ok + settings.w2 * self.static_ok
        return (
            settings.w1 * self.syntax_ok
            + settings.w2 * self.runtime_ok
            + settings.w3 * self.tests_passed
            + settings.w4 * self.trace_quality
        )


def execution_score(
    code: str,
    result: RunResult | None,
    *,
    entry_point: str,
    has_tests: bool,
    finished: bool = False,
) -> ExecScore:
    """The parts of E for ``code`` given its run on the visible tests (``None``: not run).

    A ``finished`` program (its function ended) must compile as it is; an unfinished one may
    be completed by a ``pass``.

    Example:
        >>> execution_score("def f(x):\\n    return x\\n", None, entry_point="f", has_tests=False)
        ExecScore(syntax_ok=1.0, runtime_ok=0.0, tests_passed=0.0, trace_quality=0.0, static_ok=1.0)
    """
    ok = strict_syntax_ok(code) if finished else syntax_ok(code)
    if not has_tests:
        static = 1.0 if ok and not undefined_names(code, entry_point) else 0.0
        return ExecScore(syntax_ok=ok, static_ok=static)
    if result is None or not result.results:
        return ExecScore(syntax_ok=ok)
    n = len(result.results)
    ran = sum(r.status in ("passed", "failed") for r in result.results)
    returned = sum(
        r.status in ("passed", "failed") and r.return_repr not in (None, "None")
        for r in result.results
    )
    return ExecScore(
        syntax_ok=ok,
        runtime_ok=ran / n,
        tests_passed=result.n_passed / n,
        trace_quality=returned / n,
    )


def score(logp: float, e: float, settings: DecoderSettings) -> float:
    """α·logP + β·E."""
    return settings.alpha * logp + settings.beta * e


@dataclass(frozen=True, kw_only=True)
class _Entry:
    ids: tuple[int, ...]
    text: str
    logp: float
    score: float = 0.0
    code: str = ""
    passed: bool = False


@dataclass(frozen=True, kw_only=True)
class _Ext:
    parent: int
    ids: tuple[int, ...]
    text: str
    logp: float
    code: str
    finished: bool
    program: str | None


def _ended(c: Completion) -> bool:
    return c.finish_reason == "eos" or (c.finish_reason == "stop" and not c.text.endswith("\n"))


def beam_decode(
    task: Task,
    model: Model,
    executor: Executor,
    settings: DecoderSettings,
    *,
    cache: ExecutionCache | None = None,
) -> Decoded:
    """Decode with the execution-scored beam (``beam``) or guided lines inside it
    (``cfg+beam``). See the module docstring; arguments as :func:`~beadline.agents.decoding.decode`."""
    cache = cache if cache is not None else ExecutionCache()
    return _BeamRun(task, model, executor, settings, cache).run()


_Scored = tuple[float, _Ext, BeamCandidateRecord]
"""An extension with its total score and its record."""


class _BeamRun:
    """One beam decode; state lives here, not in closures. Each line: :meth:`_expand` every
    entry, :meth:`_score` the extensions, :meth:`_select` the ``K`` best and record the step."""

    def __init__(
        self,
        task: Task,
        model: Model,
        executor: Executor,
        settings: DecoderSettings,
        cache: ExecutionCache,
    ) -> None:
        self.task, self.model, self.executor = task, model, executor
        self.settings, self.cache = settings, cache
        self.clock = Clock(settings.time_budget_s)
        self.executed_at_start = cache.executed
        self.prompt = build_prompt(
            task, model, prompt_type=settings.prompt_type, n_shots=settings.n_shots
        )
        self.prefix = self.prompt.program_prefix
        self.plain_ids = model.tokenize(self.prompt.text(), add_bos=True)
        self.guided = settings.strategy == "cfg+beam" and settings.gamma > 0 and bool(task.tests)
        self.has_tests = bool(task.tests)
        self.entries = [_Entry(ids=(), text="", logp=0.0)]
        self.finished: list[_Entry] = []
        self.steps: list[BeamStepRecord] = []
        self.generated = 0
        self.n_calls = 0
        self.signal: Session | None = None
        """The signal context of ``cfg+beam``, opened at the first guided entry."""

    def _seed(self) -> int | None:
        self.n_calls += 1
        return None if self.settings.seed is None else self.settings.seed * 7919 + self.n_calls

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> Decoded:
        settings = self.settings
        plain = self.model.new_session(self.plain_ids)
        stop_reason, message = "", ""
        try:
            for index in range(_MAX_LINES):
                if self.clock.over:
                    stop_reason = "budget"
                    message = f"time budget of {settings.time_budget_s:g} s spent"
                    break
                if max(len(e.ids) for e in self.entries) >= settings.max_new_tokens:
                    stop_reason, message = "budget", f"{settings.max_new_tokens} new tokens written"
                    break
                exts: list[_Ext] = []
                for parent, entry in enumerate(self.entries):
                    exts.extend(self._expand(parent, entry, plain))
                self._select(index, self._score(exts))
                if any(f.passed for f in self.finished):
                    stop_reason = "function_end"
                    break
                if not self.entries or len(self.finished) >= settings.beam_width:
                    stop_reason = "function_end" if self.finished else "eos"
                    break
            else:
                stop_reason, message = "budget", f"{_MAX_LINES} lines written"
        finally:
            signal = self.signal
            evaluated = plain.n_evaluated + (signal.n_evaluated if signal is not None else 0)
            plain.close()
            if signal is not None:
                signal.close()
        return self._finish(stop_reason, message, evaluated)

    def _finish(self, stop_reason: str, message: str, evaluated: int) -> Decoded:
        """The best finished program (or the best entry when none finished), judged."""
        pool = self.finished or self.entries
        best = max(pool, key=lambda e: (e.passed, e.score)) if pool else None
        program = best.code if best is not None else self.prefix
        if not self.finished and stop_reason != "budget":
            stop_reason = stop_reason or "eos"
        cost = Cost(
            tokens_evaluated=evaluated,
            tokens_generated=self.generated,
            programs_executed=self.cache.executed - self.executed_at_start,
            seconds=self.clock.elapsed,
        )
        return finish(
            task=self.task,
            model=self.model,
            executor=self.executor,
            settings=self.settings,
            cache=self.cache,
            prompt=self.prompt,
            program=program,
            stop_reason=stop_reason,
            message=message,
            cost=cost,
            beam=self.steps,
        )

    # -- one line: expand, score, select -----------------------------------------------------

    def _expand(self, parent: int, entry: _Entry, plain: Session) -> list[_Ext]:
        """Entry ``parent``'s distinct one-line extensions (sampled plainly, or guided)."""
        task, settings = self.task, self.settings
        code = self.prefix + entry.text
        context = [*self.plain_ids, *entry.ids]
        params = SamplingParams(temperature=settings.t, seed=self._seed())
        if self.guided and def_header_done(code, task.entry_point) is not None:
            completions = self._guided_lines(entry, code, context, params, plain)
        else:
            completions = self.model.complete(
                context,
                n=settings.beam_candidates,
                params=params,
                max_tokens=settings.max_line_tokens,
                stop=self.prompt.stop,
                stop_lines=1,
                session=plain,
            )
        self.generated += sum(len(c.tokens) for c in completions)
        exts: list[_Ext] = []
        seen: set[str] = set()
        for c in completions:
            # keep the sampled token ids (a token may run past the line's newline)
            ids = (*entry.ids, *(c.tokens or self.model.tokenize(c.text)))
            text = self.model.detokenize(ids)
            if text in seen:
                continue
            seen.add(text)
            exts.append(self._extension(parent, entry, c, ids, text))
        return exts

    def _guided_lines(
        self,
        entry: _Entry,
        code: str,
        context: list[int],
        params: SamplingParams,
        plain: Session,
    ) -> list[Completion]:
        """``cfg+beam``: a guidance step at this entry, then its lines sampled under that signal."""
        model, settings = self.model, self.settings
        step = guidance_step(
            model=model,
            executor=self.executor,
            task=self.task,
            prompt=self.prompt,
            settings=settings,
            cache=self.cache,
            context=context,
            code=code,
            session=plain,
            seed=self._seed(),
        )
        self.generated += step.tokens_generated
        sig_context = [*model.tokenize(self.prompt.text(step.signal), add_bos=True), *entry.ids]
        self.signal = self.signal or model.new_session()
        return guided_lines(
            model=model,
            plain=plain,
            signal=self.signal,
            plain_context=context,
            signal_context=sig_context,
            n=settings.beam_candidates,
            gamma=settings.gamma,
            params=params,
            max_tokens=settings.max_line_tokens,
            stop=self.prompt.stop,
        )

    def _extension(
        self, parent: int, entry: _Entry, c: Completion, ids: tuple[int, ...], text: str
    ) -> _Ext:
        """One extension: cut at the function's end; its program is the finished code when it
        compiles as it is, else (unfinished) its executable partial program."""
        entry_point = self.task.entry_point
        full = self.prefix + text
        end = function_end(full, entry_point)
        done = end is not None or _ended(c) or not c.text
        full = full[:end] if end is not None else full
        program: str | None = None
        if def_header_done(full + "\n", entry_point) is not None:
            program = (
                (full if strict_syntax_ok(full) else None)
                if done
                else executable(full, entry_point, self.task.signature)
            )
        return _Ext(
            parent=parent,
            ids=ids,
            text=full[len(self.prefix) :],
            logp=entry.logp + c.logprob,
            code=full,
            finished=done,
            program=program,
        )

    def _score(self, exts: list[_Ext]) -> list[_Scored]:
        """Run the extensions' distinct programs on the visible tests (cached) and score each:
        α·logP + β·E, best first."""
        task, settings = self.task, self.settings
        programs = list(dict.fromkeys(x.program for x in exts if x.program is not None))
        results: dict[str, RunResult] = {}
        if self.has_tests and programs:
            runs = self.cache.run(
                self.executor,
                programs,
                task.tests,
                setup=task.setup,
                limits=exec_limits(settings),
                entry_point=task.entry_point,
            )
            results = {p: r for p, (r, _c) in zip(programs, runs, strict=True)}
        scored: list[_Scored] = []
        for x in exts:
            parts = execution_score(
                x.code,
                results.get(x.program) if x.program else None,
                finished=x.finished,
                entry_point=task.entry_point,
                has_tests=self.has_tests,
            )
            e = parts.e(settings)
            total = score(x.logp, e, settings)
            record = BeamCandidateRecord(
                parent=x.parent,
                line=x.text[len(self.entries[x.parent].text) :],
                logp=round(x.logp, 4),
                syntax_ok=parts.syntax_ok,
                runtime_ok=parts.runtime_ok,
                tests_passed=parts.tests_passed,
                trace_quality=parts.trace_quality,
                static_ok=parts.static_ok,
                e=round(e, 4),
                score=round(total, 4),
                finished=x.finished,
            )
            scored.append((total, x, record))
        scored.sort(key=lambda item: -item[0])
        return scored

    def _select(self, index: int, scored: list[_Scored]) -> None:
        """Keep the ``K`` best: finished ones leave the beam as programs; record the step."""
        keep = scored[: self.settings.beam_width]
        kept_ids = {id(x) for _s, x, _r in keep}
        self.steps.append(
            BeamStepRecord(
                index=index,
                candidates=tuple(
                    r.model_copy(update={"kept": id(x) in kept_ids}) for _s, x, r in scored
                ),
            )
        )
        self.entries = []
        for total, x, rec in keep:
            entry = _Entry(
                ids=x.ids,
                text=x.text,
                logp=x.logp,
                score=total,
                code=x.code,
                passed=self.has_tests and rec.tests_passed == 1.0,
            )
            (self.finished if x.finished else self.entries).append(entry)
