"""The operations the agents' entry points offer, over the bead service, one way for both.

The MCP server (:mod:`beadline.workflows.agent_api.mcp_server`) and the LangChain tool
(:mod:`beadline.workflows.agent_api.langchain_tool`) call these synchronous functions with the
calling agent's arguments and an :class:`AgentDefaults` (the server's or the tool's options):

* :func:`implement_bead` — a bead by id (in the repository's tracker) or file, or given inline;
  runs the bead graph through :func:`beadline.workflows.bead.runs.start_run`;
* :func:`resume_bead` / :func:`bead_status` — a thread: continue it (answering its review
  question) or look at it;
* :func:`list_ready_beads` — the tracker's ready beads;
* :func:`solve_task` — a description and assert lines → a program and its verdicts
  (:func:`beadline.agents.search.solve`).

The model is picked the one shared way: the defaults' :class:`~beadline.agents.models.choice.ModelChoice`,
of which a call may replace only the model *name* (the backend, the server URL and the API
key's variable stay the operator's: an agent must not be able to send a key to a URL of its
choice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from beadline.agents.models.choice import ModelChoice, model_choice
from beadline.workflows.agent_api._results import (
    BeadResult,
    ReadyBeadInfo,
    ReviewDecision,
    ThreadStatus,
)
from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import UserError

__all__ = [
    "AgentDefaults",
    "EventHandler",
    "SolveAnswer",
    "TestVerdict",
    "bead_status",
    "implement_bead",
    "list_ready_beads",
    "resume_bead",
    "solve_task",
]

EventHandler = Callable[[dict[str, Any]], None]
"""Receives the run's progress events (``stage_started``, ``stage_validated`` …)."""


@dataclass(frozen=True, kw_only=True)
class AgentDefaults:
    """The operator's settings of an entry point (``beadline mcp`` options, ``as_tool`` args)."""

    repo: Path | None = None
    """The repository a call means when it names none (the server's current directory)."""
    model: ModelChoice = field(default_factory=ModelChoice)
    """The model; a call may replace its name only."""
    sandbox: str = "auto"
    """Where code runs: ``auto``, ``local`` or ``docker``."""
    decode_seconds: float | None = None
    """Time budget of one stage attempt (``None``: the service's default)."""
    index: Path | None = None
    """The per-user thread index (threads found from any directory)."""
    environ: Mapping[str, str] | None = None
    """Where the API key's variable is read (``None``: the process environment)."""

    def choice(self, model: str | None) -> ModelChoice:
        """The model choice of a call: the defaults, with the call's model name if it gives one.

        Raises:
            UserError: the name does not fit the backend (e.g. ``scripted:`` on openai).
        """
        if not model:
            return self.model
        base = self.model
        return model_choice(model, base.backend, base.base_url, base.api_key_env)

    def repository(self, repo: str | None) -> Path | None:
        """The call's repository (absolute), else the default.

        Raises:
            UserError: the directory does not exist.
        """
        if repo is None:
            return self.repo.resolve() if self.repo is not None else None
        path = Path(repo).expanduser()
        if not path.is_absolute() and self.repo is not None:
            path = self.repo / path
        if not path.is_dir():
            raise UserError(f"repository {repo!r} not found; pass an existing directory as repo")
        return path.resolve()


def _validated(errors: ValidationError, what: str) -> UserError:
    problems = []
    for item in errors.errors():
        where = ".".join(str(p) for p in item["loc"])
        problems.append(f"{where}: {str(item['msg']).removeprefix('Value error, ')}")
    return UserError(f"{what}: " + "; ".join(problems))


def implement_bead(
    defaults: AgentDefaults,
    *,
    bead: str | None = None,
    inline: Bead | Mapping[str, Any] | None = None,
    repo: str | None = None,
    review: bool = False,
    dry_run: bool = False,
    force: bool = False,
    thread: str | None = None,
    model: str | None = None,
    on_event: EventHandler | None = None,
) -> BeadResult:
    """Build a bead: an id in the repository's tracker, a YAML bead file, or one given inline.

    Args:
        defaults: The entry point's settings.
        bead: A tracker id (``bd-a1b2``, ``bd-a1b2.1``) or a bead file's path.
        inline: The bead itself (instead of ``bead``).
        repo: The repository (default: the bead's, else ``defaults.repo``).
        review: Pause at each stage with a question (answer it with :func:`resume_bead`).
        dry_run: Compute the diff, write nothing.
        force: Build a closed or blocked bead anyway.
        thread: The thread id (default ``BEAD-TIME``).
        model: Another model name than the defaults'.
        on_event: Receives progress events.

    Returns:
        The result; with ``review`` it may stop at ``waiting_review`` with the question.

    Raises:
        UserError: bad input (neither or both of bead/inline, unknown bead, missing repository,
            a refused or claimed bead); nothing was run or written.
    """
    from beadline.workflows.bead.runs import BeadRunOptions, start_run

    if (bead is None) == (inline is None):
        raise UserError(
            "give either bead (a tracker id or a bead file) or inline (the bead's fields), "
            "not both and not neither"
        )
    where = defaults.repository(repo)
    ref: str | dict[str, Any]
    if inline is not None:
        ref = inline.model_dump(mode="json") if isinstance(inline, Bead) else dict(inline)
        if where is None and not ref.get("repo"):
            raise UserError(
                f"inline bead {ref.get('id', '?')!r} names no repository; pass repo (the "
                "directory holding its target file)"
            )
    else:
        assert bead is not None
        ref = bead
        path = Path(bead).expanduser()
        if where is not None and not path.is_absolute() and (where / path).is_file():
            ref = str(where / path)
    settings: dict[str, Any] = {
        "bead": ref,
        "repo": str(where) if where is not None else None,
        "model": defaults.choice(model),
        "sandbox": defaults.sandbox,
        "review": review,
        "dry_run": dry_run,
        "force": force,
        "thread": thread,
    }
    if defaults.decode_seconds is not None:
        settings["decode_seconds"] = defaults.decode_seconds
    try:
        options = BeadRunOptions(**settings)
    except ValidationError as exc:
        raise _validated(exc, "implement_bead") from None
    outcome = start_run(options, on_event=on_event, index=defaults.index, environ=defaults.environ)
    return BeadResult.from_outcome(outcome)


def resume_bead(
    defaults: AgentDefaults,
    thread: str,
    *,
    decision: ReviewDecision | Mapping[str, Any] | None = None,
    repo: str | None = None,
    on_event: EventHandler | None = None,
) -> BeadResult:
    """Continue a thread: answer its pending review question, or go on after a stop.

    A finished thread is not run again: its stored result comes back (``already_finished``).

    Raises:
        UserError: an unknown thread, a decision with no question pending, a bad decision.
    """
    from beadline.workflows.bead.runs import resume_run

    if isinstance(decision, Mapping):
        try:
            decision = ReviewDecision.model_validate(decision)
        except ValidationError as exc:
            raise _validated(exc, "decision") from None
    outcome = resume_run(
        thread,
        repo=defaults.repository(repo),
        index=defaults.index,
        decision=decision.to_resume() if decision is not None else None,
        on_event=on_event,
        environ=defaults.environ,
    )
    return BeadResult.from_outcome(outcome)


def bead_status(defaults: AgentDefaults, thread: str, *, repo: str | None = None) -> ThreadStatus:
    """Where a thread stands, with its result (and question) once it ended or paused.

    Raises:
        UserError: an unknown thread.
    """
    from beadline.workflows.bead.runs import get_thread

    info, outcome = get_thread(thread, repo=defaults.repository(repo), index=defaults.index)
    return ThreadStatus(
        thread_id=info.thread_id,
        bead_id=info.bead_id,
        status=info.status,
        last_stage=info.last_stage,
        repo=info.repo,
        updated_at=info.updated_at,
        report_path=info.report,
        message=info.message,
        result=BeadResult.from_outcome(outcome) if outcome is not None else None,
    )


def list_ready_beads(defaults: AgentDefaults, *, repo: str | None = None) -> list[ReadyBeadInfo]:
    """The ready beads of the repository's tracker, highest priority first.

    Raises:
        UserError: no repository, or no tracker in it.
    """
    from beadline.workflows.bead.runs import ready

    where = defaults.repository(repo)
    if where is None:
        raise UserError("list_ready_beads: pass repo (a repository with a .beads/ tracker)")
    _tracker, beads = ready(where)
    return [
        ReadyBeadInfo(
            id=item.issue.id,
            title=item.issue.title,
            priority=item.issue.priority,
            buildable=item.bead is not None,
            problem=item.problem,
        )
        for item in beads
    ]


class TestVerdict(BaseModel):
    """One test's verdict on the final program."""

    __test__ = False  # not a pytest class

    test: str = Field(description="The assert line.")
    status: str = Field(description="passed, failed, error or timeout.")
    message: str = Field(description="Expected vs actual, or the error.")


class SolveAnswer(BaseModel):
    """The program found for a task, and how it fared on the tests."""

    status: str = Field(
        description="solved (all visible tests pass), unsolved, no_function, budget or error."
    )
    program: str
    message: str
    verdicts: list[TestVerdict] = Field(description="The visible tests on the program.")
    held_out: list[TestVerdict] = Field(description="The held-out tests on the program.")
    method: str
    seconds: float


def _verdicts(run: Any) -> list[TestVerdict]:
    if run is None:
        return []
    return [
        TestVerdict(test=r.test.source or r.test.name, status=r.status, message=r.message)
        for r in run.results
    ]


def solve_task(
    defaults: AgentDefaults,
    *,
    description: str,
    tests: Sequence[str],
    entry_point: str | None = None,
    signature: str | None = None,
    held_out_tests: Sequence[str] = (),
    method: str = "egcfg",
    time_budget_s: float | None = None,
    model: str | None = None,
) -> SolveAnswer:
    """Solve one task: a description and assert lines → a program and the tests' verdicts.

    Raises:
        UserError: a bad task (no tests, a test that is not an assert line, no function
            called), an unknown method, a scripted model (bead stages, not a model).
        BackendError, ModelNotFoundError: the model cannot be opened.
    """
    from beadline.agents.search import solve
    from beadline.validators.sandbox.factory import make_executor
    from beadline.workflows.bench.tasks import make_task

    task = make_task(
        description=description,
        tests=list(tests),
        signature=signature,
        entry_point=entry_point,
        held_out_tests=list(held_out_tests),
        where="solve_task",
    )
    choice = defaults.choice(model)
    started = time.monotonic()
    with choice.load(defaults.environ) as loaded, make_executor(defaults.sandbox) as executor:
        result = solve(
            task, loaded, executor, method=method, time_budget_s=time_budget_s, keep_record=False
        )
    return SolveAnswer(
        status=result.status,
        program=result.program,
        message=result.message,
        verdicts=_verdicts(result.visible),
        held_out=_verdicts(result.held_out),
        method=result.method,
        seconds=round(time.monotonic() - started, 3),
    )
