"""A bead in a real repository: the snapshot its code runs in and where its target sits.

:func:`open_target` turns a bead and its repository into a :class:`RepoTarget`: a read-only
snapshot of the repository (:func:`beadline.validators.snapshot.snapshot_repo`, reused while the
repository is unchanged, so calling it at every stage is cheap), the target module's
:class:`~beadline.validators.snapshot.ModuleContext` and the target's place in the module
(:func:`beadline.agents.splice.locate_target`). Every stage check and every EG-CFG candidate of
the bead then runs the *whole module* with the target replaced (:meth:`RepoTarget.splice`).

Anything that cannot work — the repository is not a directory, the module's package does not
exist, the class is missing, the target is inside a function, the target does not exist and
``create`` was not asked — raises :class:`~beadline.workflows.errors.BeadError` with one line
naming the fix, before any model time is spent.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from beadline.agents.splice import ModuleTarget, Spliced, TargetSite, bound_names, locate_target
from beadline.validators.errors import UserError
from beadline.validators.snapshot import ModuleContext, module_context, snapshot_repo
from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import BeadError

__all__ = [
    "SNAPSHOT_EXCLUDE",
    "RepoTarget",
    "effective_signature",
    "open_target",
    "read_source",
    "text_digest",
]

SNAPSHOT_EXCLUDE: tuple[str, ...] = (".beadline", "*.bak", "*.bak.[0-9]*")
"""Never copied into a snapshot besides the validators' defaults: beadline's own state and
reports (written while the bead runs; they would change the snapshot's fingerprint at every
stage) and the backups of files it wrote."""


def read_source(path: Path) -> str:
    """A module's text exactly as stored (``\r\n`` kept; empty when the file is missing), so
    that what is written back differs only where the bead changed it."""
    if not path.is_file():
        return ""
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def text_digest(text: str) -> str:
    """A short digest of a module's text (to notice a file changed under a run)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class RepoTarget:
    """A bead's target module in its repository snapshot."""

    repo: Path
    """The user's repository (resolved)."""
    context: ModuleContext
    """The module in the snapshot; ``context.target`` is the target's qualified name."""
    original: str
    """The module's text in the snapshot (empty for a new module)."""
    site: TargetSite
    """Where the target is, or goes."""

    @property
    def module(self) -> ModuleTarget:
        """What the decoder needs to run candidates as this module (``Task.module``)."""
        return ModuleTarget(context=self.context, original=self.original, site=self.site)

    @property
    def digest(self) -> str:
        """:func:`text_digest` of :attr:`original`."""
        return text_digest(self.original)

    def import_for(self, name: str) -> str | None:
        """An import of ``name`` from the package when another of its modules defines ``name``
        at module level (``from .models import Item``); ``None`` when none does.

        A module that defines it (``def``, ``class``, an assignment) wins over one that only
        re-exports it; the target's own package directory wins over the rest of the package.
        A name the target module binds itself is never imported.
        """
        defined, imported = _module_level_names(self.context.snapshot.path / self.context.file)
        if name.startswith("_") or name in defined or name in imported:
            return None
        parts = self.context.module.split(".")
        package = parts if self.context.is_package else parts[:-1]
        if not package:
            return None
        own_dir = (self.context.snapshot.path / self.context.file).parent
        top_dir = own_dir
        for _ in package[1:]:
            top_dir = top_dir.parent
        found: list[tuple[int, Path]] = []
        for path in sorted(top_dir.rglob("*.py")):
            if (
                path == self.context.snapshot.path / self.context.file
                or "__pycache__" in path.parts
            ):
                continue
            defined, imported = _module_level_names(path)
            if name in defined or name in imported:
                rank = (0 if name in defined else 2) + (0 if path.parent == own_dir else 1)
                found.append((rank, path))
        if not found:
            return None
        _, path = min(found, key=lambda f: f[0])
        inner = list(path.relative_to(top_dir).with_suffix("").parts)
        if inner[-1] == "__init__":
            inner.pop()
        if path.parent == own_dir:
            return f"from .{'.'.join(inner[len(package) - 1 :])} import {name}"
        return f"from {'.'.join([package[0], *inner])} import {name}"

    def splice(self, program: str) -> Spliced:
        """The whole module with ``program``'s function and setup put in.

        Raises:
            SpliceError: see :func:`beadline.agents.splice.splice`.
        """
        return self.module.splice(program)


def _module_level_names(path: Path) -> tuple[set[str], set[str]]:
    """Names a module defines and names it imports, at module level (empty when it does not
    parse or does not exist)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set(), set()
    defined: set[str] = set()
    imported: set[str] = set()
    for node in tree.body:
        names = bound_names(node)
        (imported if isinstance(node, ast.Import | ast.ImportFrom) else defined).update(names)
    return defined, imported


def open_target(bead: Bead, repo: str | Path) -> RepoTarget:
    """Snapshot ``repo`` and locate the bead's target in it.

    Raises:
        BeadError: the repository is not a directory or cannot be snapshotted, the target
            module cannot be imported from its path, or the target cannot be placed (see
            :func:`beadline.agents.splice.locate_target`); one line naming the fix.
    """
    root = Path(repo)
    if not root.is_dir():
        raise BeadError(
            f"bead {bead.id}: repository {str(repo)!r} is not a directory; pass an existing "
            "directory (--repo DIR)"
        )
    try:
        snapshot = snapshot_repo(root, exclude=SNAPSHOT_EXCLUDE)
        context = module_context(snapshot, bead.target.file, target=bead.target.function)
        original = read_source(context.snapshot.path / context.file)
        site = locate_target(
            original,
            bead.target.function,
            create=bead.target.create,
            file=bead.target.file,
        )
    except UserError as exc:
        raise BeadError(f"bead {bead.id}: {exc}") from None
    return RepoTarget(repo=root.resolve(), context=context, original=original, site=site)


def effective_signature(bead: Bead, site: TargetSite) -> str | None:
    """The signature the bead builds on: an existing definition keeps its decorators and
    docstring unless the bead's own signature brings them.

    Returns:
        The bead's signature (``None``: to be generated) for a new target; for an existing one
        the bead's signature with the existing decorators / docstring added where it has none,
        or the existing signature itself.
    """
    given = bead.target.signature
    if not site.exists:
        return given
    if given is None:
        return site.signature
    text = given.strip("\n")
    try:
        tree = ast.parse(text + "\n    pass\n")
    except SyntaxError:
        return given  # the spec validator already rejected this; keep it as given
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return given
    if not fn.decorator_list and site.decorators:
        text = site.decorators + "\n" + text
    has_docstring = (
        fn.body
        and isinstance(fn.body[0], ast.Expr)
        and isinstance(fn.body[0].value, ast.Constant)
        and isinstance(fn.body[0].value.value, str)
    )
    if not has_docstring and site.docstring:
        text = text + "\n" + site.docstring
    return text
