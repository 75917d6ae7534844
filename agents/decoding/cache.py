"""The execution cache: every program runs once per task and test set, whoever asks.

The guidance step, the beam and the final judging of a program all run programs through one
:class:`ExecutionCache`; :func:`beadline.agents.search.solve` shares it across the decodes of a
task's configuration grid, so a program found by several configurations runs once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from beadline.agents._code import with_main_call
from beadline.agents.settings import DecoderSettings
from beadline.validators.executor import Executor, Limits, RunRequest, RunResult, TestCase

__all__ = ["ExecutionCache", "exec_limits"]


@dataclass
class ExecutionCache:
    """Results of programs already run, by program text and tests; never runs one twice.

    Share one cache across the decodes of one task (the configuration grid) so a program found
    by several configurations runs once.
    """

    results: dict[tuple[str, tuple[TestCase, ...], str], RunResult] = field(default_factory=dict)
    """Cached results."""
    executed: int = 0
    """Programs actually executed through this cache."""

    def run(
        self,
        executor: Executor,
        programs: Sequence[str],
        tests: Sequence[TestCase],
        *,
        setup: str = "",
        limits: Limits | None = None,
        entry_point: str | None = None,
        trace: bool = True,
    ) -> list[tuple[RunResult, bool]]:
        """Run each program on ``tests`` (one ``run_many`` call for the new ones).

        Returns:
            Per program, in order: its result and whether it came from the cache.
        """
        tests_key = tuple(tests)
        if entry_point is not None:  # a stdin/stdout program needs its entry point called
            programs = [with_main_call(p, entry_point, tests_key) for p in programs]
        keys = [(p, tests_key, setup) for p in programs]
        todo: list[tuple[str, tuple[TestCase, ...], str]] = []
        for key in keys:
            if key not in self.results and key not in todo:
                todo.append(key)
        if todo:
            requests = [
                RunRequest(
                    program=key[0],
                    tests=tests_key,
                    limits=limits or Limits(),
                    trace=trace,
                    trace_function=entry_point,
                    setup=setup,
                )
                for key in todo
            ]
            for key, result in zip(todo, executor.run_many(requests), strict=True):
                self.results[key] = result
            self.executed += len(todo)
        fresh = set(todo)
        out: list[tuple[RunResult, bool]] = []
        for key in keys:
            out.append((self.results[key], key not in fresh))
            fresh.discard(key)
        return out


def exec_limits(settings: DecoderSettings) -> Limits:
    """Per-test limits of a candidate run."""
    return Limits(
        wall_s=settings.exec_timeout_s,
        cpu_s=settings.exec_timeout_s,
        trace_chars=max(settings.trace_chars * 2, 1_000),
    )
