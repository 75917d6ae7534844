"""A code-generation task and the result of solving it (shared by the decoder, search and bench).

A :class:`Task` holds what the model may see (description, visible tests, an optional given
signature/prompt) and what only the judge sees (held-out tests). EG-CFG executes candidates on
the *visible* tests; benchmarks report verdicts on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from beadline.agents.errors import UserError
from beadline.agents.splice import ModuleTarget
from beadline.validators.executor import RunResult, TestCase

__all__ = ["Cost", "SolveResult", "SolveStatus", "Task"]


@dataclass(frozen=True, kw_only=True)
class Task:
    """One function to write."""

    task_id: str
    """Stable id (``mbpp/11``, ``HumanEval/0``, a file name)."""
    description: str
    """What the function must do, in words."""
    entry_point: str
    """Name of the function to write."""
    tests: tuple[TestCase, ...] = ()
    """Visible tests: shown in the prompt, executed for guidance and for picking a program."""
    held_out_tests: tuple[TestCase, ...] = ()
    """Tests only the judge runs (HumanEval's hidden ``check``; MBPP asserts under
    ``--guide-tests first``)."""
    signature: str | None = None
    """A given ``def`` line (optionally with its docstring); the model continues after it."""
    prompt: str | None = None
    """A given code prefix (HumanEval's prompt: imports, signature, docstring)."""
    setup: str = ""
    """Code run before each test, untraced (MBPP ``test_setup_code``)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Anything a dataset loader wants to keep (e.g. the reference solution)."""
    module: ModuleTarget | None = None
    """Run every program as this module of a repository: the program (setup + the function as
    a top-level ``def``, a method dedented) is spliced into the whole module, which is imported
    as part of its package from a snapshot (:mod:`beadline.agents.splice`). ``None``: programs
    run alone."""
    code_context: str = ""
    """Code of the repository shown to the model before the task (the target module, the
    bead's context files), already cut to fit the context window."""

    def __post_init__(self) -> None:
        if not self.entry_point.isidentifier():
            raise UserError(
                f"task {self.task_id!r}: entry point {self.entry_point!r} is not a Python identifier"
            )


@dataclass(frozen=True, kw_only=True)
class Cost:
    """What solving a task cost."""

    tokens_evaluated: int = 0
    """Tokens the model evaluated (prompt and generated, across all contexts and candidates)."""
    tokens_generated: int = 0
    """Tokens sampled (final program and candidates)."""
    programs_executed: int = 0
    """Distinct programs run in the sandbox."""
    seconds: float = 0.0
    """Wall time."""

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            tokens_evaluated=self.tokens_evaluated + other.tokens_evaluated,
            tokens_generated=self.tokens_generated + other.tokens_generated,
            programs_executed=self.programs_executed + other.programs_executed,
            seconds=self.seconds + other.seconds,
        )


SolveStatus = Literal["solved", "unsolved", "no_function", "budget", "error"]
"""``solved``: a program passed all visible tests. ``unsolved``: programs were produced, none
passed. ``no_function``: the model never wrote the target ``def``. ``budget``: the token or time
budget ended the run first. ``error``: the task itself was invalid or the run failed (see message)."""


@dataclass(frozen=True, kw_only=True)
class SolveResult:
    """The outcome of one method on one task."""

    task_id: str
    """The task."""
    method: str
    """``greedy``, ``sample-filter``, ``cfg``, ``beam``, ``cfg+beam``, ``egcfg`` …"""
    status: SolveStatus
    """How it ended (see :data:`SolveStatus`)."""
    program: str = ""
    """The final program (the best one found when unsolved)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The configuration that produced ``program`` (for the grid: the one that solved it)."""
    visible: RunResult | None = None
    """The final program on the visible tests."""
    held_out: RunResult | None = None
    """The final program on the held-out tests (when the task has any)."""
    cost: Cost = field(default_factory=Cost)
    """Total cost of the method on this task."""
    record: dict[str, Any] | None = None
    """The decoding record (JSON-serialisable), when one was kept."""
    message: str = ""
    """One line on what happened, for ``error``/``no_function``/``budget``."""
