"""A fake executor for tests of the layers above the sandbox.

:class:`FakeExecutor` answers each request with a function you give it and records every
request, so a test can check *which* programs were executed and when, without processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    JUnitCase,
    RunRequest,
    RunResult,
    TestResult,
)

__all__ = ["FakeExecutor"]

RunFn = Callable[[RunRequest], RunResult]
"""Computes the result of a run request."""
CommandFn = Callable[[CommandRequest], CommandResult]
"""Computes the result of a command request."""


def _command_passes(request: CommandRequest) -> CommandResult:
    """Exit status 0; when a JUnit report is asked for, one passed case in it (as a real
    runner writes: the integration stage does not take an exit status alone as a pass)."""
    junit = (
        (JUnitCase(name="test_fake", classname="fake", status="passed"),)
        if request.junit_xml
        else ()
    )
    return CommandResult(status="passed", exit_code=0, junit=junit)


def _all_pass(request: RunRequest) -> RunResult:
    return RunResult(
        results=tuple(TestResult(test=t, status="passed") for t in request.tests), backend="fake"
    )


class FakeExecutor(Executor):
    """An executor that never runs anything: results come from ``on_run`` / ``on_command``."""

    __test__: ClassVar[bool] = False
    name: ClassVar[str] = "fake"

    def __init__(self, on_run: RunFn = _all_pass, on_command: CommandFn | None = None) -> None:
        self.on_run = on_run
        self.on_command = on_command or _command_passes
        self.requests: list[RunRequest] = []
        """Every run request, in order."""
        self.commands: list[CommandRequest] = []
        """Every command request, in order."""
        self.closed = False

    def run(self, request: RunRequest) -> RunResult:
        self.requests.append(request)
        return self.on_run(request)

    def run_command(self, request: CommandRequest) -> CommandResult:
        self.commands.append(request)
        return self.on_command(request)

    def close(self) -> None:
        self.closed = True
