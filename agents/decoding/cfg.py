"""The ``cfg`` strategy: EG-CFG's line loop, code written token by token under execution guidance.

:func:`cfg_decode` writes one program for a :class:`~beadline.agents.task.Task` (DESIGN.md §1):

1. Build the prompt (:mod:`beadline.agents.prompts.builder`) and open two contexts on the model: the
   plain one P and the signal one P+S (the dynamic signal S inserted before the answer).
2. Decode token by token. Once the target ``def`` line is written (at once when a signature or
   code prefix is given), at the start of every k-th new line: sample ``s`` candidates ``d``
   lines ahead from P at temperature ``t``, make each an executable partial program, run the
   distinct ones on the visible tests in the sandbox (a program already run is never run
   again), render their traces into S, and update P+S (the KV cache re-evaluates only what
   changed).
3. Each token is drawn from ``guide(p(·|P), p(·|P+S), γ)`` with the final temperature/top-p.
   Without log-probabilities (an API that returns none) γ=1 is supported by sampling whole
   lines from P+S.
4. Stop at the end of the function (a line back at column 0 after the body), EOS, a stop
   sequence, a complete candidate that passes every visible test (accepted at once), early
   agreement of the candidates, ``stop_after_blocks`` body statements, or the token/time
   budget. Line starts after a complete body (one ending with a top-level ``return``), such
   as the blank line after it, get no guidance: nothing written there changes the function.

A task without visible tests is decoded without guidance (there is nothing to execute; the
scored beam falls back to static checks instead). ``stop_after_blocks`` applies to ``cfg``.

The loop is :class:`_CfgRun`; its parts are modules of their own: the guidance step
(:mod:`~beadline.agents.decoding.step`), the guided token choice
(:mod:`~beadline.agents.decoding.tokens`), the final judging (:mod:`~beadline.agents.decoding.outcome`).
The strategies ``beam`` and ``cfg+beam`` are in :mod:`beadline.agents.decoding.beam`;
:func:`beadline.agents.decoding.decode` picks one by ``settings.strategy``.
"""

from __future__ import annotations

import numpy as np

from beadline.agents._code import body_statements, def_header_done, function_complete, function_end
from beadline.agents.decoding.cache import ExecutionCache
from beadline.agents.decoding.outcome import Clock, Decoded, finish
from beadline.agents.decoding.step import guidance_step
from beadline.agents.decoding.tokens import choose_token
from beadline.agents.errors import ContextOverflowError, UserError
from beadline.agents.models.base import Model, SamplingParams, Session
from beadline.agents.prompts.builder import build_prompt
from beadline.agents.record import GuidedStepRecord, LineRecord, TokenRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, Task
from beadline.validators.executor import Executor

__all__ = ["cfg_decode"]

_CONTINUATIONS = ("else", "elif", "except", "finally")


def cfg_decode(
    task: Task,
    model: Model,
    executor: Executor,
    settings: DecoderSettings,
    *,
    cache: ExecutionCache,
) -> Decoded:
    """Decode with the ``cfg`` strategy; arguments and errors as :func:`beadline.agents.decoding.decode`."""
    return _CfgRun(task, model, executor, settings, cache).run()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _body_indent(code: str, header_end: int) -> int | None:
    for line in code[header_end:].split("\n")[:-1]:
        if line.strip():
            return _indent(line)
    return None


class _CfgRun:
    """One guided decode (the ``cfg`` strategy); state lives here, not in closures."""

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
        self.logprobs = model.capabilities.logprobs
        if not self.logprobs and settings.gamma not in (0.0, 1.0):
            raise UserError(
                f"{model.name} returns no log-probabilities, so only γ=0 or γ=1 can be used "
                f"(got γ={settings.gamma:g}): pass --gamma 1, or use a backend with logprobs"
            )
        self.prompt = build_prompt(
            task, model, prompt_type=settings.prompt_type, n_shots=settings.n_shots
        )
        self.prefix = self.prompt.program_prefix
        self.plain_ids = model.tokenize(self.prompt.text(), add_bos=True)
        self.guide_on = settings.gamma > 0 and bool(task.tests)
        self.params = SamplingParams(
            temperature=settings.temperature, top_p=settings.top_p, seed=settings.seed
        )
        self.rng = np.random.default_rng(settings.seed)
        self.gen_ids: list[int] = []
        self.gen_text = ""
        self.signal_text = ""
        self.signal_ids: list[int] = []
        self.lines: list[LineRecord] = []
        self.line_tokens: list[TokenRecord] = []
        self.line_start = 0
        self.pending: GuidedStepRecord | None = None
        self.candidate_tokens = 0
        self.n_steps = 0
        self.agreements = 0
        self.agreed: str | None = None
        self.timeouts_only = True
        self.accepted_note = ""
        self.signal: Session | None = None
        """The signal context P+S, opened once there is a signal to put in it."""
        self.shown_candidates: tuple[str, ...] = ()
        """The executed candidates' code at the last guidance step."""
        self.reused_steps = 0
        """Guidance steps skipped because the code followed an executed candidate."""

    # -- helpers ---------------------------------------------------------------------------

    def _seed(self) -> int | None:
        self.n_steps += 1
        return None if self.settings.seed is None else self.settings.seed * 7919 + self.n_steps

    def _close_lines(self) -> None:
        """Turn the completed lines of ``gen_text`` into line records."""
        end = self.gen_text.rfind("\n")
        if end < self.line_start:
            return
        for i, text in enumerate(self.gen_text[self.line_start : end].split("\n")):
            self.lines.append(
                LineRecord(
                    index=len(self.lines),
                    text=text,
                    guided=self.pending,
                    tokens=tuple(self.line_tokens) if i == 0 else (),
                )
            )
            self.pending = None
            self.line_tokens = []
        self.line_start = end + 1

    def _guide(self, plain: Session) -> tuple[str, str] | None:
        """One guidance step; returns ``(program, stop reason)`` when it ends the decode: a
        complete candidate that passes every visible test (``accepted``), or early agreement
        (``early_stop``)."""
        code = self.prefix + self.gen_text
        step = guidance_step(
            model=self.model,
            executor=self.executor,
            task=self.task,
            prompt=self.prompt,
            settings=self.settings,
            cache=self.cache,
            context=[*self.plain_ids, *self.gen_ids],
            code=code,
            session=plain,
            seed=self._seed(),
        )
        self.candidate_tokens += step.tokens_generated
        if not step.all_timed_out and any(c.program for c in step.records):
            self.timeouts_only = False
        if step.agreed_program is not None and step.agreed_program == self.agreed:
            self.agreements += 1
        elif step.agreed_program is not None:
            self.agreed, self.agreements = step.agreed_program, 1
        else:
            self.agreed, self.agreements = None, 0
        note = "every candidate timed out" if step.all_timed_out else ""
        if not any(c.program for c in step.records):
            note = "no candidate had an executable prefix"
        # stop_after_blocks writes one body part at a time (the bead workflow): a whole
        # function is not that part, so it is only accepted without it
        accept = step.passing_index is not None and self.settings.stop_after_blocks is None
        if step.overfit:
            note = "overfit guard refused " + "; ".join(step.overfit)
        if accept and step.passing_index is not None:
            note = (
                f"candidate {step.passing_index + 1} is a complete program that passes every "
                "visible test: accepted"
            )
        self.pending = GuidedStepRecord(
            candidates=step.records, signal=step.signal, agreements=self.agreements, note=note
        )
        if accept and step.passing_program is not None:
            self.accepted_note = note
            return step.passing_program, "accepted"
        # candidates that agree on one program keep the agreement count going instead (early
        # stop returns that program at once, which is cheaper than writing it out)
        self.shown_candidates = step.continuations if step.agreed_program is None else ()
        if step.signal and step.signal != self.signal_text:
            self.signal_text = step.signal
            text = self.prompt.text(step.signal, after_code=self.settings.signal_after_code)
            self.signal_ids = self.model.tokenize(text, add_bos=True)
        needed = self.settings.early_stop_agreements
        if needed and self.agreements >= needed and self.agreed is not None:
            return self.agreed, "early_stop"
        return None

    def _follows_candidate(self, code: str) -> bool:
        """True while ``code`` is a strict prefix of a candidate the last step executed, with
        code still to come (the ``reuse_candidates`` lever): sampling again would most likely
        give that candidate's next lines, and its run is in the signal already."""
        if not self.settings.reuse_candidates:
            return False
        return any(c.startswith(code) and c[len(code) :].strip() for c in self.shown_candidates)

    def _keep_signal(self) -> None:
        """Record a line start whose guidance step was skipped by ``reuse_candidates``."""
        self.reused_steps += 1
        self.pending = GuidedStepRecord(
            candidates=(),
            agreements=self.agreements,
            note="the code is still a prefix of a candidate executed at the last step: "
            "signal kept, nothing sampled",
        )

    def _blocks_done(self, header_end: int) -> str | None:
        """The code to keep when ``stop_after_blocks`` statements are complete, else None."""
        wanted = self.settings.stop_after_blocks
        if wanted is None:
            return None
        code = self.prefix + self.gen_text
        last_nl = code.rfind("\n")
        prev_nl = code.rfind("\n", 0, last_nl)
        line = code[prev_nl + 1 : last_nl]
        body = _body_indent(code, header_end)
        if body is None or not line.strip() or line.lstrip().startswith("#"):
            return None
        if _indent(line) > body or line.split()[0].rstrip(":") in _CONTINUATIONS:
            return None
        before = code[: prev_nl + 1]
        if before[:header_end].count("\n") == before.count("\n"):
            return None  # the line is the body's first
        now = body_statements(before, self.task.entry_point)
        given = body_statements(self.prefix, self.task.entry_point) or 0
        if now is not None and now - given >= wanted:
            return before
        return None

    def _finished_body(self, code: str) -> bool:
        """True at a line start after a complete function body (its last top-level statement
        a ``return``/``raise``), e.g. on the blank line after it: guiding there cannot change
        the function — only its end (a dedent), a blank line or dead code can follow."""
        return code.endswith("\n") and function_complete(code, self.task.entry_point)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> Decoded:
        plain = self.model.new_session(self.plain_ids)
        stop_reason, message = "", ""
        final: str | None = None
        try:
            stop_reason, message, final = self._loop(plain)
        except ContextOverflowError as exc:
            stop_reason, message = "budget", f"context window full: {exc}"
        finally:
            signal = self.signal
            evaluated = plain.n_evaluated + (signal.n_evaluated if signal is not None else 0)
            plain.close()
            if signal is not None:
                signal.close()
        return self._finish(final, stop_reason, message, evaluated)

    def _loop(self, plain: Session) -> tuple[str, str, str | None]:
        """Write tokens until the decode ends; returns ``(stop reason, message, final program)``
        (``None``: the program is the code written)."""
        s = self.settings
        lines_since_def = 0
        at_line_start = True
        while True:
            code = self.prefix + self.gen_text
            header = def_header_done(code, self.task.entry_point)
            if at_line_start and header is not None and self.guide_on:
                if lines_since_def % s.k == 0 and not self._finished_body(code):
                    if self._follows_candidate(code):
                        self._keep_signal()
                    else:
                        ended = self._guide(plain)
                        if ended is not None:
                            final, stop_reason = ended
                            note = self.accepted_note if stop_reason == "accepted" else ""
                            return stop_reason, note, final
                        self._sync_signal()
                lines_since_def += 1
            at_line_start = False
            if len(self.gen_ids) >= s.max_new_tokens:
                return "budget", f"{s.max_new_tokens} new tokens written", None
            if self.clock.over:
                return "budget", f"time budget of {s.time_budget_s:g} s spent", None
            new_ids, eos = self._next(plain, self.signal)
            if eos and not new_ids:
                return "eos", "", None
            ended, at_line_start = self._advance(plain, new_ids)
            if ended is not None:
                final, stop_reason = ended
                return stop_reason, "", final
            if eos:
                return "eos", "", None

    def _sync_signal(self) -> None:
        """Point the signal context P+S at the current signal and code (opened on first use)."""
        if self.signal_ids and self.logprobs:
            if self.signal is None:
                self.signal = self.model.new_session()
            self.signal.set_tokens([*self.signal_ids, *self.gen_ids])

    def _advance(self, plain: Session, new_ids: list[int]) -> tuple[tuple[str, str] | None, bool]:
        """Append ``new_ids`` to the code and both contexts. Returns ``(program, stop reason)``
        when that ends the decode (a stop sequence, the function's end, ``stop_after_blocks``),
        and whether a new line started."""
        self.gen_ids.extend(new_ids)
        if self.logprobs:
            plain.append(new_ids)
        if self.signal is not None:
            self.signal.append(new_ids)
        before = self.gen_text
        self.gen_text = self.model.detokenize(self.gen_ids)
        hits = [i for i in (self.gen_text.find(x) for x in self.prompt.stop) if i >= 0]
        if hits:
            return (self.prefix + self.gen_text[: min(hits)], "stop"), False
        code = self.prefix + self.gen_text
        end = function_end(code, self.task.entry_point)
        if end is not None:
            return (code[:end], "function_end"), False
        if self.gen_text.count("\n") <= before.count("\n"):
            return None, False
        self._close_lines()
        header = def_header_done(code, self.task.entry_point)
        if header is not None:
            kept = self._blocks_done(header)
            if kept is not None:
                return (kept, "blocks"), True
        return None, True

    def _finish(self, final: str | None, stop_reason: str, message: str, evaluated: int) -> Decoded:
        """Record the last line, add up the cost and judge the program."""
        self._close_lines()
        kept = self.gen_text
        if final is not None:
            kept = final[len(self.prefix) :] if final.startswith(self.prefix) else ""
        tail = kept[self.line_start :] if stop_reason != "early_stop" else ""
        if tail.strip():
            self.lines.append(
                LineRecord(
                    index=len(self.lines),
                    text=tail,
                    guided=self.pending,
                    tokens=tuple(self.line_tokens),
                )
            )
        program = final if final is not None else self.prefix + self.gen_text
        if self.guide_on and self.n_steps and self.timeouts_only and not message:
            message = "every candidate execution timed out"
        cost = Cost(
            tokens_evaluated=evaluated,
            tokens_generated=len(self.gen_ids) + self.candidate_tokens,
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
            stop_reason=stop_reason or "eos",
            message=message,
            cost=cost,
            lines=self.lines,
        )

    def _next(self, plain: Session, signal: Session | None) -> tuple[list[int], bool]:
        """The next token (or, without logprobs, the next line); and whether EOS came."""
        if self.logprobs:
            choice = choose_token(
                model=self.model,
                plain=plain,
                signal=signal,
                gamma=self.settings.gamma,
                params=self.params,
                rng=self.rng,
                skip_plain_at_one=self.settings.skip_plain_at_gamma_one,
            )
            if choice.token in self.model.eos_token_ids:
                return [], True
            self.line_tokens.append(choice.record)
            return [choice.token], False
        use_signal = bool(self.signal_ids) and self.settings.gamma >= 1.0
        context = [*(self.signal_ids if use_signal else self.plain_ids), *self.gen_ids]
        remaining = self.settings.max_new_tokens - len(self.gen_ids)
        (completion,) = self.model.complete(
            context,
            n=1,
            params=SamplingParams(
                temperature=self.settings.temperature,
                top_p=self.settings.top_p,
                seed=self._seed(),
            ),
            max_tokens=max(1, min(self.settings.max_line_tokens, remaining)),
            stop=self.prompt.stop,
            stop_lines=1,
        )
        ids = self.model.tokenize(completion.text) if completion.text else []
        self.line_tokens.extend(TokenRecord(text=self.model.detokenize([t]), id=t) for t in ids)
        stopped = completion.finish_reason == "stop" and not completion.text.endswith("\n")
        return ids, completion.finish_reason == "eos" or stopped or not ids
