"""The OpenAI-compatible backend against the local llama.cpp backend, side by side in one run.

Starts two ``python -m llama_cpp.server`` processes on the packaged SmolLM2 file (the same file
and thread count as the local backend: ``--n_threads 1 --n_threads_batch 1``, ``--n_ctx 4096``),
then runs, interleaved, ``--repeats`` times each:

- ``beadline solve TASK --sandbox local`` with the local backend and with ``--backend openai``
  against one server, and against both (``OPENAI_BASE_URL=A,B``: each context on its own
  server, so each keeps its own prompt cache);
- ``beadline bead run BEAD --dry-run --sandbox local`` the same three ways.

With ``--before CHECKOUT`` (another worktree with its own ``.venv``, e.g. ``/work/main``) the
same runs go through that checkout's code too, local and against one server (an older client
takes one URL only; it needs the ``--backend``/``--base-url`` options of ``solve`` and ``bead
run``): the before/after table of one session. Every server is flushed (sent an
unrelated one-token prompt) before each API run, so no run starts from a cache an earlier run
left. Figures are medians; ratios are API/local for the same code.

    .venv/bin/python benchmarks/api_backend.py --before /work/main --repeats 3

Needs the ``[server]`` extra (``make setup`` installs it). Takes minutes to an hour on a loaded
2-core machine; ``--skip-bead`` or ``--repeats 1`` for a quicker look.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from beadline.agents.models.registry import resolve_model_path

ROOT = Path(__file__).resolve().parent.parent
_SUMMARY = re.compile(r"^([A-Z_]+) · .*?([\d.]+) s, (\d+) tokens evaluated", re.M)


@dataclass(frozen=True)
class Checkout:
    """A version of beadline to measure: its root and its virtual environment's Python."""

    label: str
    root: Path
    python: Path


@dataclass
class Case:
    """One configuration measured ``repeats`` times."""

    what: str
    code: Checkout
    backend: str
    urls: tuple[str, ...] = ()
    seconds: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served(cmd: Sequence[str], name: str, log_path: Path, port: int) -> Iterator[str]:
    """Run the OpenAI-compatible server ``cmd`` (listening on ``port``, output to ``log_path``);
    yield its base URL once ``/models`` answers; stop it on exit."""
    log = log_path.open("wb")
    proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}: see {log.name}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start within 300 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def llama_cpp_server(python: Path, model: Path, log_dir: Path) -> Iterator[str]:
    """One ``llama_cpp.server`` on a free port; yields its base URL once it answers."""
    port = free_port()
    cmd = [
        str(python), "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1",
    ]  # fmt: skip
    with served(cmd, "llama_cpp.server", log_dir / f"server-{port}.log", port) as url:
        yield url


def flush(url: str) -> None:
    """Replace the server's cached prompt by an unrelated one-token prompt."""
    body = {"model": "m", "prompt": "flush", "max_tokens": 1, "temperature": 0}
    httpx.post(f"{url}/completions", json=body, timeout=600).raise_for_status()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BEADLINE_"))}
    return {**env, "COLUMNS": "200"}  # rich wraps summary lines at 80 columns otherwise


def _backend_args(case: Case) -> list[str]:
    args = ["--backend", case.backend]
    return args + (["--base-url", ",".join(case.urls)] if case.urls else [])


def run_solve(case: Case, task: Path) -> None:
    """``beadline solve TASK`` once; records the solver's seconds, the wall time, the outcome."""
    cmd = [str(case.code.python), "-m", "beadline.workflows", "solve", str(task)]
    cmd += ["--sandbox", "local", *_backend_args(case)]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    found = _SUMMARY.search(done.stdout)
    if found is None:
        raise SystemExit(
            f"{case.what}: no summary line\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    case.seconds.append(float(found.group(2)))
    case.walls.append(wall)
    case.outcomes.append(found.group(1))


def run_bead(case: Case, bead: Path, scratch: Path) -> None:
    """``beadline bead run BEAD --dry-run`` once, in a scratch database and report folder."""
    where = Path(tempfile.mkdtemp(dir=scratch))
    cmd = [str(case.code.python), "-m", "beadline.workflows", "bead", "run", str(bead)]
    cmd += ["--dry-run", "--sandbox", "local", *_backend_args(case)]
    cmd += ["--db", str(where / "db.sqlite"), "--report-dir", str(where / "reports")]
    started = time.perf_counter()
    done = subprocess.run(
        cmd, env=_env(), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    seconds = re.findall(r"(?:^|; )([\d.]+) s\s*$", done.stdout, re.M)
    outcome = re.findall(r"^bead \S+: (.*?)\s*$", done.stdout, re.M)
    if done.returncode != 0 or not seconds or not outcome:
        raise SystemExit(
            f"{case.what}: bead run failed\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    case.seconds.append(float(seconds[-1]))
    case.walls.append(wall)
    case.outcomes.append(outcome[-1])


def _cases(after: Checkout, before: Checkout | None, urls: Sequence[str]) -> list[Case]:
    cases = [
        Case("local", after, "llama_cpp"),
        Case("api, 1 server", after, "openai", (urls[0],)),
        Case("api, 2 servers", after, "openai", tuple(urls)),
    ]
    if before is not None:
        cases += [
            Case("local", before, "llama_cpp"),
            Case("api, 1 server", before, "openai", (urls[0],)),
        ]
    return cases


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(title: str, cases: Sequence[Case]) -> None:
    """Print one table: median seconds, API/local ratio for the same code, outcomes."""
    print(f"\n{title}")
    print("| code | backend | median s | median wall s | API/local | runs (outcome) |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        local = next(c for c in cases if c.code == case.code and c.backend == "llama_cpp")
        ratio = _median(case.seconds) / _median(local.seconds)
        outcome = ", ".join(sorted(set(case.outcomes)))
        print(
            f"| {case.code.label} | {case.what} | {_median(case.seconds):.1f} | "
            f"{_median(case.walls):.1f} | {ratio:.1f}x | {len(case.seconds)} ({outcome}) |"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, start the servers, run the cases interleaved, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout (with .venv) to compare")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task", type=Path, default=ROOT / "examples/tasks/sum_list.yaml")
    parser.add_argument("--bead", type=Path, default=ROOT / "examples/beads/1-square.yaml")
    parser.add_argument("--skip-bead", action="store_true")
    parser.add_argument("--skip-solve", action="store_true")
    args = parser.parse_args(argv)
    # a SIGTERM ends the run through the finally blocks, which stop the servers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    after = Checkout("after", ROOT, Path(sys.executable))
    before = None
    if args.before is not None:
        before = Checkout(
            "before", args.before.resolve(), args.before.resolve() / ".venv/bin/python"
        )
        if not before.python.exists():
            raise SystemExit(f"{before.python} not found: run `make setup` in {before.root}")
    model = resolve_model_path("smollm2-135m")
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="api-bench-")))
        urls = [stack.enter_context(llama_cpp_server(after.python, model, scratch)) for _ in "ab"]
        print(f"servers: {', '.join(urls)} on {model.name} (n_threads 1, n_ctx 4096)")
        solves = [] if args.skip_solve else _cases(after, before, urls)
        beads = [] if args.skip_bead else _cases(after, before, urls)
        for i in range(args.repeats):
            for case in solves:
                for url in case.urls:
                    flush(url)
                run_solve(case, args.task)
                print(f"  solve {i + 1}: {case.code.label:6} {case.what:15} {case.seconds[-1]:7.1f} s  {case.outcomes[-1]}", flush=True)  # fmt: skip
            for case in beads:
                for url in case.urls:
                    flush(url)
                run_bead(case, args.bead, scratch)
                print(f"  bead  {i + 1}: {case.code.label:6} {case.what:15} {case.seconds[-1]:7.1f} s  {case.outcomes[-1]}", flush=True)  # fmt: skip
    if solves:
        report(f"`beadline solve {args.task.name} --sandbox local` (solver seconds)", solves)
    if beads:
        report(
            f"`beadline bead run {args.bead.name} --dry-run --sandbox local` (run seconds)", beads
        )


if __name__ == "__main__":
    main()
