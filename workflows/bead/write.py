"""Landing a passed bead in the repository: exactly what was validated, then checked again.

:func:`write_result` writes the module text that passed the integration stage (the graph's
``module_text``) byte for byte — never a re-merge — after checking that the file still is the
one the bead was built on (a file edited while the bead ran is not overwritten). After a real
write the file is imported from a fresh snapshot of the repository and the bead's unit tests
run once more against it in the sandbox (:func:`recheck_written`); if that fails, the previous
file is put back and the error says why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beadline.validators.executor import Executor
from beadline.validators.snapshot import module_context, snapshot_repo
from beadline.validators.stages import StageVerdict, check_module_imports, check_unit
from beadline.workflows.bead.apply import ApplyError, ApplyResult, apply_to_repo
from beadline.workflows.bead.in_repo import SNAPSHOT_EXCLUDE, read_source, text_digest
from beadline.workflows.bead.spec import Bead

__all__ = ["Written", "recheck_written", "write_result"]


@dataclass(frozen=True, kw_only=True)
class Written:
    """What :func:`write_result` did."""

    applied: ApplyResult
    """The write (or the dry run's diff)."""
    recheck: StageVerdict | None
    """The re-check of the written file (``None`` for a dry run or when nothing changed)."""

    def to_json(self, *, dry_run: bool) -> dict[str, Any]:
        """For the report."""
        result = self.applied
        return {
            "path": str(result.path),
            "backup": str(result.backup) if result.backup else None,
            "diff": result.diff,
            "dry_run": dry_run,
            "written": result.written,
            "created": result.created,
            "recheck": None
            if self.recheck is None
            else {"ok": self.recheck.ok, "summary": self.recheck.summary},
        }


def recheck_written(repo: Path, bead: Bead, executor: Executor) -> StageVerdict:
    """Import the written file from a fresh snapshot and run the unit tests on it once more."""
    snapshot = snapshot_repo(repo, exclude=SNAPSHOT_EXCLUDE)
    context = module_context(snapshot, bead.target.file, target=bead.target.function)
    imported = check_module_imports(context, executor)
    if not imported.ok or not bead.tests:
        return imported
    return check_unit(
        context.original_text(),
        bead.unit_tests(),
        executor,
        entry_point=bead.target.function,
        context=context,
    )


def _restore(result: ApplyResult) -> None:
    if result.created:
        result.path.unlink(missing_ok=True)
    elif result.backup is not None:
        tmp = result.path.with_name(f".{result.path.name}.restore")
        tmp.write_bytes(result.backup.read_bytes())
        os.replace(tmp, result.path)


def write_result(
    values: Mapping[str, Any],
    bead: Bead,
    executor: Executor,
    *,
    dry_run: bool,
) -> Written:
    """Write a passed run's module text into its repository (see the module docstring).

    Args:
        values: The graph's final state (``repo``, ``module_text``, ``original_digest``).
        bead: The bead.
        executor: The sandbox the re-check runs in.
        dry_run: Only compute the diff.

    Raises:
        ApplyError: the run holds no validated module text, the file changed since it was
            validated, it cannot be written, or the written file failed its re-check (the
            previous file is then restored).
    """
    repo = Path(str(values["repo"]))
    text = str(values.get("module_text") or "")
    if not text:
        raise ApplyError(
            f"bead {bead.id}: the run holds no validated module text; nothing was written. Run "
            "the bead again"
        )
    path = repo / bead.target.file
    if text_digest(read_source(path)) != values.get("original_digest"):
        raise ApplyError(
            f"{path} changed since the bead validated its new text; nothing was written. Run "
            "the bead again on the current file"
        )
    applied = apply_to_repo(repo, bead.target.file, text, dry_run=dry_run)
    if not applied.written:
        return Written(applied=applied, recheck=None)
    recheck = recheck_written(repo, bead, executor)
    if not recheck.ok:
        _restore(applied)
        raise ApplyError(
            f"the written {bead.target.file} failed its re-check ({recheck.summary}); the "
            "previous file was restored"
        )
    return Written(applied=applied, recheck=recheck)
