"""Run the decoder's programs as the whole module of a repository (a task with ``module``).

The decoder writes, cuts and repairs *standalone* programs (setup, then the target function as a
top-level ``def``). For a task in a repository (:attr:`beadline.agents.task.Task.module`)
:class:`InModuleExecutor` sits between the decoder and the sandbox: every program it is asked to
run is spliced into the target module (:func:`beadline.agents.splice.splice`: the target
replaced in place, a method indented into its class, the setup merged by bound name) and run
under the module's :class:`~beadline.validators.snapshot.ModuleContext` — imported as part of its
package from a read-only snapshot of the repository, its siblings and relative imports resolving
there. The results come back in the program's coordinates (trace lines and error lines mapped
to the lines the model wrote), so the dynamic signal shows traces that match the code it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from beadline.agents.splice import ModuleTarget, Spliced, SpliceError
from beadline.agents.task import Task
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
    TestResult,
    Trace,
)

__all__ = ["InModuleExecutor", "for_task"]


class InModuleExecutor(Executor):
    """Runs standalone programs as the target module of a repository snapshot.

    Args:
        inner: The sandbox (it must support module contexts: the local and docker backends).
        module: The target module and where the target sits in it.

    The inner executor is not owned: :meth:`close` leaves it open.
    """

    name: ClassVar[str] = "in-module"

    def __init__(self, inner: Executor, module: ModuleTarget) -> None:
        self.inner = inner
        self.module = module
        self._spliced: dict[str, Spliced] = {}

    def spliced(self, program: str) -> Spliced:
        """The module text of ``program`` (memoised: candidates repeat).

        Raises:
            SpliceError: the program lacks the target function or its setup cannot be merged.
        """
        found = self._spliced.get(program)
        if found is None:
            found = self.module.splice(program)
            self._spliced[program] = found
        return found

    def run(self, request: RunRequest) -> RunResult:
        """Run one program (see the class docstring)."""
        return self.run_many([request])[0]

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        """Run programs in one batch of the inner executor; a program that cannot be spliced
        gets an ``error`` result on every test instead of running."""
        out: list[RunResult | None] = [None] * len(requests)
        batch: list[tuple[int, Spliced, RunRequest]] = []
        for index, request in enumerate(requests):
            try:
                spliced = self.spliced(request.program)
            except SpliceError as exc:
                out[index] = _not_run(request, str(exc), self.inner.name)
                continue
            module_request = replace(request, program=spliced.text, context=self.module.context)
            batch.append((index, spliced, module_request))
        if batch:
            results = self.inner.run_many([r for _, _, r in batch])
            for (index, spliced, _), result in zip(batch, results, strict=True):
                out[index] = _in_program_lines(result, spliced)
        return [r for r in out if r is not None]

    def run_command(self, request: CommandRequest) -> CommandResult:
        """Commands pass through unchanged."""
        return self.inner.run_command(request)


def for_task(executor: Executor, task: Task) -> Executor:
    """The executor a task's programs run through: ``executor`` itself for a standalone task,
    an :class:`InModuleExecutor` for a task in a repository (never wrapped twice)."""
    if task.module is None:
        return executor
    if isinstance(executor, InModuleExecutor) and executor.module is task.module:
        return executor
    return InModuleExecutor(executor, task.module)


def _not_run(request: RunRequest, why: str, backend: str) -> RunResult:
    return RunResult(
        results=tuple(
            TestResult(test=t, status="error", exc_type="SpliceError", message=why)
            for t in request.tests
        ),
        backend=backend,
    )


def _in_program_lines(result: RunResult, spliced: Spliced) -> RunResult:
    """``result`` with module lines turned into the program's (events outside it keep theirs)."""
    mapped: list[TestResult] = []
    for test in result.results:
        events = tuple(
            replace(e, line=spliced.line_map.get(e.line, e.line)) for e in test.trace.events
        )
        mapped.append(
            replace(
                test,
                line=spliced.program_line(test.line),
                trace=Trace(events=events, truncated=test.trace.truncated),
            )
        )
    return replace(result, results=tuple(mapped))
