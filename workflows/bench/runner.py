"""The benchmark runner: methods × tasks → one JSON line per (task, method, guide-tests) run.

The runner is resumable and crash-safe. Every finished run is appended to the results file as
one JSON line, flushed and ``fsync``-ed before the next run starts, so a killed run loses at
most the run in flight; a truncated last line (the process died mid-write) is cut off when the
file is opened again. A rerun with the same ``--out`` skips every (task, method, guide-tests)
key already in the file and runs only the rest.

A task that fails (the solver raises, the task is invalid) is recorded with status ``error``
and its message, and the run goes on. ``KeyboardInterrupt`` stops the run (resume later).

Fair budgets: ``sample-filter`` sees the tests like EG-CFG does, so it gets the token budget
EG-CFG used on the same task — either a fixed ``token_budget``, or ``match_budget=METHOD``,
which reads that method's cost for the same task and guide-tests setting from the results
(in this run, this file, or another results file), counted in ``budget_metric`` tokens.

The solver is injected (:data:`Solver`): :func:`make_solver` binds
:func:`beadline.agents.search.solve` to a model and an executor; tests pass a fake.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from beadline.agents.models.base import Model
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, SolveResult, Task
from beadline.validators.executor import Executor, RunResult
from beadline.workflows.errors import UserError

__all__ = [
    "METHODS",
    "RESULTS_SCHEMA",
    "BenchProgress",
    "BenchSummary",
    "BudgetMetric",
    "MethodSpec",
    "ResultsFile",
    "SolveCall",
    "Solver",
    "decoder_settings",
    "make_solver",
    "pass_rate",
    "read_results",
    "result_key",
    "run_bench",
    "verdict_json",
]

RESULTS_SCHEMA = 1
"""Version of the JSON-line format written by :func:`run_bench`."""

METHODS = ("greedy", "sample-filter", "cfg", "beam", "cfg+beam", "egcfg")
"""Method names the decoder's ``solve`` knows."""

BudgetMetric = Literal["tokens_generated", "tokens_evaluated", "wall_s"]
"""What a matched budget is counted in: a :class:`~beadline.agents.task.Cost` token field, or
``wall_s``, the wall seconds the matched method spent on the task (a time budget)."""

METRIC_LABELS: dict[str, str] = {
    "tokens_generated": "tokens",
    "tokens_evaluated": "evaluated",
    "wall_s": "wall",
}
"""The suffix of a method run once per budget metric: ``sample-filter@wall``."""

_UNCAPPED_SAMPLES = 10_000
"""sample-filter's sample cap under a matched wall-time budget: the time decides."""


def base_method(name: str) -> str:
    """The solver's method of a benchmark method name (``sample-filter@wall`` →
    ``sample-filter``)."""
    return name.split("@", 1)[0]


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """One method of a benchmark run and its configuration."""

    name: str
    """A name from :data:`METHODS`, optionally with a variant label after ``@``
    (``sample-filter@wall``: one run per matched metric, side by side in one results file)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Decoder-settings overrides (``DecoderSettings`` field → value); empty = defaults."""
    grid: tuple[Mapping[str, Any], ...] | None = None
    """The configuration grid (``egcfg``); ``None`` = the decoder's default grid."""
    token_budget: int | None = None
    """A fixed per-task token budget (``sample-filter``); the fallback when matching fails."""
    match_budget: str | None = None
    """Give each task the budget this other method used on it (``sample-filter``)."""
    budget_metric: BudgetMetric = "tokens_generated"
    """The cost field a matched budget is read from."""
    time_budget_s: float | None = None
    """Wall-clock seconds per task (``sample-filter``, ``egcfg``); ``None``: no limit."""
    grid_rounds: int = 1
    """Passes over the grid (``egcfg``), new seeds each pass, while the budgets last."""

    def __post_init__(self) -> None:
        if self.grid_rounds < 1:
            raise UserError(f"method {self.name}: grid_rounds must be ≥ 1, got {self.grid_rounds}")
        if base_method(self.name) not in METHODS:
            raise UserError(f"unknown method {self.name!r}; choose from {', '.join(METHODS)}")
        if self.token_budget is not None and self.token_budget < 1:
            raise UserError(
                f"method {self.name}: token_budget must be ≥ 1, got {self.token_budget}"
            )
        if self.match_budget is not None and (
            base_method(self.match_budget) not in METHODS or self.match_budget == self.name
        ):
            raise UserError(
                f"method {self.name}: match_budget must name another method, "
                f"got {self.match_budget!r}"
            )

    def config(self) -> dict[str, Any]:
        """The JSON form recorded in every result line."""
        out: dict[str, Any] = {"settings": dict(self.settings)}
        if self.grid is not None:
            out["grid"] = [dict(g) for g in self.grid]
        if self.token_budget is not None:
            out["token_budget"] = self.token_budget
        if self.match_budget is not None:
            out["match_budget"] = self.match_budget
            out["budget_metric"] = self.budget_metric
        if self.time_budget_s is not None:
            out["time_budget_s"] = self.time_budget_s
        if self.grid_rounds != 1:
            out["grid_rounds"] = self.grid_rounds
        return out


@dataclass(frozen=True, kw_only=True)
class SolveCall:
    """What the runner asks the solver to do for one task."""

    method: str
    """Method name."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Decoder-settings overrides."""
    grid: tuple[Mapping[str, Any], ...] | None = None
    """Configuration grid, when given."""
    token_budget: int | None = None
    """The per-task token budget (resolved: fixed, or matched to another method's cost)."""
    time_budget_s: float | None = None
    """Wall-clock seconds per task."""
    grid_rounds: int = 1
    """Passes over the grid (``egcfg``)."""
    max_samples: int = 10
    """``sample-filter``'s sample cap when no token budget is given."""


Solver = Callable[[Task, SolveCall], SolveResult]
"""Solves one task with one method. Raising is allowed: the runner records an ``error`` line."""


def make_solver(model: Model, executor: Executor) -> Solver:
    """Bind :func:`beadline.agents.search.solve` to a model and an executor.

    Settings mappings become ``DecoderSettings`` (a grid entry is applied over the method's
    settings); an invalid one raises :class:`UserError` naming the field.

    Args:
        model: a :class:`~beadline.agents.models.base.Model`.
        executor: a :class:`~beadline.validators.executor.Executor`.
    """
    # The decoder is imported only when a real run starts (tests inject a fake solver).
    from beadline.agents.search import solve

    def _solve(task: Task, call: SolveCall) -> SolveResult:
        settings, grid = decoder_settings(call.settings, call.grid)
        return solve(
            task,
            model,
            executor,
            method=call.method,
            settings=settings,
            grid=grid,
            grid_rounds=call.grid_rounds,
            token_budget=call.token_budget,
            time_budget_s=call.time_budget_s,
            max_samples=call.max_samples,
        )

    return _solve


def decoder_settings(
    settings: Mapping[str, Any], grid: Sequence[Mapping[str, Any]] | None = None
) -> tuple[DecoderSettings | None, list[DecoderSettings] | None]:
    """Validated ``DecoderSettings`` for a method's overrides and grid (``None`` = defaults).

    Raises:
        UserError: an unknown field or an out-of-range value; the message names it.
    """
    from beadline.agents.settings import merge_settings

    base = merge_settings(None, settings) if settings else None
    configs = [merge_settings(base, dict(g)) for g in grid] if grid is not None else None
    return base, configs


# --------------------------------------------------------------------------- result lines


def result_key(task_id: str, method: str, guide_tests: str) -> str:
    """The identity of one run in a results file."""
    return f"{task_id}|{method}|{guide_tests}"


def verdict_json(run: RunResult | None) -> dict[str, Any] | None:
    """A compact JSON verdict: counts plus per-test status and message."""
    if run is None:
        return None
    return {
        "passed": run.passed,
        "n_passed": run.n_passed,
        "n_tests": len(run.results),
        "tests": [
            {"name": r.test.name, "status": r.status, "message": r.message[:300]}
            for r in run.results
        ],
    }


def _cost_json(cost: Cost) -> dict[str, Any]:
    return {
        "tokens_evaluated": cost.tokens_evaluated,
        "tokens_generated": cost.tokens_generated,
        "programs_executed": cost.programs_executed,
        "seconds": round(cost.seconds, 4),
    }


def _judged(task: Task, result: SolveResult) -> bool:
    """The verdict a benchmark counts: held-out tests when the task has any, else visible."""
    if task.held_out_tests:
        return result.held_out is not None and result.held_out.passed
    return result.visible is not None and result.visible.passed


def _line(
    task: Task,
    guide_tests: str,
    spec: MethodSpec,
    result: SolveResult,
    *,
    wall_s: float,
    run_info: Mapping[str, Any],
    token_budget: int | None,
    record_file: str | None,
) -> dict[str, Any]:
    return {
        "schema": RESULTS_SCHEMA,
        "key": result_key(task.task_id, spec.name, guide_tests),
        "task_id": task.task_id,
        "dataset": task.metadata.get("dataset", ""),
        "method": spec.name,
        "guide_tests": guide_tests,
        "status": result.status,
        "message": result.message,
        "passed": _judged(task, result),
        "visible": verdict_json(result.visible),
        "held_out": verdict_json(result.held_out),
        "n_visible_tests": len(task.tests),
        "n_held_out_tests": len(task.held_out_tests),
        "program": result.program,
        "config": {**spec.config(), "solved_by": result.config},
        "guard_rejections": int(result.config.get("guard_rejections", 0)),
        "token_budget": token_budget,
        "cost": _cost_json(result.cost),
        "wall_s": round(wall_s, 4),
        "record_file": record_file,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **run_info,
    }


# --------------------------------------------------------------------------- the results file


class ResultsFile:
    """An append-only JSON-lines results file that survives being killed mid-write.

    Opening it reads every complete line; a last line without its newline, or one that does
    not parse, is the trace of a killed write and is cut off the file. A malformed line
    elsewhere is an error (the file was edited or is not a results file).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lines: list[dict[str, Any]] = []
        """Every valid line, in file order."""
        self.dropped_tail = False
        """True when a truncated last line was cut off on opening."""
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        chunks = data.split(b"\n")
        last = max((i for i, c in enumerate(chunks) if c.strip()), default=-1)
        offset = 0
        for number, chunk in enumerate(chunks, start=1):
            if chunk.strip():
                parsed = self._parse(chunk)
                if parsed is None:
                    if number - 1 == last:
                        self.dropped_tail = True
                        break
                    raise UserError(
                        f"{self.path}:{number}: not a result line; the file was edited or is not "
                        "a beadline results file: fix or remove that line, or use another --out"
                    )
                self.lines.append(parsed)
            offset += len(chunk) + 1
        with self.path.open("r+b") as handle:
            if self.dropped_tail:
                handle.truncate(offset)
            elif data and not data.endswith(b"\n"):
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")  # a complete last line whose newline was lost
            else:
                return
            handle.flush()
            os.fsync(handle.fileno())

    @staticmethod
    def _parse(chunk: bytes) -> dict[str, Any] | None:
        try:
            value = json.loads(chunk)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(value, dict) or "key" not in value:
            return None
        return value

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last line of every key."""
        return {line["key"]: line for line in self.lines}

    def append(self, line: Mapping[str, Any]) -> None:
        """Append one line durably (write, flush, fsync)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self.lines.append(dict(line))


def read_results(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every line of several results files (read-only: a truncated tail is skipped, not cut)."""
    lines: list[dict[str, Any]] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"no results file {p}: pass the --out file of `beadline bench run`")
        raw = p.read_bytes().split(b"\n")
        for number, chunk in enumerate(raw, start=1):
            if not chunk.strip():
                continue
            parsed = ResultsFile._parse(chunk)
            if parsed is None:
                if number >= len(raw) - 1:  # the tail of a killed write
                    continue
                raise UserError(f"{p}:{number}: not a result line of a beadline results file")
            lines.append(parsed)
    return lines


# --------------------------------------------------------------------------- the runner


@dataclass(frozen=True, kw_only=True)
class BenchProgress:
    """Handed to the progress callback after every finished (or skipped) run."""

    done: int
    """Runs finished in this invocation plus runs skipped as already finished."""
    total: int
    """All runs of this invocation (tasks × guide-tests settings × methods)."""
    line: Mapping[str, Any] | None
    """The line just written (``None`` for the initial call)."""
    passed: Mapping[str, tuple[int, int]]
    """``method/guide`` → (passed, finished), counting resumed lines too."""


@dataclass(frozen=True, kw_only=True)
class BenchSummary:
    """What :func:`run_bench` did."""

    path: Path
    """The results file."""
    ran: int
    """Runs executed now."""
    skipped: int
    """Runs skipped because the file already had them."""
    errors: int
    """Runs of this invocation that ended with status ``error``."""
    passed: Mapping[str, tuple[int, int]]
    """``method/guide`` → (passed, finished) over the whole file for this invocation's keys."""
    dropped_tail: bool
    """A truncated last line was cut off when the file was opened."""


def _ordered(methods: Sequence[MethodSpec]) -> list[MethodSpec]:
    """Methods whose budget is matched run after the method they match."""
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise UserError(f"a method is given twice: {', '.join(names)}")
    first = [m for m in methods if m.match_budget is None or m.match_budget not in names]
    later = [m for m in methods if m not in first]
    return first + later


def _budget(
    spec: MethodSpec,
    task: Task,
    guide_tests: str,
    own: Mapping[str, dict[str, Any]],
    reference: Mapping[str, dict[str, Any]],
) -> tuple[int | None, float | None, str | None]:
    """(token budget, wall-seconds budget, error message) for one run.

    A ``wall_s`` match gives the task the wall seconds the matched method's run took (its
    result line's ``wall_s``), capped by the method's own ``time_budget_s``; tokens are then
    unlimited unless a fixed token budget is given.
    """
    if spec.match_budget is None:
        return spec.token_budget, spec.time_budget_s, None
    key = result_key(task.task_id, spec.match_budget, guide_tests)
    line = own.get(key) or reference.get(key)
    if line is not None and line.get("status") != "error":
        if spec.budget_metric == "wall_s":
            seconds = line.get("wall_s")
            if isinstance(seconds, int | float) and seconds > 0:
                cap = spec.time_budget_s
                return spec.token_budget, float(seconds if cap is None else min(seconds, cap)), None
        else:
            value = line.get("cost", {}).get(spec.budget_metric)
            if isinstance(value, int) and value > 0:
                return value, spec.time_budget_s, None
    if spec.token_budget is not None:
        return spec.token_budget, spec.time_budget_s, None
    return (
        None,
        None,
        (
            f"no finished {spec.match_budget} result for {task.task_id} (guide-tests {guide_tests}) "
            f"to match its {spec.budget_metric}: run {spec.match_budget} first (same --out or "
            "--match-from), or give a fixed --token-budget"
        ),
    )


def _check_same_config(
    path: Path, methods: Sequence[MethodSpec], lines: Iterable[Mapping[str, Any]]
) -> None:
    """Refuse to resume a file whose runs of a method used other decoder settings."""
    wanted = {m.name: m.config() for m in methods}
    for line in lines:
        spec = wanted.get(str(line.get("method")))
        if spec is None:
            continue
        had = line.get("config", {})
        for part in ("settings", "grid", "grid_rounds"):
            if had.get(part) != spec.get(part):
                raise UserError(
                    f"{path} has {line['method']} runs with {part} {had.get(part)!r}, but this run "
                    f"asks for {spec.get(part)!r}: use another --out, or the same settings"
                )


def _error_result(task: Task, method: str, message: str, seconds: float) -> SolveResult:
    return SolveResult(
        task_id=task.task_id,
        method=method,
        status="error",
        message=message,
        cost=Cost(seconds=seconds),
    )


def _tally(lines: Iterable[Mapping[str, Any]], keys: set[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for line in lines:
        if line["key"] not in keys:
            continue
        group = f"{line['method']}/{line['guide_tests']}"
        passed, total = out.get(group, (0, 0))
        out[group] = (passed + bool(line.get("passed")), total + 1)
    return out


def _runs(
    tasks_by_guide: Mapping[str, Sequence[Task]], methods: Sequence[MethodSpec]
) -> Iterator[tuple[Task, str, MethodSpec]]:
    """Task-major order, so a partial run has every method on the same tasks."""
    guides = list(tasks_by_guide)
    n = max((len(v) for v in tasks_by_guide.values()), default=0)
    for i in range(n):
        for guide in guides:
            tasks = tasks_by_guide[guide]
            if i < len(tasks):
                for spec in methods:
                    yield tasks[i], guide, spec


def run_bench(
    tasks_by_guide: Mapping[str, Sequence[Task]],
    methods: Sequence[MethodSpec],
    solver: Solver,
    out: str | Path,
    *,
    run_info: Mapping[str, Any] | None = None,
    reference: Iterable[str | Path] = (),
    retry_errors: bool = False,
    records_dir: str | Path | None = None,
    on_progress: Callable[[BenchProgress], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> BenchSummary:
    """Run every method on every task (per guide-tests setting), resumably.

    Args:
        tasks_by_guide: ``{"all": tasks, "first": tasks}`` — the same dataset loaded per
            guide-tests setting (see :mod:`beadline.workflows.bench.datasets`).
        methods: the methods to run, each with its configuration.
        solver: solves one task with one method (:func:`make_solver`, or a fake).
        out: the results file; appended to, created when missing.
        run_info: recorded in every line (``model``, ``backend``, ``sandbox`` …). When the file
            already has lines with a different ``model``, the run is refused.
        reference: other results files to read matched budgets from.
        retry_errors: also rerun keys whose last line has status ``error``.
        records_dir: when given, each run's decoding record is written there as JSON and the
            line names the file (``beadline show FILE`` renders it).
        on_progress: called once before the first run and after every run.
        clock: time source (tests inject one).

    Returns:
        What ran, what was skipped, and the running pass counts.

    Raises:
        UserError: bad arguments, a results file of another model, a malformed results file.
    """
    info = dict(run_info or {})
    plan = _plan(tasks_by_guide, methods, out, model=info.get("model"), reference=reference)
    results, latest = plan.results, plan.latest
    records = Path(records_dir) if records_dir is not None else None
    done = ran = skipped = errors = 0

    def report(line: Mapping[str, Any] | None) -> None:
        if on_progress is not None:
            on_progress(
                BenchProgress(
                    done=done,
                    total=len(plan.runs),
                    line=line,
                    passed=_tally(results.latest().values(), plan.keys),
                )
            )

    report(None)
    for task, guide, spec in plan.runs:
        key = result_key(task.task_id, spec.name, guide)
        previous = latest.get(key)
        if previous is not None and not (retry_errors and previous.get("status") == "error"):
            skipped += 1
            done += 1
            report(previous)
            continue
        budget, seconds, budget_error = _budget(spec, task, guide, latest, plan.reference)
        result, wall = _run_one(task, spec, solver, (budget, seconds), budget_error, clock)
        # the wall budget the run had (matched or fixed), beside token_budget
        run_info = {**info, "time_budget_s": seconds}
        line = _write_line(
            results, records, (task, guide, spec), result, wall, info=run_info, budget=budget
        )
        latest[key] = line
        ran += 1
        done += 1
        errors += result.status == "error"
        report(line)
    return BenchSummary(
        path=results.path,
        ran=ran,
        skipped=skipped,
        errors=errors,
        passed=_tally(results.latest().values(), plan.keys),
        dropped_tail=results.dropped_tail,
    )


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """The runs of one :func:`run_bench` call and what they resume from."""

    results: ResultsFile
    """The results file, opened (a killed write's tail cut off)."""
    runs: list[tuple[Task, str, MethodSpec]]
    """Every (task, guide-tests, method) of this invocation, task-major."""
    keys: set[str]
    """Their result keys."""
    latest: dict[str, dict[str, Any]]
    """The last line of every key already in the file (updated as runs finish)."""
    reference: dict[str, dict[str, Any]]
    """The lines of the ``--match-from`` files, by key."""


def _plan(
    tasks_by_guide: Mapping[str, Sequence[Task]],
    methods: Sequence[MethodSpec],
    out: str | Path,
    *,
    model: object,
    reference: Iterable[str | Path],
) -> _Plan:
    """Order the methods, open the results file and refuse one of another model or other
    decoder settings, read the reference files, and list the runs."""
    ordered = _ordered(methods)
    results = ResultsFile(out)
    if model is not None:
        others = {line.get("model") for line in results.lines} - {model, None}
        if others:
            raise UserError(
                f"{results.path} holds results of model {sorted(map(str, others))[0]!r}, not "
                f"{model!r}: use another --out for another model"
            )
    ref_lines = {line["key"]: line for line in read_results(reference)}
    runs = list(_runs(tasks_by_guide, ordered))
    keys = {result_key(t.task_id, s.name, g) for t, g, s in runs}
    latest = results.latest()
    _check_same_config(results.path, ordered, latest.values())
    return _Plan(results=results, runs=runs, keys=keys, latest=latest, reference=ref_lines)


def _run_one(
    task: Task,
    spec: MethodSpec,
    solver: Solver,
    budgets: tuple[int | None, float | None],
    budget_error: str | None,
    clock: Callable[[], float],
) -> tuple[SolveResult, float]:
    """Solve one task with one method under ``budgets`` (tokens, wall seconds); returns the
    result and its wall time.

    A missing matched budget, or any exception of the solver, becomes an ``error`` result: the
    benchmark records it and goes on.
    """
    start = clock()
    if budget_error is not None:
        result = _error_result(task, spec.name, budget_error, 0.0)
    else:
        tokens, seconds = budgets
        wall_matched = spec.match_budget is not None and spec.budget_metric == "wall_s"
        call = SolveCall(
            method=base_method(spec.name),
            settings=spec.settings,
            grid=spec.grid,
            token_budget=tokens,
            time_budget_s=seconds,
            grid_rounds=spec.grid_rounds,
            max_samples=_UNCAPPED_SAMPLES if wall_matched and tokens is None else 10,
        )
        try:
            result = solver(task, call)
        except Exception as exc:  # a task-level failure: record it and go on
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            result = _error_result(task, spec.name, message, clock() - start)
    return result, clock() - start


def _write_line(
    results: ResultsFile,
    records: Path | None,
    run: tuple[Task, str, MethodSpec],
    result: SolveResult,
    wall: float,
    *,
    info: Mapping[str, Any],
    budget: int | None,
) -> dict[str, Any]:
    """Write the run's decoding record (when ``records`` is given) and append its results line."""
    task, guide, spec = run
    record_file = None
    if records is not None and result.record is not None:
        record_file = _write_record(
            records, result_key(task.task_id, spec.name, guide), result.record
        )
    line = _line(
        task,
        guide,
        spec,
        result,
        wall_s=wall,
        run_info=info,
        token_budget=budget,
        record_file=record_file,
    )
    results.append(line)
    return line


def _write_record(directory: Path, key: str, record: Mapping[str, Any]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    path = directory / f"{safe}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return str(path)


def pass_rate(passed: int, total: int) -> float:
    """Percentage, 0 for no runs."""
    return 100.0 * passed / total if total else 0.0
