"""``beadline mcp``: the bead workflow and the EG-CFG solver as MCP tools (the official SDK).

Tools (typed input schemas, structured results):

* ``implement_bead`` — build a bead given by id (the repository's ``.beads`` tracker), by
  bead file, or inline; returns the status, the diff, the report path and the thread id. With
  ``review=true`` the run stops at each stage with a ``question`` (status ``waiting_review``);
* ``resume_bead`` — answer that question (``decision``) and go on, or continue a stopped run;
* ``bead_status`` — where a thread stands (its result and pending question);
* ``list_ready_beads`` — the tracker's ready beads, highest priority first;
* ``solve_task`` — a description and assert lines → a program and its verdicts.

Long runs report progress stage by stage (``notifications/progress`` when the client passes a
progress token). Errors come back as MCP tool errors with the one-line reason, never a
traceback. The model and the sandbox are the server's options (``beadline mcp --model ...``);
a call may name another model (its name only: the backend, server URL and API key variable
stay the operator's). A run works in a worker thread, so the server keeps answering (progress,
other calls) meanwhile.

The server speaks stdio by default; ``--http`` serves streamable HTTP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from beadline.workflows.agent_api import operations
from beadline.workflows.agent_api._progress import progress_message
from beadline.workflows.agent_api._results import (
    BeadResult,
    ReadyBeadInfo,
    ReviewDecision,
    ThreadStatus,
    one_line,
)
from beadline.workflows.agent_api.operations import AgentDefaults, EventHandler, SolveAnswer
from beadline.workflows.bead.spec import Bead

__all__ = ["INSTRUCTIONS", "build_server"]

INSTRUCTIONS = (
    "beadline writes one Python function at a time into a repository (a 'bead'), stage by "
    "stage, validating each stage by running it, and solves small programming tasks with "
    "execution-guided decoding. implement_bead runs a bead (by tracker id, bead file, or "
    "inline) and returns the status, the diff and the thread id; with review=true it stops "
    "at each stage with a question that you answer with resume_bead(thread, decision). "
    "list_ready_beads shows what the tracker says is ready; bead_status shows a thread."
)
"""What the server tells a client about itself."""

T = TypeVar("T")

Repo = Annotated[
    str | None,
    Field(description="The repository (default: the server's, i.e. `beadline mcp --repo`)."),
]
Thread = Annotated[str, Field(description="The thread id a previous call returned.")]
ModelName = Annotated[
    str | None,
    Field(description="Another model name than the server's (same backend); usually omit."),
]


async def _run_reporting(ctx: Context, work: Callable[[EventHandler], T]) -> T:
    """Run ``work(on_event)`` in a worker thread, reporting its stage events as progress.

    Raises:
        ToolError: with the one-line reason, whatever ``work`` raised.
    """
    step = 0

    def on_event(event: dict[str, Any]) -> None:
        nonlocal step
        message = progress_message(event)
        if message is None:
            return
        step += 1
        anyio.from_thread.run(ctx.report_progress, step, None, message)

    try:
        return await anyio.to_thread.run_sync(work, on_event)
    except Exception as exc:
        raise ToolError(one_line(exc)) from None


async def _run(work: Callable[[], T]) -> T:
    """Run ``work()`` in a worker thread; its errors become one-line tool errors."""
    try:
        return await anyio.to_thread.run_sync(work)
    except Exception as exc:
        raise ToolError(one_line(exc)) from None


def _invalid_arguments(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        problems.append(f"{where}: {item['msg']}")
    return "invalid arguments: " + "; ".join(problems)


class _Server(MCPServer):
    """``MCPServer`` whose argument errors are one line too (the SDK's span several)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(
                    f"Error executing tool {name}: {_invalid_arguments(cause)}"
                ) from cause
            raise


def build_server(defaults: AgentDefaults, *, name: str = "beadline") -> MCPServer:
    """The MCP server, its tools bound to the operator's ``defaults``.

    Args:
        defaults: The repository, model, sandbox (and thread index) calls use unless they
            say otherwise.
        name: The server's name.

    Returns:
        An ``MCPServer``: ``.run()`` serves stdio, ``.run("streamable-http", host=..., port=...)``
        HTTP.
    """
    server: MCPServer = _Server(name, instructions=INSTRUCTIONS, log_level="WARNING")
    _add_run_tools(server, defaults)
    _add_query_tools(server, defaults)
    _add_solve_tool(server, defaults)
    return server


_WRITES = ToolAnnotations(destructive_hint=False, idempotent_hint=False, open_world_hint=False)
_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _add_run_tools(server: MCPServer, defaults: AgentDefaults) -> None:
    """``implement_bead`` and ``resume_bead``: the tools that run the bead graph."""

    @server.tool(annotations=_WRITES)
    async def implement_bead(
        ctx: Context,
        bead: Annotated[
            str | None,
            Field(
                description="A bead id in the repository's .beads tracker (e.g. bd-a1b2, "
                "bd-a1b2.1), or a bead YAML file. Omit when giving `inline`."
            ),
        ] = None,
        inline: Annotated[
            Bead | None, Field(description="The bead itself, instead of an id or file.")
        ] = None,
        repo: Repo = None,
        review: Annotated[
            bool,
            Field(
                description="Stop at each stage with a question (status waiting_review); "
                "answer it with resume_bead."
            ),
        ] = False,
        dry_run: Annotated[bool, Field(description="Compute the diff; write nothing.")] = False,
        force: Annotated[
            bool, Field(description="Build a closed or blocked tracker bead anyway.")
        ] = False,
        thread: Annotated[
            str | None, Field(description="The thread id to use (default BEAD-TIME).")
        ] = None,
        model: ModelName = None,
    ) -> BeadResult:
        """Implement one bead: write one function into the repository, stage by stage
        (signature, setup, body parts, integration), each validated by running it. Returns
        the status, the diff of the target file, the report path and the thread id."""
        work = partial(
            operations.implement_bead,
            defaults,
            bead=bead,
            inline=inline,
            repo=repo,
            review=review,
            dry_run=dry_run,
            force=force,
            thread=thread,
            model=model,
        )
        return await _run_reporting(ctx, lambda on_event: work(on_event=on_event))

    @server.tool(annotations=_WRITES)
    async def resume_bead(
        ctx: Context,
        thread: Thread,
        decision: Annotated[
            ReviewDecision | None,
            Field(description="The answer to the thread's pending review question."),
        ] = None,
        repo: Repo = None,
    ) -> BeadResult:
        """Continue a bead run: answer its review question with `decision`, or go on after
        a stop. A finished run is not run again (its stored result comes back)."""
        work = partial(operations.resume_bead, defaults, thread, decision=decision, repo=repo)
        return await _run_reporting(ctx, lambda on_event: work(on_event=on_event))


def _add_query_tools(server: MCPServer, defaults: AgentDefaults) -> None:
    """``bead_status`` and ``list_ready_beads``: read-only views of threads and the tracker."""

    @server.tool(annotations=_READS)
    async def bead_status(thread: Thread, repo: Repo = None) -> ThreadStatus:
        """Where a bead run stands: status, last stage, report, and its result and pending
        review question."""
        return await _run(partial(operations.bead_status, defaults, thread, repo=repo))

    @server.tool(annotations=_READS)
    async def list_ready_beads(repo: Repo = None) -> list[ReadyBeadInfo]:
        """The beads the repository's tracker says are ready (open, not blocked), highest
        priority first; each says whether it can be built as a bead."""
        return await _run(partial(operations.list_ready_beads, defaults, repo=repo))


def _add_solve_tool(server: MCPServer, defaults: AgentDefaults) -> None:
    """``solve_task``: the EG-CFG solver on one task."""

    @server.tool(annotations=_READS)
    async def solve_task(
        description: Annotated[str, Field(description="What the function must do.")],
        tests: Annotated[
            list[str],
            Field(description="Assert lines, e.g. 'assert add(1, 2) == 3'.", min_length=1),
        ],
        entry_point: Annotated[
            str | None, Field(description="The function's name (default: from the tests).")
        ] = None,
        signature: Annotated[
            str | None, Field(description="A given def line the model continues.")
        ] = None,
        held_out_tests: Annotated[
            list[str] | None,
            Field(description="Further asserts, judged but not shown to the model."),
        ] = None,
        method: Annotated[
            str, Field(description="egcfg (default), greedy, sample-filter, cfg, beam, ...")
        ] = "egcfg",
        time_budget_s: Annotated[
            float | None, Field(description="Wall-clock budget in seconds.", gt=0)
        ] = None,
        model: ModelName = None,
    ) -> SolveAnswer:
        """Solve one programming task with execution-guided decoding: returns the program
        and each test's verdict."""
        return await _run(
            partial(
                operations.solve_task,
                defaults,
                description=description,
                tests=tests,
                entry_point=entry_point,
                signature=signature,
                held_out_tests=held_out_tests or (),
                method=method,
                time_budget_s=time_budget_s,
                model=model,
            )
        )
