"""Write a bead's result into the user's repository: merge, diff, atomic replace with a backup.

:func:`merge_function` puts a function into a module's text (replacing a top-level function of
that name, or appending it) and adds the setup's imports and constants that are missing.
:func:`apply_to_repo` writes the merged text atomically — a temporary file in the same directory,
flushed and fsynced, then ``os.replace`` — after copying the previous file to ``<name>.bak``, or
with ``dry_run`` only returns the unified diff. A reader never sees a half-written file and the
previous version is never lost. :func:`apply_bead` does both for a finished bead run: it is what
the CLI and the graph's ``apply`` option (``build_bead_graph(..., apply=True)``) call.
"""

from __future__ import annotations

import ast
import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import UserError

__all__ = [
    "ApplyError",
    "ApplyResult",
    "apply_bead",
    "apply_to_repo",
    "merge_function",
    "split_program",
]


class ApplyError(UserError):
    """Raised when the result cannot be merged into or written to the target file."""


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    """What :func:`apply_to_repo` did."""

    path: Path
    """The target file."""
    diff: str
    """Unified diff from the previous text to the new one (empty when unchanged)."""
    written: bool
    """False for a dry run or when nothing changed."""
    backup: Path | None = None
    """Where the previous file was copied (``None`` when it did not exist or nothing was written)."""
    created: bool = False
    """True when the file did not exist before."""
    dry_run: bool = False
    """True when only the diff was computed."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the graph state and the run report (``applied``)."""
        return {
            "path": str(self.path),
            "backup": str(self.backup) if self.backup else None,
            "diff": self.diff,
            "dry_run": self.dry_run,
            "written": self.written,
            "created": self.created,
        }


def _parse(text: str, what: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise ApplyError(
            f"{what} does not parse (line {exc.lineno}: {exc.msg}); fix it before applying a bead"
        ) from None


def split_program(program: str, function: str) -> tuple[str, str, list[str]]:
    """Split a module into the bead stages: setup, signature (``def`` + docstring), body parts.

    Args:
        program: A module holding ``def function``.
        function: The function's name.

    Returns:
        ``(setup, signature, parts)``; setup is the module-level code other than the function.

    Raises:
        ApplyError: the program does not parse or lacks the function.
    """
    tree = _parse(program, "the code")
    lines = program.splitlines()
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function), None)
    if fn is None:
        raise ApplyError(f"the code has no top-level `def {function}(...)`; keep the function name")
    start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    setup_lines: list[str] = []
    for node in tree.body:
        if node is not fn:
            setup_lines.extend(lines[node.lineno - 1 : node.end_lineno or node.lineno])
    body = list(fn.body)
    header_end = body[0].lineno - 1
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        header_end = body[0].end_lineno or body[0].lineno
        body = body[1:]
    signature = "\n".join(lines[start - 1 : header_end])
    parts = ["\n".join(lines[s.lineno - 1 : s.end_lineno or s.lineno]) for s in body]
    return "\n".join(setup_lines), signature, parts


def _setup_statements(setup: str) -> list[tuple[str, str]]:
    """(normalised form, source) of each top-level statement of the setup."""
    if not setup.strip():
        return []
    tree = _parse(setup, "the setup code")
    lines = setup.splitlines()
    return [
        (ast.unparse(n), "\n".join(lines[n.lineno - 1 : n.end_lineno or n.lineno]))
        for n in tree.body
    ]


def merge_function(original: str, function_code: str, setup: str, function: str) -> str:
    """Put ``function_code`` into ``original`` and add the setup statements it lacks.

    A top-level function named ``function`` (with its decorators) is replaced in place;
    otherwise the function is appended. Setup statements (imports, constants) whose normalised
    form is not already at module level go after the last top-level import (or after the
    module docstring and ``__future__`` imports).

    Args:
        original: The module's current text (empty for a new file).
        function_code: The complete function.
        setup: Module-level code it needs.
        function: The function's name.

    Returns:
        The new module text.

    Raises:
        ApplyError: ``original`` or ``setup`` does not parse.
    """
    code = function_code.strip("\n") + "\n"
    tree = _parse(original, "the target file") if original.strip() else ast.Module([], [])
    lines = original.splitlines()
    existing = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function), None
    )
    if existing is not None:
        start = min([existing.lineno, *(d.lineno for d in existing.decorator_list)])
        end = existing.end_lineno or existing.lineno
        merged_lines = [*lines[: start - 1], *code.rstrip("\n").splitlines(), *lines[end:]]
        text = "\n".join(merged_lines) + "\n"
    elif original.strip():
        text = original.rstrip("\n") + "\n\n\n" + code
    else:
        text = code
    present = {ast.unparse(n) for n in _parse(text, "the merged file").body}
    needed = [src for norm, src in _setup_statements(setup) if norm not in present]
    if not needed:
        return text
    tree = _parse(text, "the merged file")
    lines = text.splitlines()
    insert_at = 0
    for i, node in enumerate(tree.body):
        docstring = (
            i == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if docstring or isinstance(node, ast.Import | ast.ImportFrom):
            insert_at = node.end_lineno or node.lineno
    block = "\n".join(needed).splitlines()
    if insert_at == 0:
        new_lines = [*block, "", "", *lines]
    else:
        new_lines = [*lines[:insert_at], *block, *lines[insert_at:]]
    return "\n".join(new_lines).rstrip("\n") + "\n"


def _backup_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak.{n}")
        n += 1
    return candidate


def apply_to_repo(
    repo: Path, relative: str, new_text: str, *, dry_run: bool = False, backup: bool = True
) -> ApplyResult:
    """Write ``new_text`` to ``repo/relative`` atomically, keeping the previous file.

    Args:
        repo: The repository root (must exist).
        relative: The file's path inside it.
        new_text: The complete new text.
        dry_run: Only compute the diff.
        backup: Copy the previous file to ``<name>.bak`` (``.bak.1`` … when taken) first.

    Returns:
        What was (or would be) done, with the diff.

    Raises:
        ApplyError: the repository is missing or the file cannot be written.
    """
    if not repo.is_dir():
        raise ApplyError(f"repository {str(repo)!r} not found; pass an existing directory (--repo)")
    path = repo / relative
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"a/{relative}",
            tofile=f"b/{relative}",
        )
    )
    created = not path.exists()
    if dry_run or old == new_text:
        return ApplyResult(path=path, diff=diff, written=False, created=created, dry_run=dry_run)
    backup_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if backup and not created:
            backup_path = _backup_path(path)
            shutil.copy2(path, backup_path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(new_text)
                handle.flush()
                os.fsync(handle.fileno())
            if not created:
                shutil.copymode(path, tmp_name)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ApplyError(f"cannot write {path}: {exc}; the previous file is unchanged") from None
    return ApplyResult(path=path, diff=diff, written=True, backup=backup_path, created=created)


def apply_bead(
    bead: Bead, repo: Path, function: str, setup: str, *, dry_run: bool = False
) -> ApplyResult:
    """Merge a bead's validated function (and setup) into its target file and write it.

    The target file is read now, the function merged in with :func:`merge_function`, and the
    result written by :func:`apply_to_repo` (atomic, previous file kept as ``<name>.bak``).

    Args:
        bead: The bead (its ``target.file`` and ``target.function``).
        repo: The repository root.
        function: The complete function (the run's ``function`` output).
        setup: The module-level code it needs (the run's ``setup`` output).
        dry_run: Only compute the diff.

    Returns:
        What was (or would be) written, with the diff.

    Raises:
        ApplyError: the repository is missing, or the file does not parse or cannot be written.
    """
    target = repo / bead.target.file
    original = target.read_text(encoding="utf-8") if target.is_file() else ""
    merged = merge_function(original, function, setup, bead.target.function)
    return apply_to_repo(repo, bead.target.file, merged, dry_run=dry_run)
