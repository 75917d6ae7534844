"""Tokens per second: plain decoding vs EG-CFG-style guided decoding, side by side in one run.

Plain: one session decodes greedily after a code prompt P. Guided: two sessions — P + code and
P + S + code, where S is a dynamic signal of ~1,000 tokens (execution traces in EG-CFG) that is
replaced every ``--every`` tokens; each token is drawn from the guided distribution (γ=3). A
signal change forces the signal session to evaluate S and the code written so far again (the
shared instruction prefix P stays cached); between changes a guided token costs one
single-token evaluation in each session.

Run ``python benchmarks/guided_decoding.py --quick`` (under a minute) or without ``--quick`` for
longer, steadier numbers. Numbers are noisy on a shared CPU: the ratios are measured in one run.

``--levers`` prints the cost table of the speed levers of issue 14 instead, each alone and the
kept ones together, side by side with plain tokens in one run: a *replay* of a realistic
guided decode (see ``_lever_replay.py`` beside this file): the real prompt of a HumanEval-style
task (``--style mbpp`` for the chat prefill form), a program written line by line with its
tokens forced, and at every line start a guidance step — ``s`` candidates sampled ``d`` lines
ahead from the plain context (for their cost) and a dynamic signal rendered from scripted
candidates really executed in the local sandbox. Forcing the tokens makes every variant pay for
the same decode, and shows whether a lever changes outputs: the table gives how often the guided
argmax and the guided log-prob of each forced token differ from today's. Levers: (a) the
signal after the given code, (b) the compact signal, (c) keep the signal while the code is a
prefix of an executed candidate, (d) γ=1 without the plain context's per-token evaluation,
(a2) the given code without its docstring in the signal context,
(e) ``n_threads_batch`` = all cores, (f) the entropy gate, (g) the signal context starting from a
copy of the plain context's KV cache (``LlamaCppModel(share_prefix=True)``, now the default;
main's behaviour is the first row), and ``batch`` (both contexts in one ``llama_decode``). ``--levers --quick`` (3 lines) takes about five CPU minutes, the full
replay (10 lines, two alternating repeats) about half an hour.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from beadline.agents.decoding.guidance import guide
from beadline.agents.models.base import SamplingParams
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.agents.models.sampling import sample_token

PROMPT = """You are an expert Python programmer. Write the function; the tests show what it must do.

Problem: Write a function to find the minimum cost path to reach (m, n) from (0, 0) in a cost
matrix, moving right, down or diagonally.
Tests:
assert min_cost([[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2) == 8
assert min_cost([[2, 3, 4], [5, 9, 3], [2, 6, 4]], 2, 2) == 12
assert min_cost([[3, 4, 5], [6, 10, 4], [3, 7, 5]], 2, 2) == 16
"""

ANSWER = "Solution:\n```python\ndef min_cost(cost, m, n):\n"


def make_signal(model: LlamaCppModel, version: int, target_tokens: int) -> list[int]:
    """A trace-like dynamic signal of about ``target_tokens`` tokens; differs per version."""
    lines = [f"# Dynamic signal {version}: candidate programs and their execution traces"]
    i = 0
    while True:
        lines.append(
            f"# candidate {version}.{i}: line {i % 17 + 3}: tc[{i % 5}][{i % 7}] = "
            f"{(version * 31 + i * 7) % 97}; i = {i % 5}, j = {i % 7}, total = {i * version + 3}"
        )
        i += 1
        if i % 8 == 0:
            tokens = model.tokenize("\n".join(lines) + "\n")
            if len(tokens) >= target_tokens:
                return tokens[:target_tokens] + model.tokenize("\n")


@dataclass
class Run:
    """Timings of one decoding run: wall clock and this process's CPU time.

    CPU time is the steadier measure on a shared machine (llama.cpp runs on ``--threads``
    threads of this process; with one thread CPU time is the work done, whatever the load).
    """

    tokens: int
    seconds: float = 0.0
    cpu: float = 0.0
    refresh_seconds: float = 0.0
    refresh_cpu: float = 0.0
    refreshes: int = 0

    def rate(self, *, cpu: bool, steady: bool = False) -> float:
        total = self.cpu if cpu else self.seconds
        if steady:
            total -= self.refresh_cpu if cpu else self.refresh_seconds
        return self.tokens / total


class _Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_plain(model: LlamaCppModel, prompt: list[int], n: int) -> Run:
    rng = np.random.default_rng(0)
    greedy = SamplingParams()
    with model.new_session(prompt) as s:
        s.next_logprobs()  # the prompt is evaluated outside the timed loop
        clock = _Clock()
        for _ in range(n):
            tok = sample_token(s.next_logprobs(), greedy, rng)
            s.append([tok])
        wall, cpu = clock.lap()
        return Run(tokens=n, seconds=wall, cpu=cpu)


def run_guided(
    model: LlamaCppModel,
    head: list[int],
    answer: list[int],
    n: int,
    *,
    every: int,
    signal_tokens: int,
    gamma: float,
) -> Run:
    rng = np.random.default_rng(0)
    greedy = SamplingParams()
    signals = [make_signal(model, v, signal_tokens) for v in range(n // every + 2)]
    code: list[int] = []
    run = Run(tokens=n)
    with model.new_session(head + answer) as plain, model.new_session() as guided:
        signal = signals[0]
        guided.set_tokens(head + signal + answer)
        model.next_logprobs_batch([plain, guided])
        clock = _Clock()
        for i in range(n):
            step = _Clock()
            refresh = i > 0 and i % every == 0
            if refresh:  # a new signal: the guided context changes after the shared head
                signal = signals[i // every]
                guided.set_tokens(head + signal + answer + code)
            p, s = model.next_logprobs_batch([plain, guided])
            tok = sample_token(guide(p, s, gamma), greedy, rng)
            code.append(tok)
            plain.append([tok])
            guided.append([tok])
            if refresh:
                wall, cpu = step.lap()
                run.refresh_seconds += wall
                run.refresh_cpu += cpu
                run.refreshes += 1
        run.seconds, run.cpu = clock.lap()
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a run of under a minute")
    ap.add_argument(
        "--levers",
        nargs="?",
        const="all",
        default=None,
        metavar="LIST",
        help="print the speed-lever table instead: all levers, or e.g. 'a,b,c,d'",
    )
    ap.add_argument(
        "--kept",
        action="append",
        default=None,
        help="levers combined in one row, e.g. 'b,c,d,g' (repeat for several; default b,c,d,g)",
    )
    ap.add_argument("--style", choices=("humaneval", "mbpp"), default="humaneval")
    ap.add_argument("--lines", type=int, default=None, help="lines replayed (default: all)")
    ap.add_argument("--gate", type=float, default=0.5, help="entropy gate threshold, nats")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tokens", type=int, default=None, help="tokens per run (default 200)")
    ap.add_argument("--signal-tokens", type=int, default=1000)
    ap.add_argument("--every", type=int, default=20, help="change the signal every N tokens")
    ap.add_argument("--gamma", type=float, default=None, help="default 3 (--levers: 1)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--threads-batch", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None, help="alternating repeats (default 2)")
    args = ap.parse_args()
    if args.levers is not None:
        from _lever_replay import run_lever_table

        run_lever_table(args)
        return
    n = args.tokens or (40 if args.quick else 200)
    args.gamma = 3.0 if args.gamma is None else args.gamma
    repeats = args.repeats or (1 if args.quick else 2)
    model = LlamaCppModel(
        args.model, n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads_batch
    )
    head = model.tokenize(PROMPT)
    answer = model.tokenize(ANSWER)
    plain_runs, guided_runs = [], []
    for _ in range(repeats):  # alternate, so load changes hit both alike
        plain_runs.append(run_plain(model, head + answer, n))
        guided_runs.append(
            run_guided(
                model,
                head,
                answer,
                n,
                every=args.every,
                signal_tokens=args.signal_tokens,
                gamma=args.gamma,
            )
        )
    plain = max(plain_runs, key=lambda r: r.rate(cpu=True))
    guided = max(guided_runs, key=lambda r: r.rate(cpu=True))
    table = Table(
        title=(
            f"{model.name}: {n} tokens, prompt {len(head) + len(answer)} tokens, signal "
            f"{args.signal_tokens} tokens changed every {args.every}, γ={args.gamma:g}, "
            f"threads {args.threads}/{args.threads_batch or args.threads}, best of {repeats}"
        )
    )
    for col in ("mode", "tok/s (CPU time)", "cost vs plain", "tok/s (wall)", "cost (wall)"):
        table.add_column(col, justify="right" if col != "mode" else "left")
    rows = [
        ("plain", plain, False),
        ("guided, steady state (between signal changes)", guided, True),
        (f"guided, incl. {guided.refreshes} signal changes", guided, False),
    ]
    for label, run, steady in rows:
        cpu_rate = run.rate(cpu=True, steady=steady)
        wall_rate = run.rate(cpu=False, steady=steady)
        table.add_row(
            label,
            f"{cpu_rate:.1f}",
            f"{plain.rate(cpu=True) / cpu_rate:.2f}x",
            f"{wall_rate:.1f}",
            f"{plain.rate(cpu=False) / wall_rate:.2f}x",
        )
    console = Console(width=160)
    console.print(table)
    per_change = guided.refresh_cpu / max(guided.refreshes, 1)
    console.print(
        f"one signal change (re-evaluating ~{args.signal_tokens} signal tokens + the code so far) "
        f"costs {per_change:.2f} CPU s = {per_change * plain.rate(cpu=True):.0f} plain tokens; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    model.close()


if __name__ == "__main__":
    main()
