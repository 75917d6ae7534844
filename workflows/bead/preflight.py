"""The bead graph's first node: check the input before any model time is spent.

:func:`preflight` resets the run's state and checks, in order:

1. the bead is valid, and a repository is given when the bead (or ``apply``) needs one;
2. the target can be placed (:func:`~beadline.workflows.bead.in_repo.open_target`: the
   repository is a directory, the module's package exists, the class exists, the target is not
   inside a function, a missing target has ``create``); an existing stub's decorators and
   docstring become the signature the bead builds on;
3. the target module imports in the sandbox as it is
   (:func:`~beadline.validators.stages.check_module_imports`) — a missing dependency or a broken
   sibling would fail every candidate;
4. the integration command runs once on the unchanged repository: the baseline, with the tests
   that already fail (:mod:`beadline.workflows.bead.integration`).

Each problem ends the run at once with status ``invalid`` (or ``baseline_failed``) and a
one-line message naming the fix; nothing is generated and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from beadline.validators.executor import Executor
from beadline.validators.stages import check_integration, check_module_imports
from beadline.workflows.bead._stage_checks import command_limits
from beadline.workflows.bead.in_repo import effective_signature, open_target
from beadline.workflows.bead.integration import baseline_record, command_not_found, junit_command
from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import BeadError

__all__ = ["fresh_state", "preflight"]


def fresh_state() -> dict[str, Any]:
    """The state a run starts from (everything a resumed thread must not inherit)."""
    return {
        "status": "running",
        "message": "",
        "stage": "signature",
        "part": 0,
        "signature": "",
        "setup": "",
        "parts": [],
        "body_done": False,
        "attempts": {},
        "grants": {},
        "feedback": None,
        "pending": None,
        "cost": {},
        "baseline": None,
        "target": None,
        "module_text": "",
        "original_digest": "",
        "repo_view": None,
    }


def _invalid(start: dict[str, Any], message: str) -> dict[str, Any]:
    return {**start, "status": "invalid", "message": message}


def preflight(
    state: dict[str, Any],
    executor: Executor,
    emit: Callable[[dict[str, Any]], None],
    *,
    writes: bool = False,
) -> dict[str, Any]:
    """The state update of the preflight node (see the module docstring).

    ``writes``: the graph writes the result into the repository (``apply=True``), so a run
    without one is invalid too.
    """
    start = fresh_state()
    try:
        bead = Bead.model_validate(state["bead"])
    except ValueError as exc:
        return _invalid(start, f"invalid bead: {exc}")
    start["bead_id"] = bead.id
    emit({"event": "stage_started", "bead": bead.id, "stage": "preflight"})
    repo = state.get("repo") or bead.repo
    start["repo"] = repo
    needs_repo = writes or bead.integration is not None or bead.test_file is not None
    if needs_repo and (not repo or not Path(repo).is_dir()):
        return _invalid(
            start,
            f"bead {bead.id}: target repository {repo!r} not found; pass an existing directory "
            "(--repo DIR)",
        )
    if not repo:
        return start
    try:
        target = open_target(bead, repo)
    except BeadError as exc:
        return _invalid(start, str(exc))
    if bead.test_file and not (Path(repo) / bead.test_file).is_file():
        return _invalid(start, f"bead {bead.id}: test_file {bead.test_file!r} not found in {repo}")
    site = target.site
    start["target"] = {
        "file": bead.target.file,
        "module": target.context.module,
        "qualname": site.qualname,
        "exists": site.exists,
        "stub": site.stub,
        "create": bead.target.create,
    }
    signature = effective_signature(bead, site)
    if signature != bead.target.signature:
        updated = bead.target.model_copy(update={"signature": signature})
        start["bead"] = bead.model_copy(update={"target": updated}).model_dump(mode="json")
    imports = check_module_imports(target.context, executor)
    emit({"event": "module_imports", "bead": bead.id, "ok": imports.ok, "summary": imports.summary})
    if not imports.ok:
        return _invalid(start, f"bead {bead.id}: {imports.summary}")
    if bead.integration is None:
        return start
    return _baseline(start, bead, target, executor, emit)


def _baseline(
    start: dict[str, Any],
    bead: Bead,
    target: Any,
    executor: Executor,
    emit: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    assert bead.integration is not None
    argv, junit = junit_command(bead.integration.command)
    verdict = check_integration(
        target.repo,
        {},
        argv,
        executor,
        limits=command_limits(bead.integration.timeout_s),
        context=target.context,
        junit_xml=junit,
    )
    record = baseline_record(verdict, bead, junit=junit is not None)
    start["baseline"] = record
    emit({"event": "baseline", "bead": bead.id, "ok": verdict.ok, "summary": record["summary"]})
    if verdict.ok:
        return start
    if command_not_found(verdict):
        return _invalid(
            start,
            f"bead {bead.id}: integration command not found: {verdict.summary}; fix "
            "integration.command",
        )
    if record["junit"] or bead.integration.expect_fail_before:
        return start  # per-test ids: only new failures will count; or failing is expected
    return {
        **start,
        "status": "baseline_failed",
        "message": f"bead {bead.id}: the integration command already fails on the unchanged "
        f"repository ({verdict.summary}) and reports no per-test results, so new failures "
        "cannot be told from old ones; nothing was generated. Fix the repository's tests, use "
        "a pytest command, or set integration.expect_fail_before: true when the command tests "
        "the new function",
    }
