"""Milliseconds per traced test-case run: local and docker sandboxes vs a subprocess per run.

Each MBPP task's canonical solution runs on each of its asserts, one request per test case,
one after another (the EG-CFG hot path: a candidate on a test, traced). Three ways, measured
side by side in one run:

- ``subprocess``: a new Python process per run that compiles, runs and traces the case with the
  same harness code and rlimits (no fork server, no isolation beyond rlimits);
- ``local``: the local backend's warm fork-server (PID and network namespaces, a uid per slot,
  cgroup, HMAC-signed answers);
- ``docker``: the docker backend's worker in a warm hardened container (a uid per container,
  signed answers; only when an engine answers and the sandbox image exists);
- ``repo module`` (per backend): the same code and asserts run as a module of a package in a
  repository snapshot (``RunRequest.context``): each run imports the package (its ``__init__``
  and a sibling module with a dataclass and a constant, from the snapshot's byte code) and then
  the candidate as ``bench_pkg.solution``, with ``from .models import ...`` at its top. Plain
  and repo-module runs alternate request by request on the same warm executor, so their ratio
  is measured side by side; the issue's target is repo module <= 2x plain.

It prints median and p90 ms per run, the ratio of the subprocess median to each backend's, the
CPU milliseconds spent per run (this process plus the workers or subprocesses; a measure that
does not depend on how loaded the machine is; not known for docker, whose workers are not
this process's children), and the pool throughput of ``run_many`` (all runs submitted at once).
Targets on the 2-core dev machine: local <= 6 ms median, docker <= 8 ms, both >= 3x faster than
a subprocess per run.

Run ``python benchmarks/exec_throughput.py --quick`` (under a minute) or without ``--quick``
for MBPP tasks 11-110. Numbers are noisy on a shared CPU; the ratios are measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from beadline.validators.executor import Executor, Limits, ModuleContext, RunRequest, TestCase
from beadline.validators.harness import mbpp_tests
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.sandbox.local import WORKER_SCRIPT
from beadline.validators.snapshot import default_store, module_context

MBPP = Path(__file__).resolve().parent / "data" / "mbpp.jsonl"

_BASELINE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from runtime import harnesses
request = json.loads(sys.stdin.read())
prepared = harnesses.prepare(request)
case = prepared.cases[0]
result = prepared.error or case.error or harnesses.run_case(prepared, case)
sys.stdout.write(json.dumps(result))
"""


_PACKAGE = {
    "bench_pkg/__init__.py": (
        '"""A package the benchmark candidates live in."""\n\n'
        "from .models import LIMIT, Record\n\n"
        '__all__ = ["LIMIT", "Record"]\n'
    ),
    "bench_pkg/models.py": textwrap.dedent(
        """\
        from __future__ import annotations

        from dataclasses import dataclass, field

        LIMIT = 10_000


        @dataclass(frozen=True)
        class Record:
            name: str
            values: list[int] = field(default_factory=list)

            def total(self) -> int:
                return sum(self.values)


        def clip(value: int) -> int:
            return min(value, LIMIT)
        """
    ),
    "bench_pkg/solution.py": "from .models import LIMIT, Record, clip\n",
}
_HEADER = "from .models import LIMIT, Record, clip  # the package's names\n"


def bench_repo(root: Path) -> Path:
    """Write the small package the repo-module rows import into ``root``."""
    for relative, text in _PACKAGE.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def load_requests(first: int, last: int, context: ModuleContext | None = None) -> list[RunRequest]:
    """One single-test request per (task, assert) of MBPP tasks ``first``..``last`` (with a
    context: as module ``bench_pkg.solution`` of the snapshot, the package's names imported)."""
    requests = []
    with MBPP.open() as handle:
        for line in handle:
            task = json.loads(line)
            if not first <= task["task_id"] <= last:
                continue
            program = task["code"] if context is None else _HEADER + task["code"]
            for test in mbpp_tests(task["test_list"], task["test_setup_code"]):
                requests.append(
                    RunRequest(
                        program=program,
                        tests=(test,),
                        setup=task["test_setup_code"],
                        context=context,
                    )
                )
    return requests


def _limits() -> None:
    memory = Limits().memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (2, 3))


def _baseline_cpu_ms() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() * 1000.0 + (children.ru_utime + children.ru_stime) * 1000.0


def baseline_run(request: RunRequest) -> bool:
    """Run one request in a brand-new Python process (the subprocess-per-run baseline)."""
    test: TestCase = request.tests[0]
    payload = {
        "program": request.program,
        "setup": request.setup,
        "trace": True,
        "limits": {"repr_chars": 80, "trace_events": 200, "trace_chars": 6000},
        "tests": [{"kind": test.kind, "source": test.source}],
    }
    done = subprocess.run(
        [sys.executable, "-s", "-B", "-c", _BASELINE, str(WORKER_SCRIPT.parent.parent)],
        input=json.dumps(payload).encode(),
        capture_output=True,
        timeout=10,
        preexec_fn=_limits,
        check=False,
    )
    return bool(json.loads(done.stdout or b"{}").get("status") == "passed")


def time_each(
    run: Callable[[RunRequest], bool], requests: list[RunRequest]
) -> tuple[list[float], int]:
    """Milliseconds of each run, and how many passed."""
    times = []
    passed = 0
    for request in requests:
        start = time.perf_counter()
        passed += run(request)
        times.append((time.perf_counter() - start) * 1000.0)
    return times, passed


def p90(values: list[float]) -> float:
    """90th percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _process_cpu_ms(pid: int) -> float:
    """CPU milliseconds of a process and its reaped children (utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) * 1000.0 / os.sysconf("SC_CLK_TCK")


def _cpu_ms(pids: list[int]) -> float:
    total = time.process_time() * 1000.0
    for pid in pids:
        try:
            total += _process_cpu_ms(pid)
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure_backend(executor: Executor, *request_sets: list[RunRequest]) -> list[dict[str, float]]:
    """Latency per run (serial) and pool throughput (run_many) of a warm executor, per set.

    Several sets of the same length are timed alternately, request by request (plain, module,
    plain, module...), so a change of the machine's load hits each set alike.
    """
    for requests in request_sets:
        for request in requests[:10]:  # warm every worker and the page cache
            executor.run(request)
        executor.run_many(requests[:20])
    worker_pids = getattr(executor, "worker_pids", None)
    pids: list[int] = list(worker_pids()) if callable(worker_pids) else []
    times: list[list[float]] = [[] for _ in request_sets]
    passed = [0 for _ in request_sets]
    cpu = [0.0 for _ in request_sets]
    for column in zip(*request_sets, strict=True):
        for index, request in enumerate(column):
            cpu_before = _cpu_ms(pids)
            start = time.perf_counter()
            passed[index] += executor.run(request).passed
            times[index].append((time.perf_counter() - start) * 1000.0)
            cpu[index] += _cpu_ms(pids) - cpu_before
    stats = []
    for index, requests in enumerate(request_sets):
        start = time.perf_counter()
        many = executor.run_many(requests)
        pool_s = time.perf_counter() - start
        stats.append(
            {
                "median": statistics.median(times[index]),
                "p90": p90(times[index]),
                "cpu": cpu[index] / len(requests) if pids else float("nan"),
                "passed": passed[index],
                "pool_runs_per_s": len(requests) / pool_s,
                "pool_passed": sum(r.passed for r in many),
            }
        )
    return stats


def main() -> int:
    """Parse arguments, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MBPP tasks 11-40 only (< 1 min)")
    parser.add_argument("--backends", default="local,docker", help="comma-separated backends")
    parser.add_argument("--no-repo-module", action="store_true", help="skip the repo-module rows")
    args = parser.parse_args()
    if not MBPP.exists():
        parser.error(f"MBPP data not found at {MBPP}")
    last = 40 if args.quick else 110
    requests = load_requests(11, last)
    print(f"MBPP tasks 11-{last}: {len(requests)} traced single-test runs per method")
    with tempfile.TemporaryDirectory(prefix="beadline-bench-repo-") as scratch:
        store = default_store()
        snapshot = store.snapshot(bench_repo(Path(scratch)))
        context = module_context(snapshot, "bench_pkg/solution.py")
        module_requests = [] if args.no_repo_module else load_requests(11, last, context)
        try:
            return _measure(args.backends, requests, module_requests)
        finally:
            store.release(snapshot)


def _measure(backends: str, requests: list[RunRequest], module_requests: list[RunRequest]) -> int:
    """Measure every row and print the table."""
    rows: list[tuple[str, dict[str, float] | None, str]] = []
    cpu_before = _baseline_cpu_ms()
    base_times, base_passed = time_each(baseline_run, requests)
    baseline = {
        "median": statistics.median(base_times),
        "p90": p90(base_times),
        "cpu": (_baseline_cpu_ms() - cpu_before) / len(requests),
        "passed": base_passed,
    }
    rows.append(("subprocess per run", baseline, ""))
    ratios: list[str] = []
    for kind in [k.strip() for k in backends.split(",") if k.strip()]:
        try:
            executor = make_executor(kind)
        except Exception as exc:  # report and go on: the other columns are still useful
            rows.append((kind, None, f"unavailable: {str(exc).splitlines()[0][:100]}"))
            continue
        with executor:
            note = ""
            summary = getattr(getattr(executor, "hardening", None), "summary", None)
            if callable(summary):
                note = str(summary())
            sets = [requests, module_requests] if module_requests else [requests]
            measured = measure_backend(executor, *sets)
            rows.append((kind, measured[0], note))
            if module_requests:
                rows.append(
                    (f"{kind} repo module", measured[1], "bench_pkg.solution in a snapshot")
                )
                ratios.append(f"{kind} {measured[1]['median'] / measured[0]['median']:.2f}x")

    print()
    print(
        "| method | median ms/run | p90 ms/run | speed-up vs subprocess (median) | CPU ms/run | pool runs/s | passed | note |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, stats, note in rows:
        if stats is None:
            print(f"| {name} | - | - | - | - | - | - | {note} |")
            continue
        ratio = baseline["median"] / stats["median"]
        pool = f"{stats['pool_runs_per_s']:.0f}" if "pool_runs_per_s" in stats else "-"
        cpu = "-" if stats["cpu"] != stats["cpu"] else f"{stats['cpu']:.1f}"  # NaN: unknown
        print(
            f"| {name} | {stats['median']:.1f} | {stats['p90']:.1f} | {ratio:.1f}x | {cpu} | {pool} | "
            f"{int(stats['passed'])}/{len(requests)} | {note} |"
        )
    if ratios:
        print()
        print("repo module / plain, median ms per run: " + ", ".join(ratios) + " (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
