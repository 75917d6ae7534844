"""The speed-lever table of ``guided_decoding.py --levers``: one guided decode, replayed per lever.

A replay writes a fixed program (:data:`BODY`) token by token after the real prompt of a task
(:func:`beadline.agents.prompts.build_prompt`): each token is *forced* (the program's own next
token is appended, whatever the guided distribution says), so every variant does the same work
and the guided distributions can be compared position by position. At every line start after
the ``def`` line a guidance step runs as in the decoder (k=1):

1. ``s`` candidates are sampled ``d`` lines ahead from the plain context (their tokens are
   thrown away: they are paid for, as in the decoder);
2. the dynamic signal is rendered from two scripted candidates, executed in the local sandbox
   beforehand (the next ``d`` lines of the program, and a wrong early ``return 0``), ranked by
   tests passed like the decoder does;
3. the signal context is replaced (the KV cache keeps the common prefix).

Execution (about 1 % of a real decode's time, measured in issue 14) is done before the timed
loop. What each lever changes is in :class:`Variant`; the decoder's own implementation of the
kept levers is described in the issue-14 report, this module only reproduces their cost.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from beadline.agents.decoding.compact_signal import render_compact_signal
from beadline.agents.decoding.guidance import guide
from beadline.agents.decoding.signal import CandidateRun, render_signal
from beadline.agents.models.base import NextTokenLogprobs, SamplingParams, Session
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.agents.prompts.builder import Prompt, build_prompt
from beadline.agents.task import Task
from beadline.validators.executor import Limits, RunRequest, TestCase
from beadline.validators.partial import make_executable
from beadline.validators.sandbox.factory import make_executor

ENTRY = "min_cost"
TESTS = (
    "assert min_cost([[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2) == 8",
    "assert min_cost([[2, 3, 4], [5, 9, 3], [2, 6, 4]], 2, 2) == 12",
    "assert min_cost([[3, 4, 5], [6, 10, 4], [3, 7, 5]], 2, 2) == 16",
)
DESCRIPTION = (
    "Return the minimum cost of a path from (0, 0) to (m, n) in the cost matrix, moving right, "
    "down or diagonally."
)
GIVEN = f'''def min_cost(cost, m, n):
    """{DESCRIPTION}

    >>> min_cost([[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2)
    8
    >>> min_cost([[2, 3, 4], [5, 9, 3], [2, 6, 4]], 2, 2)
    12
    """
'''
"""The HumanEval-style code prompt (signature and docstring with examples)."""
BODY = """\
    tc = [[0 for x in range(n + 1)] for x in range(m + 1)]
    tc[0][0] = cost[0][0]
    for i in range(1, m + 1):
        tc[i][0] = tc[i - 1][0] + cost[i][0]
    for j in range(1, n + 1):
        tc[0][j] = tc[0][j - 1] + cost[0][j]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            tc[i][j] = min(tc[i - 1][j - 1], tc[i - 1][j], tc[i][j - 1]) + cost[i][j]
    return tc[m][n]
"""
"""The program the replay writes (MBPP task 1's reference)."""


@dataclass(frozen=True, kw_only=True)
class Variant:
    """What one row of the table switches on (defaults: the decoder today)."""

    key: str
    label: str
    after_code: bool = False
    """(a) the signal as comments after the given code, not before the answer."""
    short_given: bool = False
    """(a2) the signal stays before the answer, but the signal context's copy of the given code
    has no docstring (the task text is in the prompt already), so less follows the signal."""
    compact: bool = False
    """(b) :func:`render_compact_signal` instead of the full signal."""
    keep_prefix: bool = False
    """(c) no guidance step while the code is a strict prefix of a shown candidate."""
    skip_plain: bool = False
    """(d) at γ=1 the token comes from the signal context alone; the plain context is only
    brought up to date (in one batch) when candidates are sampled from it."""
    threads_batch: int | None = None
    """(e) threads for multi-token evaluation (prefill, signal changes)."""
    share_prefix: bool = False
    """(g) the signal context starts from a copy of the plain context's KV cache (the prompt
    head), :class:`LlamaCppModel`'s ``share_prefix`` (off on main)."""
    gate: float | None = None
    """(f) use the plain distribution where its entropy (nats) is below this."""
    batch: bool = False
    """Evaluate both contexts in one ``llama_decode``."""


@dataclass(frozen=True, kw_only=True)
class Step:
    """One line start of the script."""

    line: int
    """Index of the line about to be written."""
    code: str
    """Program text so far (prompt prefix + lines written)."""
    full: str
    """The dynamic signal (full renderer)."""
    compact: str
    """The dynamic signal (compact renderer)."""
    continuations: tuple[str, ...]
    """The shown candidates' code (code so far + their lines)."""


@dataclass(frozen=True, kw_only=True)
class Script:
    """The replayed decode: prompt, forced tokens per line, guidance steps."""

    prompt: Prompt
    plain_ids: tuple[int, ...]
    lines: tuple[tuple[int, ...], ...]
    """Forced tokens of each line."""
    steps: dict[int, Step]
    """Guidance steps by line index."""


@dataclass
class Replay:
    """Costs and guided log-probs of one replay."""

    tokens: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    steps: int = 0
    changes: int = 0
    gated: int = 0
    evaluated: int = 0
    """Tokens the model evaluated (both contexts and the candidates), after the prompt."""
    decode_calls: int = 0
    """``llama_decode`` calls (one per single-token step or prefill chunk)."""
    reevaluated: list[int] = field(default_factory=list)
    signal_tokens: list[int] = field(default_factory=list)
    argmax: list[int] = field(default_factory=list)
    logp: list[float] = field(default_factory=list)
    gamma0_mismatches: int = 0
    """Positions where argmax guide(p, s, γ=0) differs from argmax p (checked runs only)."""
    gamma0_max_diff: float = 0.0
    """Largest |guide(p, s, γ=0) − log p| (checked runs only)."""
    final_context: tuple[int, ...] = ()
    """The signal context after the last forced token."""
    final_signal: npt.NDArray[np.float64] | None = None
    """log p(·|P+S) after the last forced token, as the replay's KV reuse computed it."""


def _task(style: str) -> Task:
    return Task(
        task_id="bench/min_cost",
        description=DESCRIPTION,
        entry_point=ENTRY,
        tests=tuple(TestCase.from_assert(t) for t in TESTS),
        prompt=GIVEN if style == "humaneval" else None,
    )


def _forced_text(prompt: Prompt) -> str:
    """What the model writes after the prompt's program prefix."""
    prefix = prompt.program_prefix
    # HumanEval style: the prefix is the given code and the body's indent; else the chat
    # prefill ``def min_cost(``
    whole = GIVEN + BODY if prefix.startswith("def ") else "def min_cost(cost, m, n):\n" + BODY
    if not whole.startswith(prefix):
        raise SystemExit(f"the prompt's program prefix {prefix!r} does not start the script")
    return whole[len(prefix) :]


def _without_docstring(code: str) -> str:
    """``code`` (ending inside a function, after its docstring) minus the docstring's lines."""
    tree = ast.parse(code.rstrip(" \t") + "    pass\n")
    lines = code.splitlines(keepends=True)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) is not None:
            doc = node.body[0]
            assert doc.end_lineno is not None
            del lines[doc.lineno - 1 : doc.end_lineno]
            break
    return "".join(lines)


def _signal_context(
    prompt: Prompt, signal: str, *, after_code: bool, short_given: bool = False
) -> str:
    """The signal context's text up to the generated code (today's layout, or lever a/a2)."""
    if short_given:
        short = replace(prompt, program_prefix=_without_docstring(prompt.program_prefix))
        return short.text(signal)
    # (a) is the decoder's own layout: DecoderSettings(signal_after_code=True)
    return prompt.text(signal, after_code=after_code)


def build_script(model: LlamaCppModel, style: str, d: int, max_lines: int | None) -> Script:
    """Tokenize the script and execute its scripted candidates (untimed)."""
    task = _task(style)
    prompt = build_prompt(task, model)
    text_lines = _forced_text(prompt).splitlines(keepends=True)[:max_lines]
    lines = tuple(tuple(model.tokenize(line)) for line in text_lines)
    code = prompt.program_prefix
    pending: list[tuple[int, str, list[str]]] = []
    for i, line in enumerate(text_lines):
        header_done = "def min_cost(" in code and ("):\n" in code)
        if header_done and (code.endswith("\n") or code.endswith("   ")):
            ahead = "".join(text_lines[i : i + d])
            body = line if line.strip() else "    pass\n"
            indent = body[: len(body) - len(body.lstrip())] or "    "
            wrong = f"{indent}return 0\n"
            pending.append((i, code, [code + ahead, code + wrong]))
        code += line
    steps: dict[int, Step] = {}
    with make_executor("local", workers=1) as executor:
        for i, before, candidates in pending:
            programs = [make_executable(c).code for c in candidates]
            runs = [
                CandidateRun(program=p, result=r)
                for p, r in zip(
                    [p for p in programs if p],
                    executor.run_many(
                        [
                            RunRequest(
                                program=p,
                                tests=task.tests,
                                limits=Limits(wall_s=2.0, cpu_s=2.0),
                                trace=True,
                                trace_function=ENTRY,
                            )
                            for p in programs
                            if p
                        ]
                    ),
                    strict=True,
                )
            ]
            runs.sort(key=lambda r: -r.result.n_passed)
            steps[i] = Step(
                line=i,
                code=before,
                full=render_signal(runs, entry_point=ENTRY),
                compact=render_compact_signal(runs, entry_point=ENTRY),
                continuations=tuple(candidates),
            )
    plain_ids = tuple(model.tokenize(prompt.text(), add_bos=True))
    return Script(prompt=prompt, plain_ids=plain_ids, lines=lines, steps=steps)


def _entropy(dist: NextTokenLogprobs) -> float:
    lp = dist.logprobs
    p = np.exp(lp)
    return float(-(p * np.where(p > 0, lp, 0.0)).sum())


def replay(
    model: LlamaCppModel,
    script: Script,
    variant: Variant,
    *,
    gamma: float,
    s: int,
    d: int,
    check: bool = False,
) -> Replay:
    """One guided decode of ``script`` under ``variant`` (the plain prompt is evaluated first,
    untimed, as the grid's γ=0 decode leaves it cached). ``check`` also records the γ=0 and
    KV-reuse invariants (untimed work is added to the timed loop: use it on an extra run)."""
    run = Replay()
    written: list[int] = []
    shown: tuple[str, ...] = ()
    candidates = SamplingParams(temperature=0.75, seed=0)
    with model.new_session(script.plain_ids) as plain:
        plain.next_logprobs()
        signal: Session | None = None
        start_eval, start_calls = plain.n_evaluated, model.decode_calls
        c0, w0 = time.process_time(), time.perf_counter()
        code = script.prompt.program_prefix
        for index, tokens in enumerate(script.lines):
            step = script.steps.get(index)
            keep = variant.keep_prefix and any(
                len(c) > len(code) and c.startswith(code) for c in shown
            )
            if step is not None and not keep:
                run.steps += 1
                context = [*script.plain_ids, *written]
                model.complete(
                    context,
                    n=s,
                    params=candidates,
                    max_tokens=d * 24,
                    stop=script.prompt.stop,
                    stop_lines=d,
                    session=plain,
                )
                text = step.compact if variant.compact else step.full
                ids = model.tokenize(
                    _signal_context(
                        script.prompt,
                        text,
                        after_code=variant.after_code,
                        short_given=variant.short_given,
                    ),
                    add_bos=True,
                )
                run.signal_tokens.append(len(ids) - len(script.plain_ids))
                if signal is None:
                    signal = model.new_session()
                before = signal.n_evaluated
                signal.set_tokens([*ids, *written])
                signal.next_logprobs()  # evaluated here to count it (the first token needs it)
                run.reevaluated.append(signal.n_evaluated - before)
                run.changes += 1
                shown = step.continuations
            for token in tokens:
                dist = _next(model, plain, signal, variant, gamma, run)
                run.argmax.append(int(np.argmax(dist.logprobs)))
                run.logp.append(float(dist.logprobs[token]))
                if check and signal is not None:
                    _check_gamma0(plain, signal, run)
                written.append(token)
                plain.append([token])
                if signal is not None:
                    signal.append([token])
                run.tokens += 1
            code += model.detokenize(list(tokens))
        run.cpu, run.wall = time.process_time() - c0, time.perf_counter() - w0
        run.evaluated = plain.n_evaluated - start_eval
        run.evaluated += signal.n_evaluated if signal is not None else 0
        run.decode_calls = model.decode_calls - start_calls
        if signal is not None:
            run.final_context = tuple(signal.tokens)
            run.final_signal = signal.next_logprobs().logprobs
            signal.close()
    return run


def _check_gamma0(plain: Session, signal: Session, run: Replay) -> None:
    p, g = plain.next_logprobs(), signal.next_logprobs()
    zero = guide(p, g, 0.0).logprobs
    if int(np.argmax(zero)) != int(np.argmax(p.logprobs)):
        run.gamma0_mismatches += 1
    run.gamma0_max_diff = max(run.gamma0_max_diff, float(np.abs(zero - p.logprobs).max()))


def _next(
    model: LlamaCppModel,
    plain: Session,
    signal: Session | None,
    variant: Variant,
    gamma: float,
    run: Replay,
) -> NextTokenLogprobs:
    if signal is None or gamma == 0:
        return plain.next_logprobs()
    if variant.skip_plain and gamma == 1.0:
        return signal.next_logprobs()
    if variant.batch:
        p, g = model.next_logprobs_batch([plain, signal])
        return guide(p, g, gamma)
    p = plain.next_logprobs()
    if variant.gate is not None and _entropy(p) < variant.gate:
        run.gated += 1
        return p
    return guide(p, signal.next_logprobs(), gamma)


def plain_run(model: LlamaCppModel, script: Script) -> Replay:
    """The same forced tokens through the plain context alone (the cost of a plain token)."""
    run = Replay()
    with model.new_session(script.plain_ids) as plain:
        plain.next_logprobs()
        start_eval, start_calls = plain.n_evaluated, model.decode_calls
        c0, w0 = time.process_time(), time.perf_counter()
        for tokens in script.lines:
            for token in tokens:
                dist = plain.next_logprobs()
                run.argmax.append(int(np.argmax(dist.logprobs)))
                plain.append([token])
                run.tokens += 1
        run.cpu, run.wall = time.process_time() - c0, time.perf_counter() - w0
        run.evaluated = plain.n_evaluated - start_eval
        run.decode_calls = model.decode_calls - start_calls
    return run


def variants(gate: float) -> dict[str, Variant]:
    """Every lever alone, keyed by its letter in issue 14."""
    cores = os.cpu_count() or 1
    return {
        "a": Variant(key="a", label="(a) signal after the given code", after_code=True),
        "a2": Variant(
            key="a2", label="(a2) given code without docstring after the signal", short_given=True
        ),
        "b": Variant(key="b", label="(b) compact signal", compact=True),
        "c": Variant(
            key="c", label="(c) keep signal while code is a candidate's prefix", keep_prefix=True
        ),
        "d": Variant(key="d", label="(d) γ=1: no per-token plain evaluation", skip_plain=True),
        "e": Variant(key="e", label=f"(e) n_threads_batch={cores}", threads_batch=cores),
        "f": Variant(key="f", label=f"(f) entropy gate < {gate:g} nats", gate=gate),
        "g": Variant(
            key="g", label="(g) signal context copies the plain KV prefix", share_prefix=True
        ),
        "batch": Variant(key="batch", label="both contexts in one llama_decode", batch=True),
    }


def _combined(parts: Sequence[Variant]) -> Variant:
    out = Variant(
        key="+".join(v.key for v in parts), label="kept together: " + "+".join(v.key for v in parts)
    )
    for v in parts:
        out = replace(
            out,
            after_code=out.after_code or v.after_code,
            short_given=out.short_given or v.short_given,
            compact=out.compact or v.compact,
            keep_prefix=out.keep_prefix or v.keep_prefix,
            skip_plain=out.skip_plain or v.skip_plain,
            threads_batch=v.threads_batch or out.threads_batch,
            share_prefix=out.share_prefix or v.share_prefix,
            gate=v.gate if v.gate is not None else out.gate,
            batch=out.batch or v.batch,
        )
    return out


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _compare(run: Replay, today: Replay) -> tuple[str, str]:
    """How often the argmax equals today's, and the largest change of the forced tokens'
    guided log-probs (``""`` for a run that records none, such as the plain one)."""
    same = sum(a == b for a, b in zip(run.argmax, today.argmax, strict=True))
    diff = ""
    if run.logp:
        diff = f"{max(abs(a - b) for a, b in zip(run.logp, today.logp, strict=True)):.2g}"
    return f"{same}/{len(today.argmax)}", diff


def run_lever_table(args: argparse.Namespace) -> None:
    """Print the lever table (``guided_decoding.py --levers``)."""
    console = Console(width=200)
    s, d = 2, 2  # the grid's first guided row (and the decoder's defaults)
    gamma = 1.0 if args.gamma is None else args.gamma
    model = LlamaCppModel(args.model, n_ctx=4096, n_threads=args.threads, share_prefix=False)
    lines = args.lines or (3 if args.quick else None)
    script = build_script(model, args.style, d, lines)
    table = variants(args.gate)
    keys = list(table) if args.levers == "all" else [k.strip() for k in args.levers.split(",")]
    combos = [[k.strip() for k in c.split(",") if k.strip()] for c in args.kept or ["b,c,d,g"]]
    unknown = [k for k in [*keys, *(k for c in combos for k in c)] if k not in table]
    if unknown:
        raise SystemExit(f"unknown lever(s) {', '.join(unknown)}: use {', '.join(table)}")
    rows = [
        Variant(key="today", label="main today (γ=1, s=2, d=2, k=1)"),
        *(table[k] for k in keys),
        *(_combined([table[k] for k in c]) for c in combos if len(c) > 1),
    ]

    def fresh(v: Variant) -> LlamaCppModel:
        # every replay starts from empty caches (no KV left by the row before it)
        return LlamaCppModel(
            args.model,
            n_ctx=4096,
            n_threads=args.threads,
            n_threads_batch=v.threads_batch,
            share_prefix=v.share_prefix,
        )

    repeats = args.repeats or (1 if args.quick else 2)
    plains: list[Replay] = []
    runs: dict[str, list[Replay]] = {v.key: [] for v in rows}
    for _ in range(repeats):  # alternate the rows, so load changes hit them alike
        plains.append(plain_run(model, script))
        for v in rows:
            with fresh(v) as m:
                runs[v.key].append(replay(m, script, v, gamma=gamma, s=s, d=d))
    with fresh(rows[0]) as m:
        checked = replay(m, script, rows[0], gamma=gamma, s=s, d=d, check=True)
    plain_cpu = _median([p.cpu / p.tokens for p in plains])
    plain_wall = _median([p.wall / p.tokens for p in plains])
    out = Table(
        title=(
            f"{model.name}, {args.style}-style prompt ({len(script.plain_ids)} tokens), "
            f"{sum(map(len, script.lines))} forced tokens over {len(script.lines)} lines, "
            f"γ={gamma:g} s={s} d={d}, threads {args.threads}, median of {repeats}; "
            f"plain token {plain_cpu * 1000:.0f} ms CPU"
        )
    )
    for col in (
        "variant",
        "CPU ms/token",
        "× plain (CPU)",
        "× plain (wall)",
        "evaluated / token",
        "llama_decode / token",
        "guidance steps",
        "re-evaluated per change",
        "signal tokens",
        "argmax = today",
        "max |Δ log p| vs today",
    ):
        out.add_column(col, justify="left" if col == "variant" else "right")
    today = runs["today"][0]
    out.add_row(
        "plain (the same tokens, no signal)",
        f"{plain_cpu * 1000:.0f}",
        "1.00x",
        "1.00x",
        f"{plains[0].evaluated / plains[0].tokens:.1f}",
        f"{plains[0].decode_calls / plains[0].tokens:.2f}",
        "0",
        "",
        "",
        _compare(plains[0], today)[0],
        "",
    )
    for v in rows:
        rs = runs[v.key]
        cpu = _median([r.cpu / r.tokens for r in rs])
        wall = _median([r.wall / r.tokens for r in rs])
        same, diff = _compare(rs[0], today)
        gated = f" ({rs[0].gated} gated)" if v.gate is not None else ""
        out.add_row(
            v.label + gated,
            f"{cpu * 1000:.0f}",
            f"{cpu / plain_cpu:.2f}x",
            f"{wall / plain_wall:.2f}x",
            f"{rs[0].evaluated / rs[0].tokens:.1f}",
            f"{rs[0].decode_calls / rs[0].tokens:.2f}",
            str(rs[0].steps),
            f"{_median(rs[0].reevaluated):.0f}",
            f"{_median(rs[0].signal_tokens):.0f}",
            same,
            diff,
        )
    console.print(out)
    with fresh(rows[0]) as m, m.new_session(checked.final_context) as session:
        again = session.next_logprobs().logprobs
    assert checked.final_signal is not None
    kv = float(np.abs(again - checked.final_signal).max())
    console.print(
        f"invariants: γ=0 guided argmax = plain argmax at "
        f"{checked.tokens - checked.gamma0_mismatches}/{checked.tokens} positions "
        f"(max |guide(p, s, 0) − log p| = {checked.gamma0_max_diff:.2g}); the last signal "
        f"context evaluated fresh vs through {checked.changes} KV-reusing changes: "
        f"max |Δ log p| = {kv:.2g}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    model.close()
