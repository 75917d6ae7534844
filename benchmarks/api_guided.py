"""Guided decoding through OpenAI-compatible servers, beside the local backend, in one run.

Each setup decodes ``--tokens`` guided tokens (γ=1, greedy) after a code prompt P (~200 tokens)
and a signal context P+S (S: ~600 tokens of trace-like lines), as EG-CFG does between two
signal changes, and reports the first token's seconds (both contexts read cold: every server is
flushed first) and the tokens per second after it. Setups:

- ``local``: the llama.cpp backend (1 thread);
- ``llama_cpp.server, as main``: one server, the requests one after the other and not streamed
  (``stream_logprobs=False, concurrency=1``: the backend before this change);
- ``llama_cpp.server``: one server, both requests at once, streamed;
- ``2 x llama_cpp.server``: two servers on the same file, each context pinned to one;
- ``llama-server -np 2`` (with ``--llama-server PATH``): llama.cpp's own server with two slots,
  placed by the server, and ``... slots=2``: each context pinned to a slot (``id_slot``).

Every server runs with 1 thread (``--n_threads 1 --n_threads_batch 1`` / ``-t 1 -tb 1``), as
the local backend does. Figures are medians of ``--repeats`` runs.

    .venv/bin/python benchmarks/api_guided.py --llama-server /path/to/llama-server
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from beadline.agents.decoding.generate import generate_guided
from beadline.agents.models.base import Model
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.agents.models.openai import OpenAIModel
from beadline.agents.models.registry import resolve_model_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_backend import flush, free_port, llama_cpp_server, served

PROMPT = """You are an expert Python programmer. Write the function; the tests show what it must do.

Problem: Write a function to find the minimum cost path to reach (m, n) from (0, 0) in a cost
matrix, moving right, down or diagonally.
Tests:
assert min_cost([[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2) == 8
assert min_cost([[2, 3, 4], [5, 9, 3], [2, 6, 4]], 2, 2) == 12
Solution:
```python
def min_cost(cost, m, n):
"""


def signal_text(lines: int) -> str:
    """A trace-like dynamic signal of ``lines`` lines."""
    out = ["# Dynamic signal: candidate programs and their execution traces"]
    for i in range(lines):
        out.append(f"# line {i % 17 + 3}: tc[{i % 5}][{i % 7}] = {(i * 7) % 97}; i = {i % 5}")
    return "\n".join(out) + "\n"


@contextmanager
def llama_server(binary: Path, model: Path, log_dir: Path) -> Iterator[str]:
    """llama.cpp's ``llama-server`` with two slots of 4,096 tokens on a free port."""
    port = free_port()
    cmd = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["-c", "8192", "-np", "2", "-t", "1", "-tb", "1"]
    with served(cmd, "llama-server", log_dir / f"llama-server-{port}.log", port) as url:
        yield url


def measure(model: Model, tokens: int) -> tuple[float, float]:
    """First-token seconds and tokens/s after it, for one guided decode."""
    plain = model.tokenize(PROMPT, add_bos=True)
    with_signal = model.tokenize(signal_text(40) + PROMPT, add_bos=True)
    started = time.perf_counter()
    generate_guided(model, plain, with_signal, gamma=1.0, max_tokens=1)
    first = time.perf_counter() - started
    started = time.perf_counter()
    out = generate_guided(model, plain, with_signal, gamma=1.0, max_tokens=tokens)
    rest = time.perf_counter() - started
    # the second decode starts from the cached contexts: its first token is like the others
    return first, len(out.tokens) / rest


def main(argv: Sequence[str] | None = None) -> None:
    """Start the servers, measure every setup ``--repeats`` times interleaved, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llama-server", type=Path, help="a llama-server binary to include")
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    model_file = resolve_model_path("smollm2-135m")
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="api-guided-")))
        a, b = (
            stack.enter_context(llama_cpp_server(Path(sys.executable), model_file, scratch))
            for _ in "ab"
        )
        local = stack.enter_context(LlamaCppModel(model_file, n_ctx=4096))
        setups: dict[str, tuple[Callable[[], Model], tuple[str, ...]]] = {
            "local": (lambda: local, ()),
            "llama_cpp.server, as main": (
                lambda: OpenAIModel(base_url=a, stream_logprobs=False, concurrency=1),
                (a,),
            ),
            "llama_cpp.server": (lambda: OpenAIModel(base_url=a), (a,)),
            "2 x llama_cpp.server": (lambda: OpenAIModel(base_url=[a, b]), (a, b)),
        }
        if args.llama_server is not None:
            ls = stack.enter_context(llama_server(args.llama_server, model_file, scratch))
            setups["llama-server -np 2"] = (lambda: OpenAIModel(base_url=ls), (ls,))
            setups["llama-server -np 2, slots=2"] = (
                lambda: OpenAIModel(base_url=ls, slots=2),
                (ls,),
            )
        firsts: dict[str, list[float]] = {name: [] for name in setups}
        rates: dict[str, list[float]] = {name: [] for name in setups}
        for i in range(args.repeats):
            for name, (make, urls) in setups.items():
                for url in urls:
                    flush(url)
                model = make()
                first, rate = measure(model, args.tokens)
                if model is not local:
                    model.close()
                firsts[name].append(first)
                rates[name].append(rate)
                print(f"  {i + 1}: {name:28} first {first:6.2f} s  {rate:5.1f} tok/s", flush=True)
    base = statistics.median(rates["local"])
    print("\n| setup | first guided token, s | guided tok/s after it | vs local |")
    print("|---|---|---|---|")
    for name in setups:
        rate = statistics.median(rates[name])
        print(
            f"| {name} | {statistics.median(firsts[name]):.2f} | {rate:.1f} | {rate / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
