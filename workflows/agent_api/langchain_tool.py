"""The bead workflow as a LangChain tool, for ``langchain.agents.create_agent`` and LangGraph agents.

:func:`as_tool` returns a :class:`~langchain_core.tools.BaseTool` named ``implement_bead``: the
agent passes a bead (an id in the repository's tracker, a bead file, or the bead's fields
inline); the tool runs the bead graph through the bead service (the same path as ``beadline
bead run`` and the MCP server: a thread in ``REPO/.beadline/``, a report, tracker write-back)
and answers with the status, the message, the diff, the report path and the thread id — as
JSON text the model reads, and the full result as the tool message's ``artifact``.

Inside a LangGraph agent the run's progress events go to the agent's ``custom`` stream
(``agent.stream(..., stream_mode="custom")``). Bad input (an unknown bead, a missing
repository) comes back to the model as an error tool message with the one-line reason, so it
can correct itself; the agent does not crash. The tool has no review mode (an agent cannot
answer a person's question mid-call): use the MCP server's ``resume_bead`` or ``beadline bead
run --review`` for that.

Example:
    >>> from beadline.workflows import as_tool
    >>> tool = as_tool(model="scripted:examples/agent/square.yaml", repo="examples/sample_repo")
    >>> tool.name
    'implement_bead'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from beadline.agents.models.choice import ModelChoice, model_choice
from beadline.workflows.agent_api._results import BeadResult, one_line
from beadline.workflows.agent_api.operations import AgentDefaults, implement_bead
from beadline.workflows.bead.spec import Bead

__all__ = ["DESCRIPTION", "ImplementBeadArgs", "as_tool"]

DESCRIPTION = (
    "Implement one bead: write one Python function into a repository, stage by stage "
    "(signature, setup, body, integration), each stage validated by running it. Give either "
    "`bead` (an id in the repository's .beads tracker, or a bead YAML file) or `inline` (the "
    "bead: id, description, target {file, function, signature}, tests as assert lines, "
    "optional integration command). Returns JSON: status (passed/failed/...), message, diff "
    "of the target file, whether it was written, the report path and the thread id."
)
"""What the model is told the tool does."""


class ImplementBeadArgs(BaseModel):
    """The tool's input."""

    model_config = ConfigDict(extra="forbid")

    bead: str | None = Field(
        default=None,
        description="A bead id in the repository's tracker (e.g. bd-a1b2, bd-a1b2.1), or the "
        "path of a bead YAML file. Leave empty when giving `inline`.",
    )
    inline: Bead | None = Field(
        default=None, description="The bead itself, instead of an id or file."
    )
    repo: str | None = Field(
        default=None,
        description="The repository holding the target file (default: the tool's repository).",
    )
    dry_run: bool | None = Field(
        default=None, description="Only compute the diff; write nothing (default: the tool's)."
    )


def _content(result: BeadResult) -> str:
    """What the model reads: the verdict, the diff and where to look next, as JSON."""
    keep = ("status", "message", "bead_id", "thread_id", "written", "target", "report_path")
    data = {k: getattr(result, k) for k in keep}
    data["diff"] = result.diff
    if result.status != "passed" and result.program:
        data["program"] = result.program
    return json.dumps(data, indent=1)


def _validation_message(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
    ]
    return "implement_bead: invalid arguments: " + "; ".join(problems)


def as_tool(
    model: ModelChoice | str | None = None,
    *,
    repo: str | Path | None = None,
    sandbox: str = "auto",
    dry_run: bool = False,
    force: bool = False,
    decode_seconds: float | None = None,
    index: Path | None = None,
    environ: Mapping[str, str] | None = None,
    name: str = "implement_bead",
    description: str = DESCRIPTION,
) -> BaseTool:
    """The bead workflow as a LangChain tool.

    Args:
        model: The model (a :class:`~beadline.agents.models.choice.ModelChoice`, or a model
            name for the default backend, or ``scripted:FILE.yaml``); default: the packaged
            model.
        repo: The repository a call means when it names none.
        sandbox: Where code runs: ``auto``, ``local`` or ``docker``.
        dry_run: Compute diffs only, never write (a call may ask for a dry run, never for
            the opposite of this).
        force: Build closed or blocked tracker beads anyway.
        decode_seconds: Time budget of one stage attempt.
        index: A per-user thread index to record threads in.
        environ: Where the API key's variable is read (default: the process environment).
        name: The tool's name as the model sees it.
        description: What the model is told the tool does.

    Returns:
        A ``StructuredTool`` (``response_format="content_and_artifact"``: the artifact is the
        full :class:`~beadline.workflows.agent_api._results.BeadResult` as a dict).

    Raises:
        UserError: a bad model choice or a missing repository.
    """
    choice = model if isinstance(model, ModelChoice) else model_choice(model)
    defaults = AgentDefaults(
        repo=Path(repo).resolve() if repo is not None else None,
        model=choice,
        sandbox=sandbox,
        decode_seconds=decode_seconds,
        index=index,
        environ=environ,
    )
    if defaults.repo is not None:
        defaults.repository(str(defaults.repo))  # fail now, not at the first call

    always_dry = dry_run

    def run(
        bead: str | None = None,
        inline: Bead | None = None,
        repo: str | None = None,
        dry_run: bool | None = None,
    ) -> tuple[str, dict[str, Any]]:
        try:
            result = implement_bead(
                defaults,
                bead=bead or None,
                inline=inline,
                repo=repo,
                dry_run=always_dry or bool(dry_run),
                force=force,
                on_event=_forward,
            )
        except Exception as exc:
            raise ToolException(one_line(exc)) from None
        return _content(result), result.model_dump(mode="json")

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=description,
        args_schema=ImplementBeadArgs,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_validation_message,
    )


def _forward(event: dict[str, Any]) -> None:
    """Send a progress event to the surrounding LangGraph run's ``custom`` stream, if any."""
    from langgraph.config import get_stream_writer

    try:
        writer = get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a LangGraph run (or a bare runnable call)
        return
    writer({"tool": "implement_bead", **event})
