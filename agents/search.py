"""Solving a task with a method: baselines, the decoder's strategies, and the EG-CFG grid.

:func:`solve` is what the benchmark and the CLI call. Methods:

- ``greedy``: one plain decode (γ=0, temperature 0): the baseline.
- ``sample-filter``: plain decodes sampled at temperature 0.8 / top-p 0.95 until a program passes
  the visible tests or the token budget (``token_budget``, counted in tokens generated) or the
  sample cap ends — the fair baseline, since EG-CFG also sees the visible tests.
- ``cfg``, ``beam``, ``cfg+beam``: one decode with that strategy.
- ``egcfg``: a grid of configurations (:func:`default_grid`, or ``grid``) tried in order — or
  across worker processes — until one program passes the visible tests or the task's budget
  ends. All decodes of a task share one execution cache, so no program runs twice.

The final program is then run on the visible and the held-out tests for the verdicts. Problems
of the task itself (tests that do not parse, an entry point the tests never call, a model that
never writes the function, a sandbox timing out on everything) end with a status and a message,
never an exception.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from beadline.agents.decoding import Decoded, ExecutionCache, decode
from beadline.agents.decoding.in_module import for_task
from beadline.agents.errors import BeadlineError, UserError
from beadline.agents.models.base import Model
from beadline.agents.settings import DecoderSettings, merge_settings
from beadline.agents.task import Cost, SolveResult, Task
from beadline.validators.executor import Executor, Limits, RunRequest, RunResult

__all__ = ["DEFAULT_GRID", "METHODS", "check_task", "default_grid", "repeat_grid", "solve"]

METHODS = ("greedy", "sample-filter", "cfg", "beam", "cfg+beam", "egcfg")
"""The methods :func:`solve` knows."""

DEFAULT_GRID: tuple[dict[str, Any], ...] = (
    {"gamma": 0.0},
    {"s": 3, "t": 0.9, "d": 3, "gamma": 0.5},
    {"s": 2, "t": 0.75, "d": 2, "gamma": 1.0},
    {"s": 3, "t": 0.7, "d": 5, "gamma": 1.0, "temperature": 0.7, "top_p": 0.95},
)
"""The ``egcfg`` grid: overrides of the base settings, tried in order. Values are from the
paper's reference grid (s∈{2,3}, t∈{0.7,0.75,0.9,1.2}, d∈{2,3,5}, γ∈{0,0.5,1}); the order and the
entries were chosen by ``benchmarks/tune_grid.py`` on MBPP's validation ids 511–600
(``half-before-one`` of ``benchmarks/grids/tune.yaml``: the same 15/90 held-out passes as the
paper's order, at a median of 14.2 instead of 20.0 s per task; the paper order's γ=3 entry ran
on 61 of the 90 tasks, took 20 % of the time and solved none). The first, γ=0, is the plain
model (no candidates, a few dozen tokens): a task the model already solves costs nothing more;
the last samples the final tokens too, so a retry is not a repeat."""

ROUND_SEED_STEP = 1_000
"""Seed offset of each further round of :func:`repeat_grid`."""


def repeat_grid(configs: Sequence[DecoderSettings], rounds: int) -> list[DecoderSettings]:
    """``configs`` followed by ``rounds - 1`` more passes over them with new seeds.

    A further pass skips what cannot come out differently: a configuration that neither samples
    candidates (γ=0) nor samples tokens (temperature 0), and any with ``seed=None`` already
    draws fresh randomness so it is repeated as is. The search stops at the first program that
    passes the visible tests or when the task's budget ends, so rounds only spend a budget
    that one pass left unused.

    Raises:
        UserError: ``rounds`` < 1.
    """
    if rounds < 1:
        raise UserError(f"grid rounds must be ≥ 1, got {rounds}")
    out = list(configs)
    for r in range(1, rounds):
        for config in configs:
            if config.gamma == 0 and config.temperature == 0:
                continue
            seed = None if config.seed is None else config.seed + r * ROUND_SEED_STEP
            out.append(config.model_copy(update={"seed": seed}))
    return out


SAMPLE_FILTER_TEMPERATURE = 0.8
"""Temperature of ``sample-filter`` samples (when the settings leave it at 0)."""
SAMPLE_FILTER_TOP_P = 0.95
"""Top-p of ``sample-filter`` samples (when the settings leave it at 1)."""

ModelFactory = Callable[[], Model]
"""Builds a model inside a worker process (must be picklable: a module-level function)."""
ExecutorFactory = Callable[[], Executor]
"""Builds an executor inside a worker process (must be picklable)."""


def default_grid(base: DecoderSettings | None = None) -> list[DecoderSettings]:
    """:data:`DEFAULT_GRID` applied over ``base`` (its prompt type, budgets, seeds ...)."""
    return [merge_settings(base, overrides) for overrides in DEFAULT_GRID]


def check_task(task: Task) -> str | None:
    """What is wrong with ``task`` (tests that do not parse, tests that never call the entry
    point), or ``None`` when it can be solved."""
    for test in (*task.tests, *task.held_out_tests):
        if test.kind == "assert":
            try:
                tree = ast.parse(test.source)
            except SyntaxError as exc:
                return f"test {test.source!r} does not parse: {exc.msg}; fix the test line"
            names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            if task.entry_point not in names:
                return (
                    f"test {test.source!r} never uses the entry point {task.entry_point!r}: "
                    "fix the test or the entry point"
                )
        elif test.kind == "check":
            try:
                ast.parse(test.source)
            except SyntaxError as exc:
                return f"check test {test.name!r} does not parse: {exc.msg}"
    if task.setup:
        try:
            ast.parse(task.setup)
        except SyntaxError as exc:
            return f"the setup code does not parse: {exc.msg}"
    return None


@dataclass(frozen=True, kw_only=True)
class _Attempt:
    decoded: Decoded
    settings: DecoderSettings
    index: int


def _rank(attempt: _Attempt) -> tuple[int, int, int]:
    d = attempt.decoded
    passed = d.visible.n_passed if d.visible is not None else -1
    return (d.status == "solved", passed, d.status != "no_function")


def _summary(attempt: _Attempt) -> dict[str, Any]:
    """One attempt in ``SolveResult.config["tried"]``: what it cost and how far it got.

    Keys: ``attempt`` (its index), ``label``, ``seconds``, ``tokens_generated``,
    ``programs_executed``, ``status``, ``stop_reason``, ``tests_passed`` (the most visible
    tests any of its programs passed, the final one or a candidate; ``None``: nothing ran),
    ``n_tests``, ``candidate_passed`` (some candidate passed every visible test) and
    ``overfit`` (the guard's findings that refused its final program: kind, line, test).
    """
    d = attempt.decoded
    passed = [d.visible.n_passed] if d.visible is not None else []
    candidate_passed = False
    for line in d.record.lines:
        for candidate in line.guided.candidates if line.guided is not None else ():
            n = sum(t.status == "passed" for t in candidate.tests)
            if candidate.tests:
                passed.append(n)
                candidate_passed = candidate_passed or n == len(candidate.tests)
    return {
        "attempt": attempt.index,
        "label": attempt.settings.label(),
        "seconds": round(d.cost.seconds, 3),
        "tokens_generated": d.cost.tokens_generated,
        "programs_executed": d.cost.programs_executed,
        "status": d.status,
        "stop_reason": d.stop_reason,
        "tests_passed": max(passed) if passed else None,
        "n_tests": len(d.visible.results) if d.visible is not None else None,
        "candidate_passed": candidate_passed,
        "overfit": [f"{f.kind}: {f.reason}" for f in d.overfit],
    }


def _sum(costs: Sequence[Cost]) -> Cost:
    total = Cost()
    for c in costs:
        total = total + c
    return total


def _verdicts(
    task: Task, executor: Executor, program: str
) -> tuple[RunResult | None, RunResult | None]:
    runner = for_task(executor, task)

    def run(tests: Sequence[Any]) -> RunResult | None:
        if not tests or not program:
            return None
        return runner.run(
            RunRequest(
                program=program,
                tests=tuple(tests),
                limits=Limits(),
                trace=False,
                trace_function=task.entry_point,
                setup=task.setup,
            )
        )

    return run(task.tests), run(task.held_out_tests)


def solve(
    task: Task,
    model: Model,
    executor: Executor,
    *,
    method: str = "egcfg",
    settings: DecoderSettings | None = None,
    grid: Sequence[DecoderSettings] | None = None,
    grid_rounds: int = 1,
    token_budget: int | None = None,
    time_budget_s: float | None = None,
    max_samples: int = 10,
    workers: int = 1,
    model_factory: ModelFactory | None = None,
    executor_factory: ExecutorFactory | None = None,
    keep_record: bool = True,
) -> SolveResult:
    """Solve ``task`` with ``method`` and judge the result on visible and held-out tests.

    Args:
        task: the task.
        model: the model (unused by worker processes, which build their own).
        executor: the sandbox.
        method: one of :data:`METHODS`.
        settings: base decoder settings (defaults: :class:`DecoderSettings`).
        grid: ``egcfg`` configurations in order (default :func:`default_grid` of ``settings``).
        grid_rounds: ``egcfg`` passes over the grid (:func:`repeat_grid`); later passes use
            new seeds and run only while the budgets last.
        token_budget: per-task budget in tokens generated (``sample-filter``, ``egcfg``); a
            run in progress finishes, no new one starts.
        time_budget_s: per-task wall-clock budget of every method: each decode gets the smaller
            of its own ``time_budget_s`` and what is left of the task's, so a decode in
            progress stops when the task's budget ends (status ``budget`` unless a program
            found so far passes).
        max_samples: ``sample-filter``'s sample cap when no token budget is given.
        workers: ``egcfg`` worker processes (>1 needs both factories).
        model_factory: builds the model in a worker process.
        executor_factory: builds the executor in a worker process.
        keep_record: put the decoding record into the result.

    Returns:
        The result; ``status`` says how it ended, ``config`` which configuration produced the
        program (and, under ``tried``, a summary of every attempt in order: label, seconds,
        stop reason, visible tests passed, whether a candidate passed), ``cost`` what the
        whole method cost.

    Raises:
        UserError: an unknown method, or workers > 1 without factories (caller mistakes, not
            task problems).
    """
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if workers > 1 and method == "egcfg" and (model_factory is None or executor_factory is None):
        raise UserError("workers > 1 needs model_factory and executor_factory (picklable)")
    start = time.monotonic()
    problem = check_task(task)
    if problem is not None:
        return SolveResult(task_id=task.task_id, method=method, status="error", message=problem)
    try:
        attempts, costs = _attempts(
            task,
            model,
            executor,
            method,
            settings or DecoderSettings(),
            grid=grid,
            grid_rounds=grid_rounds,
            token_budget=token_budget,
            time_budget_s=time_budget_s,
            max_samples=max_samples,
            workers=workers,
            factories=(model_factory, executor_factory),
            start=start,
        )
        best = max(attempts, key=_rank)
        visible, held_out = _verdicts(task, executor, best.decoded.program)
    except BeadlineError as exc:
        return _failed(task, method, f"{type(exc).__name__}: {exc}", time.monotonic() - start)
    return _result(task, method, best, attempts, costs, (visible, held_out), start, keep_record)


def _failed(task: Task, method: str, message: str, seconds: float) -> SolveResult:
    """A run the model or the sandbox ended (a :class:`BeadlineError`): an ``error`` result."""
    return SolveResult(
        task_id=task.task_id,
        method=method,
        status="error",
        message=message,
        cost=Cost(seconds=seconds),
    )


def _attempts(
    task: Task,
    model: Model,
    executor: Executor,
    method: str,
    base: DecoderSettings,
    *,
    grid: Sequence[DecoderSettings] | None,
    grid_rounds: int,
    token_budget: int | None,
    time_budget_s: float | None,
    max_samples: int,
    workers: int,
    factories: tuple[ModelFactory | None, ExecutorFactory | None],
    start: float,
) -> tuple[list[_Attempt], list[Cost]]:
    """Run ``method``: the decodes it makes, in order, and what each cost."""
    if method == "egcfg":
        configs = repeat_grid(list(grid) if grid else default_grid(base), grid_rounds)
        model_factory, executor_factory = factories
        if workers > 1:
            assert model_factory is not None and executor_factory is not None
            return _grid_parallel(
                task, configs, workers, model_factory, executor_factory, time_budget_s, start
            )
        return _grid(task, model, executor, configs, token_budget, time_budget_s, start)
    if method == "sample-filter":
        return _sample_filter(
            task, model, executor, base, token_budget, time_budget_s, max_samples, start
        )
    overrides: dict[str, Any] = {"strategy": method}
    if method == "greedy":
        overrides = {"strategy": "cfg", "gamma": 0.0, "temperature": 0.0}
    chosen = merge_settings(base, overrides)
    decoded = decode(task, model, executor, _within(chosen, start, time_budget_s))
    return [_Attempt(decoded=decoded, settings=chosen, index=0)], [decoded.cost]


def _result(
    task: Task,
    method: str,
    best: _Attempt,
    attempts: Sequence[_Attempt],
    costs: Sequence[Cost],
    verdicts: tuple[RunResult | None, RunResult | None],
    start: float,
    keep_record: bool,
) -> SolveResult:
    """The best attempt judged by the verdict runs (``visible``, ``held_out``), with the whole
    method's cost and a summary of every attempt."""
    visible, held_out = verdicts
    total = _sum(costs)
    total = Cost(
        tokens_evaluated=total.tokens_evaluated,
        tokens_generated=total.tokens_generated,
        programs_executed=total.programs_executed,
        seconds=time.monotonic() - start,
    )
    d = best.decoded
    status = d.status
    if status == "no_function":
        pass
    elif d.overfit:  # passes the visible tests by copying them: refused by the guard
        status = "unsolved"
    elif visible is not None and visible.passed:
        status = "solved"
    elif status == "solved":  # passed in the decoder's run but not in the verdict run
        status = "unsolved"
    config = {
        **best.settings.model_dump(mode="json"),
        "label": best.settings.label(),
        "attempt": best.index,
        "attempts": len(attempts),
        "tried": [_summary(a) for a in sorted(attempts, key=lambda a: a.index)],
        "guard_rejections": sum(bool(a.decoded.overfit) for a in attempts),
    }
    return SolveResult(
        task_id=task.task_id,
        method=method,
        status=status,
        program=d.program,
        config=config,
        visible=visible,
        held_out=held_out,
        cost=total,
        record=d.record.to_json() if keep_record else None,
        message=d.message if status != "solved" else "",
    )


def _over(start: float, time_budget_s: float | None) -> bool:
    return time_budget_s is not None and time.monotonic() - start >= time_budget_s


_MIN_DECODE_S = 0.001
"""The smallest decode budget handed out (settings need a positive one)."""


def _left(start: float, time_budget_s: float | None) -> float | None:
    """Seconds left of the task's budget (``None``: no budget)."""
    if time_budget_s is None:
        return None
    return max(time_budget_s - (time.monotonic() - start), _MIN_DECODE_S)


def _within(config: DecoderSettings, start: float, time_budget_s: float | None) -> DecoderSettings:
    """``config`` with its decode budget cut to what is left of the task's budget."""
    left = _left(start, time_budget_s)
    if left is None or (config.time_budget_s is not None and config.time_budget_s <= left):
        return config
    return config.model_copy(update={"time_budget_s": left})


def _sample_filter(
    task: Task,
    model: Model,
    executor: Executor,
    base: DecoderSettings,
    token_budget: int | None,
    time_budget_s: float | None,
    max_samples: int,
    start: float,
) -> tuple[list[_Attempt], list[Cost]]:
    attempts: list[_Attempt] = []
    costs: list[Cost] = []
    cache = ExecutionCache()
    generated = 0
    cap = max_samples if token_budget is None else 10_000
    for i in range(cap):
        chosen = merge_settings(
            base,
            {
                "strategy": "cfg",
                "gamma": 0.0,
                "temperature": base.temperature or SAMPLE_FILTER_TEMPERATURE,
                "top_p": base.top_p if base.top_p < 1.0 else SAMPLE_FILTER_TOP_P,
                "seed": None if base.seed is None else base.seed + i,
            },
        )
        decoded = decode(task, model, executor, _within(chosen, start, time_budget_s), cache=cache)
        attempts.append(_Attempt(decoded=decoded, settings=chosen, index=i))
        costs.append(decoded.cost)
        generated += max(1, decoded.cost.tokens_generated)
        if decoded.status == "solved" or not task.tests:
            break
        if token_budget is not None and generated >= token_budget:
            break
        if _over(start, time_budget_s):
            break
    return attempts, costs


def _grid(
    task: Task,
    model: Model,
    executor: Executor,
    configs: Sequence[DecoderSettings],
    token_budget: int | None,
    time_budget_s: float | None,
    start: float,
) -> tuple[list[_Attempt], list[Cost]]:
    attempts: list[_Attempt] = []
    costs: list[Cost] = []
    cache = ExecutionCache()
    for i, config in enumerate(configs):
        decoded = decode(task, model, executor, _within(config, start, time_budget_s), cache=cache)
        attempts.append(_Attempt(decoded=decoded, settings=config, index=i))
        costs.append(decoded.cost)
        if decoded.status == "solved" or not task.tests:
            break
        if token_budget is not None and sum(c.tokens_generated for c in costs) >= token_budget:
            break
        if _over(start, time_budget_s):
            break
    return attempts, costs


# --- worker processes -----------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(model_factory: ModelFactory, executor_factory: ExecutorFactory) -> None:
    import atexit
    import signal
    import sys

    _WORKER["model"] = model_factory()
    _WORKER["executor"] = executor_factory()
    atexit.register(_WORKER["executor"].close)
    atexit.register(_WORKER["model"].close)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _worker_decode(task: Task, config: DecoderSettings) -> Decoded:
    return decode(task, _WORKER["model"], _WORKER["executor"], config)


def _grid_parallel(
    task: Task,
    configs: Sequence[DecoderSettings],
    workers: int,
    model_factory: ModelFactory,
    executor_factory: ExecutorFactory,
    time_budget_s: float | None,
    start: float,
) -> tuple[list[_Attempt], list[Cost]]:
    import multiprocessing

    attempts: list[_Attempt] = []
    costs: list[Cost] = []
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(model_factory, executor_factory),
    )
    try:
        pending: dict[Future[Decoded], int] = {
            pool.submit(_worker_decode, task, _within(config, start, time_budget_s)): i
            for i, config in enumerate(configs)
        }
        while pending:
            left = _left(start, time_budget_s)
            done, _ = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                index = pending.pop(future)
                decoded = future.result()
                attempts.append(_Attempt(decoded=decoded, settings=configs[index], index=index))
                costs.append(decoded.cost)
            if any(a.decoded.status == "solved" for a in attempts):
                break
    finally:
        processes = list((pool._processes or {}).values())
        running = any(not f.done() for f in pending)
        pool.shutdown(wait=not running, cancel_futures=True)
        if running:
            # A decode in flight cannot be cancelled: end its process (its SIGTERM handler
            # closes the model and the sandbox) so nothing outlives the search.
            for process in processes:
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=10)
    if not attempts:
        raise UserError(f"no configuration finished within {time_budget_s} s")
    return attempts, costs
