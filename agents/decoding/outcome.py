"""How a decode ends: its wall-clock budget, and the judging of the final program.

Both strategies (``cfg.py``, ``beam.py``) hand their final program to :func:`finish`, which runs
it on the visible tests (through the execution cache), decides its status and assembles the
:class:`Decoded` result with its :class:`~beadline.agents.record.DecodeRecord`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from beadline.agents._code import def_header_done, with_main_call
from beadline.agents.decoding.cache import ExecutionCache
from beadline.agents.models.base import Model
from beadline.agents.overfit import OverfitFinding, find_overfit
from beadline.agents.prompts.builder import Prompt
from beadline.agents.record import DecodeRecord, LineRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, SolveStatus, Task
from beadline.validators.executor import Executor, RunResult

__all__ = ["OVERFIT_MESSAGE", "Clock", "Decoded", "finish"]


OVERFIT_MESSAGE = "overfit guard:"
"""How the ``message`` of a program the overfit guard refused begins (read back by
``benchmarks/overfit_audit.py``)."""


@dataclass(frozen=True, kw_only=True)
class Decoded:
    """The outcome of :func:`beadline.agents.decoding.decode`."""

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
    overfit: tuple[OverfitFinding, ...] = ()
    """The overfit guard's findings: the program passes the visible tests by copying their
    expected values, so it is ``unsolved`` (the message says where)."""


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


def finish(
    *,
    task: Task,
    model: Model,
    executor: Executor,
    settings: DecoderSettings,
    cache: ExecutionCache,
    prompt: Prompt,
    program: str,
    stop_reason: str,
    message: str,
    cost: Cost,
    lines: Sequence[LineRecord] = (),
    beam: Sequence[object] = (),
) -> Decoded:
    """Judge the final program on the visible tests and assemble :class:`Decoded`."""
    program = program.rstrip() + "\n" if program.strip() else ""
    program = with_main_call(program, task.entry_point, task.tests)  # a stdin/stdout program
    executed_before = cache.executed
    status, message, visible = _judge(task, executor, cache, program, stop_reason, message)
    overfit: tuple[OverfitFinding, ...] = ()
    if status == "solved":
        overfit = find_overfit(program, entry_point=task.entry_point, tests=task.tests)
        if overfit:
            status = "unsolved"
            message = f"{OVERFIT_MESSAGE} {overfit[0].kind}, {overfit[0].reason}" + (
                f" (+{len(overfit) - 1} more)" if len(overfit) > 1 else ""
            )
    cost = Cost(
        tokens_evaluated=cost.tokens_evaluated,
        tokens_generated=cost.tokens_generated,
        programs_executed=cost.programs_executed + cache.executed - executed_before,
        seconds=cost.seconds,
    )
    record = DecodeRecord(
        task_id=task.task_id,
        entry_point=task.entry_point,
        model=model.name,
        settings=settings.model_dump(mode="json"),
        prompt_type=prompt.prompt_type,
        prompt=prompt.text(),
        program_prefix=prompt.program_prefix,
        lines=tuple(lines),
        beam=tuple(beam),  # type: ignore[arg-type]
        program=program,
        status=status,
        stop_reason=stop_reason,
        message=message,
        overfit=tuple(
            {"kind": f.kind, "line": f.line, "test": f.test, "detail": f.detail} for f in overfit
        ),
        cost={
            "tokens_evaluated": cost.tokens_evaluated,
            "tokens_generated": cost.tokens_generated,
            "programs_executed": cost.programs_executed,
            "seconds": round(cost.seconds, 3),
        },
    )
    return Decoded(
        program=program,
        status=status,
        cost=cost,
        record=record,
        message=message,
        stop_reason=stop_reason,
        visible=visible,
        overfit=overfit,
    )


def _judge(
    task: Task,
    executor: Executor,
    cache: ExecutionCache,
    program: str,
    stop_reason: str,
    message: str,
) -> tuple[SolveStatus, str, RunResult | None]:
    """``(status, message, visible result)`` of the final program: ``solved`` when it passes
    the visible tests, ``no_function`` without the target's ``def``, ``budget`` when the budget
    ended the decode, else ``unsolved`` (the message says how far it got)."""
    visible: RunResult | None = None
    status: SolveStatus
    if def_header_done(program + "\n", task.entry_point) is None:
        why = f"the model never wrote `def {task.entry_point}(`"
        return "no_function", f"{why} ({message})" if message else why, None
    if task.tests:
        (visible, _cached), *_ = cache.run(
            executor,
            [program],
            task.tests,
            setup=task.setup,
            entry_point=task.entry_point,
        )
    if visible is not None and visible.passed:
        status = "solved"
    elif stop_reason == "budget":
        status = "budget"
    else:
        status = "unsolved"
        if not task.tests:
            message = message or "no visible tests: the program was not checked"
        elif visible is not None:
            message = message or f"passes {visible.n_passed}/{len(visible.results)} visible tests"
    return status, message, visible
