"""Read-only snapshots of a user's repository: the execution context of a bead's candidates.

A bead changes one module of a real package. Its candidates, stage checks and traces must run
the *whole* module, imported as part of its package, with the repository importable, but they
must never see (let alone write) the user's working tree. :func:`snapshot_repo` copies the
repository once into a snapshot that every sandbox child can read and none can write, and hands
out the same snapshot again while the repository is unchanged:

- **What is copied**: every file of the repository except version-control data, virtual
  environments (any directory holding a ``pyvenv.cfg``), caches (``__pycache__``,
  ``.mypy_cache``, ``.pytest_cache``, ...), ``node_modules`` and what ``exclude`` names.
  Symbolic links that stay inside the repository are kept; a link leading outside is copied as
  the file it points to, or skipped (and listed in :attr:`RepoSnapshot.skipped`) when it leads
  to a directory or to nothing.
- **Read-only**: directories are ``0755`` and files ``0644`` (``0755`` when executable), owned
  by the process that made the snapshot. Run as root (the local sandbox then drops its
  children to an unprivileged uid) or with the docker backend (the snapshot store is mounted
  read-only), no candidate can change a snapshot. Run as an ordinary user, the local sandbox's
  children keep that user's uid and the modes are only a speed bump: use docker there.
- **Reuse**: a snapshot is identified by a fingerprint of the copied files' paths, sizes, modes
  and modification times. :func:`snapshot_repo` walks the repository (no reading of file
  contents) and returns the snapshot it made before when the fingerprint is unchanged; a
  changed repository gets a new snapshot and the old one is removed.
- **Byte code**: the modules under the import roots are compiled into ``__pycache__`` of the
  snapshot once, so a child importing the package reads byte code instead of compiling it
  again on every run.

The store of snapshots is a directory under the system's temporary directory
(:func:`default_store_dir`), which the docker backend bind-mounts read-only into its containers.
Snapshots are removed when their store is closed or the process exits; a store removes, when
opened, the snapshots left behind by processes that no longer run.

A :class:`ModuleContext` names the target module inside a snapshot (from the module's file
path, e.g. ``src/inventory/pricing.py`` -> ``inventory.pricing``) and the function or method
traced (``AuthService.authenticate``). Both are JSON-serialisable (``to_json``/``from_json``)
so a LangGraph state can refer to them.
"""

from __future__ import annotations

import atexit
import contextlib
import fnmatch
import hashlib
import json
import os
import py_compile
import secrets
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from beadline.validators.errors import UserError

__all__ = [
    "DEFAULT_EXCLUDE",
    "ModuleContext",
    "RepoSnapshot",
    "SnapshotError",
    "SnapshotStore",
    "default_store",
    "default_store_dir",
    "module_context",
    "snapshot_repo",
]

DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".eggs",
    "node_modules",
    ".idea",
    ".vscode",
    # beadline's own run state (its SQLite store is written at every stage: copying it would
    # change the fingerprint, and so make a new snapshot, each time) and the bd tracker
    ".beadline",
    ".beads",
    "*.pyc",
    "*.pyo",
)
"""File and directory names (``fnmatch`` patterns) never copied into a snapshot."""

_MAX_FILES = 20_000
_MAX_BYTES = 512 * 1024 * 1024
_META = "snapshot.json"
_TREE = "repo"


class SnapshotError(UserError):
    """Raised when a repository cannot be snapshotted or a snapshot is gone or misused."""


@dataclass(frozen=True, kw_only=True)
class RepoSnapshot:
    """A read-only copy of a repository, shared by every candidate of a bead.

    Make one with :func:`snapshot_repo`; never build one by hand.
    """

    origin: Path
    """The user's repository (resolved). Never visible to candidates as their working tree."""
    path: Path
    """The snapshot's copy of the repository (what children import from)."""
    fingerprint: str
    """Hex digest of the copied files' paths, sizes, modes and modification times."""
    import_roots: tuple[str, ...] = (".",)
    """``sys.path`` entries relative to the repository root, first wins (``"src"``, ``"."``)."""
    files: int = 0
    """How many files were copied."""
    size_bytes: int = 0
    """Their total size."""
    skipped: tuple[str, ...] = ()
    """Paths not copied although not excluded (links to directories or to nothing outside)."""

    def root_paths(self) -> tuple[Path, ...]:
        """The import roots as absolute paths inside the snapshot."""
        return tuple(self.path if r == "." else self.path / r for r in self.import_roots)

    def exists(self) -> bool:
        """Whether the snapshot is still on disk (its store has not removed it)."""
        meta = self.path.parent / _META
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return bool(data.get("fingerprint") == self.fingerprint)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable identity (for records and LangGraph state)."""
        return {
            "origin": str(self.origin),
            "path": str(self.path),
            "fingerprint": self.fingerprint,
            "import_roots": list(self.import_roots),
            "files": self.files,
            "size_bytes": self.size_bytes,
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepoSnapshot:
        """Inverse of :meth:`to_json`; checks that the snapshot still exists.

        Raises:
            SnapshotError: the data is malformed or the snapshot was removed (make a new one
                with :func:`snapshot_repo`).
        """
        try:
            snapshot = cls(
                origin=Path(str(data["origin"])),
                path=Path(str(data["path"])),
                fingerprint=str(data["fingerprint"]),
                import_roots=tuple(str(r) for r in data.get("import_roots", (".",))),
                files=int(data.get("files", 0)),
                size_bytes=int(data.get("size_bytes", 0)),
                skipped=tuple(str(s) for s in data.get("skipped", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"malformed repository snapshot record {dict(data)!r}") from exc
        if not snapshot.exists():
            raise SnapshotError(
                f"the snapshot of {snapshot.origin} at {snapshot.path} no longer exists; make a "
                "new one with snapshot_repo(repo)"
            )
        return snapshot


@dataclass(frozen=True, kw_only=True)
class ModuleContext:
    """Where a program runs: as module ``module`` of a repository snapshot.

    With a context, a :class:`~beadline.validators.executor.RunRequest`'s ``program`` is the
    whole text of the target module (the target replaced by the candidate). The worker imports
    it as ``module`` in place of the snapshot's file: the package's ``__init__`` runs, relative
    imports and sibling modules work, the snapshot's import roots are on ``sys.path``, and the
    tests run with the module's names visible. Make one with :func:`module_context`.
    """

    snapshot: RepoSnapshot
    """The repository snapshot."""
    file: str
    """The module's file, relative to the repository root (POSIX), e.g. ``src/inv/auth.py``."""
    module: str
    """Its dotted name, e.g. ``inv.auth`` (``inv`` for ``inv/__init__.py``)."""
    target: str | None = None
    """Qualified name of the function traced (``order_total``, ``AuthService.authenticate``,
    ``Outer.Inner.method``); ``None`` traces the whole module."""

    @property
    def is_package(self) -> bool:
        """True when the module is a package's ``__init__.py``."""
        return PurePosixPath(self.file).name == "__init__.py"

    @property
    def exists(self) -> bool:
        """Whether the module's file exists in the snapshot (``False``: a new module)."""
        return (self.snapshot.path / self.file).is_file()

    def original_text(self) -> str:
        """The module's text in the snapshot (empty for a new module)."""
        path = self.snapshot.path / self.file
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {
            "snapshot": self.snapshot.to_json(),
            "file": self.file,
            "module": self.module,
            "target": self.target,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModuleContext:
        """Inverse of :meth:`to_json` (the snapshot must still exist).

        Raises:
            SnapshotError: malformed data, or the snapshot is gone.
        """
        try:
            snapshot = RepoSnapshot.from_json(data["snapshot"])
            target = data.get("target")
            return cls(
                snapshot=snapshot,
                file=str(data["file"]),
                module=str(data["module"]),
                target=None if target is None else str(target),
            )
        except (KeyError, TypeError) as exc:
            raise SnapshotError(f"malformed module context record: {exc}") from exc


def module_context(
    snapshot: RepoSnapshot, file: str | Path, *, target: str | None = None
) -> ModuleContext:
    """The context of the module in ``file`` (relative to the repository root).

    The module's dotted name comes from the first import root of the snapshot that contains the
    file (``src/inv/pricing.py`` with root ``src`` is ``inv.pricing``). The file may be missing
    from the snapshot (a new module), but its package directory must exist.

    Args:
        snapshot: The repository snapshot.
        file: The module's path relative to the repository root (``inv/pricing.py``).
        target: Qualified name of the function or method traced (``AuthService.authenticate``).

    Raises:
        SnapshotError: the path is absolute, leaves the repository, is not a ``.py`` file, is
            under no import root, names a package directory that does not exist, or a part of
            it is not a Python identifier.
    """
    relative = PurePosixPath(Path(file).as_posix())
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise SnapshotError(
            f"module file {str(file)!r} must be a path relative to the repository root "
            f"{snapshot.origin}, e.g. 'pkg/module.py'"
        )
    if relative.suffix != ".py":
        raise SnapshotError(f"module file {str(file)!r} is not a Python file (*.py)")
    if target is not None and not all(p.isidentifier() for p in target.split(".")):
        raise SnapshotError(
            f"target {target!r} is not a qualified name: use 'function', 'Class.method' or "
            "'Outer.Inner.method'"
        )
    for root in snapshot.import_roots:
        base = PurePosixPath(".") if root == "." else PurePosixPath(root)
        try:
            inside = relative.relative_to(base) if root != "." else relative
        except ValueError:
            continue
        parts = list(inside.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not parts:
            continue
        bad = [p for p in parts if not p.isidentifier()]
        if bad:
            raise SnapshotError(
                f"module file {str(file)!r} cannot be imported: {bad[0]!r} is not a Python "
                "identifier (rename it, or set the snapshot's import roots)"
            )
        package_dir = snapshot.path / relative.parent
        if not package_dir.is_dir():
            raise SnapshotError(
                f"the package directory {relative.parent.as_posix()!r} of {str(file)!r} does "
                f"not exist in the repository {snapshot.origin}; create the package first"
            )
        return ModuleContext(
            snapshot=snapshot, file=relative.as_posix(), module=".".join(parts), target=target
        )
    raise SnapshotError(
        f"module file {str(file)!r} is under none of the import roots "
        f"{list(snapshot.import_roots)} of {snapshot.origin}; pass import_roots to snapshot_repo"
    )


# -- walking and copying ------------------------------------------------------------------
@dataclass
class _Entry:
    relative: str
    kind: str  # "dir", "file", "link"
    source: Path
    size: int = 0
    mode: int = 0
    mtime_ns: int = 0
    link: str = ""


@dataclass
class _Listing:
    entries: list[_Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    files: int = 0
    size: int = 0

    def fingerprint(self, import_roots: Sequence[str]) -> str:
        digest = hashlib.sha256()
        digest.update(json.dumps(list(import_roots)).encode())
        for e in self.entries:
            digest.update(
                f"{e.kind}\0{e.relative}\0{e.size}\0{e.mode}\0{e.mtime_ns}\0{e.link}\n".encode()
            )
        return digest.hexdigest()


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _list_repo(root: Path, exclude: Sequence[str], avoid: Path) -> _Listing:
    """Every entry to copy, in a stable order, with what the fingerprint needs (``avoid``, the
    snapshot store, is never entered even when it lies inside the repository)."""
    listing = _Listing()
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as scan:
                children = sorted(scan, key=lambda d: d.name)
        except OSError as exc:
            raise SnapshotError(
                f"cannot read {directory} while snapshotting: {exc.strerror}"
            ) from exc
        subdirs: list[tuple[Path, str]] = []
        for child in children:
            if _excluded(child.name, exclude):
                continue
            relative = f"{prefix}{child.name}"
            path = Path(child.path)
            if path == avoid:
                continue
            try:
                info = child.stat(follow_symlinks=False)
            except OSError:
                listing.skipped.append(relative)
                continue
            if stat.S_ISLNK(info.st_mode):
                _add_link(listing, root, path, relative)
            elif stat.S_ISDIR(info.st_mode):
                if (path / "pyvenv.cfg").exists():
                    continue  # a virtual environment, whatever its name
                listing.entries.append(_Entry(relative, "dir", path, mode=info.st_mode & 0o111))
                subdirs.append((path, relative + "/"))
            elif stat.S_ISREG(info.st_mode):
                _add_file(listing, path, relative, info)
            else:
                listing.skipped.append(relative)  # sockets, fifos, devices
            if listing.files > _MAX_FILES or listing.size > _MAX_BYTES:
                raise SnapshotError(
                    f"repository {root} is too big to snapshot (more than {_MAX_FILES} files or "
                    f"{_MAX_BYTES >> 20} MiB after excluding {', '.join(DEFAULT_EXCLUDE[:6])}, "
                    "...); pass exclude=[...] for data or build directories"
                )
        pending.extend(reversed(subdirs))
    return listing


def _add_file(listing: _Listing, path: Path, relative: str, info: os.stat_result) -> None:
    listing.entries.append(
        _Entry(
            relative,
            "file",
            path,
            size=info.st_size,
            mode=info.st_mode & 0o111,
            mtime_ns=info.st_mtime_ns,
        )
    )
    listing.files += 1
    listing.size += info.st_size


def _add_link(listing: _Listing, root: Path, path: Path, relative: str) -> None:
    target = os.readlink(path)
    resolved = (path.parent / target).resolve()
    if not os.path.isabs(target) and resolved.is_relative_to(root):
        listing.entries.append(_Entry(relative, "link", path, link=target))
        return
    try:
        info = resolved.stat()
    except OSError:
        listing.skipped.append(relative)
        return
    if stat.S_ISREG(info.st_mode):
        _add_file(listing, resolved, relative, info)  # a link out of the repo: copy the file
    else:
        listing.skipped.append(relative)


def _copy(listing: _Listing, tree: Path) -> None:
    """Copy the listed entries into ``tree`` (made here) with read-only modes."""
    tree.mkdir(mode=0o755)
    for entry in listing.entries:
        target = tree / entry.relative
        if entry.kind == "dir":
            target.mkdir(mode=0o755)
        elif entry.kind == "link":
            os.symlink(entry.link, target)
        else:
            shutil.copyfile(entry.source, target, follow_symlinks=True)
            os.utime(target, ns=(entry.mtime_ns, entry.mtime_ns))
            os.chmod(target, 0o755 if entry.mode else 0o644)
    # Directories last: their modes are fixed once nothing more is created inside.
    for entry in listing.entries:
        if entry.kind == "dir":
            os.chmod(tree / entry.relative, 0o755)
    os.chmod(tree, 0o755)


def _compile_roots(tree: Path, import_roots: Sequence[str]) -> None:
    """Write byte code next to the snapshot's modules (a child then never compiles them)."""
    seen: set[Path] = set()
    for root in import_roots:
        base = tree if root == "." else tree / root
        for path in sorted(base.rglob("*.py")):
            if path in seen or path.is_symlink() or not path.is_file():
                continue
            seen.add(path)
            with contextlib.suppress(py_compile.PyCompileError, OSError, ValueError):
                py_compile.compile(str(path), doraise=True, quiet=2)
    for cache in tree.rglob("__pycache__"):
        with contextlib.suppress(OSError):
            os.chmod(cache, 0o755)
            for pyc in cache.iterdir():
                os.chmod(pyc, 0o644)


def _detect_roots(root: Path) -> tuple[str, ...]:
    """``("src", ".")`` for a src layout (a package or module under ``src/``), else ``(".",)``."""
    src = root / "src"
    if src.is_dir() and any(
        (child / "__init__.py").is_file() or child.suffix == ".py" for child in src.iterdir()
    ):
        return ("src", ".")
    return (".",)


def _check_roots(root: Path, import_roots: Sequence[str]) -> tuple[str, ...]:
    roots: list[str] = []
    for raw in import_roots:
        value = PurePosixPath(str(raw).strip() or ".")
        if value.is_absolute() or ".." in value.parts:
            raise SnapshotError(
                f"import root {str(raw)!r} must be a directory relative to the repository root "
                "(e.g. '.' or 'src')"
            )
        text = value.as_posix()
        if not (root / text).is_dir():
            raise SnapshotError(f"import root {text!r} is not a directory of {root}")
        if text not in roots:
            roots.append(text)
    if not roots:
        raise SnapshotError("import_roots is empty; give at least '.'")
    return tuple(roots)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the store ------------------------------------------------------------------------------
def default_store_dir() -> Path:
    """The default snapshot store: ``$TMPDIR/beadline-snapshots-<uid>``."""
    return Path(tempfile.gettempdir()) / f"beadline-snapshots-{os.getuid()}"


def _searchable_by_others(path: Path) -> bool:
    current = Path("/")
    for part in path.parts[1:]:
        try:
            if not current.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
        current = current / part
    return True


class SnapshotStore:
    """A directory of repository snapshots, with a per-process cache of the current ones.

    Args:
        directory: Where snapshots are made (default :func:`default_store_dir`). Created with
            mode 0755; it must be owned by this process's user.

    Raises:
        SnapshotError: the directory is a link, belongs to another user, is writable by others,
            or (as root) lies where an unprivileged sandbox user cannot reach it.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or default_store_dir()).absolute()
        self._lock = threading.Lock()
        self._current: dict[tuple[str, tuple[str, ...], tuple[str, ...]], RepoSnapshot] = {}
        self._made: list[Path] = []
        self.copies = 0
        """How many snapshots this store copied (a reused snapshot does not count)."""
        self._open()

    def _open(self) -> None:
        directory = self.directory
        try:
            directory.mkdir(mode=0o755, parents=True, exist_ok=True)
            info = os.lstat(directory)
        except OSError as exc:
            raise SnapshotError(f"cannot create the snapshot store {directory}: {exc}") from exc
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise SnapshotError(f"the snapshot store {directory} is not a directory; remove it")
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise SnapshotError(
                f"the snapshot store {directory} belongs to uid {info.st_uid} or is writable by "
                "others; remove it (or choose another directory)"
            )
        os.chmod(directory, 0o755)
        if os.geteuid() == 0 and not _searchable_by_others(directory):
            raise SnapshotError(
                f"the snapshot store {directory} is inside a directory the sandbox's "
                "unprivileged user cannot enter; choose one under /tmp"
            )
        self._remove_stale()

    def _remove_stale(self) -> None:
        """Remove snapshots whose maker process no longer runs."""
        with contextlib.suppress(OSError):
            for child in self.directory.iterdir():
                try:
                    data = json.loads((child / _META).read_text(encoding="utf-8"))
                    pid = int(data.get("pid", 0))
                except (OSError, ValueError, TypeError):
                    # No metadata: an unfinished snapshot; old enough means its maker is gone.
                    with contextlib.suppress(OSError):
                        if time.time() - child.stat().st_mtime > 3600:
                            shutil.rmtree(child, ignore_errors=True)
                    continue
                if pid != os.getpid() and not _pid_alive(pid):
                    shutil.rmtree(child, ignore_errors=True)

    def snapshot(
        self,
        repo: str | Path,
        *,
        import_roots: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> RepoSnapshot:
        """The snapshot of ``repo`` as it is now: the cached one when unchanged, else a new one.

        Args:
            repo: The repository directory.
            import_roots: ``sys.path`` entries relative to the repository root, first wins
                (default: ``("src", ".")`` when ``src/`` holds a package, else ``(".",)``).
            exclude: More ``fnmatch`` patterns of file or directory names not to copy.

        Raises:
            SnapshotError: ``repo`` is not a directory, is too big, or cannot be read.
        """
        root = Path(repo).expanduser()
        if not root.is_dir():
            raise SnapshotError(
                f"repository {str(repo)!r} is not a directory; pass an existing repository"
            )
        root = root.resolve()
        if root == self.directory or root.is_relative_to(self.directory):
            raise SnapshotError(
                f"{root} is inside the snapshot store; pass the original repository"
            )
        roots = (
            _check_roots(root, import_roots) if import_roots is not None else _detect_roots(root)
        )
        patterns = (*DEFAULT_EXCLUDE, *exclude)
        key = (str(root), roots, tuple(exclude))
        listing = _list_repo(root, patterns, self.directory)
        fingerprint = listing.fingerprint(roots)
        with self._lock:
            current = self._current.get(key)
            if current is not None and current.fingerprint == fingerprint and current.exists():
                return current
            snapshot = self._make(root, roots, listing, fingerprint)
            self._current[key] = snapshot
            if current is not None:
                self._remove(current)
            return snapshot

    def _make(
        self, root: Path, roots: tuple[str, ...], listing: _Listing, fingerprint: str
    ) -> RepoSnapshot:
        slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in root.name)[:32] or "repo"
        home = self.directory / f"{slug}-{fingerprint[:12]}-{secrets.token_hex(4)}"
        home.mkdir(mode=0o755)
        try:
            tree = home / _TREE
            _copy(listing, tree)
            _compile_roots(tree, roots)
            snapshot = RepoSnapshot(
                origin=root,
                path=tree,
                fingerprint=fingerprint,
                import_roots=roots,
                files=listing.files,
                size_bytes=listing.size,
                skipped=tuple(listing.skipped),
            )
            meta = {**snapshot.to_json(), "pid": os.getpid(), "made_at": time.time()}
            (home / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
            os.chmod(home / _META, 0o644)
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise
        self._made.append(home)
        self.copies += 1
        return snapshot

    def _remove(self, snapshot: RepoSnapshot) -> None:
        home = snapshot.path.parent
        if home.parent == self.directory:
            shutil.rmtree(home, ignore_errors=True)
            with contextlib.suppress(ValueError):
                self._made.remove(home)

    def release(self, snapshot: RepoSnapshot) -> None:
        """Remove a snapshot of this store now (later runs on it fail). Idempotent."""
        with self._lock:
            for key, current in list(self._current.items()):
                if current == snapshot:
                    del self._current[key]
            self._remove(snapshot)

    def snapshots(self) -> Iterator[RepoSnapshot]:
        """The current snapshot of each repository this store was asked for."""
        with self._lock:
            return iter(list(self._current.values()))

    def close(self) -> None:
        """Remove every snapshot this store made. Idempotent."""
        with self._lock:
            for home in self._made:
                shutil.rmtree(home, ignore_errors=True)
            self._made.clear()
            self._current.clear()


_DEFAULT: list[SnapshotStore] = []
_DEFAULT_LOCK = threading.Lock()


def default_store() -> SnapshotStore:
    """The process's store in :func:`default_store_dir`; its snapshots go at interpreter exit."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            store = SnapshotStore()
            _DEFAULT.append(store)
            atexit.register(store.close)
        return _DEFAULT[0]


def snapshot_repo(
    repo: str | Path,
    *,
    import_roots: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> RepoSnapshot:
    """The read-only snapshot of ``repo`` in the default store (reused while it is unchanged).

    Args:
        repo: The repository directory.
        import_roots: ``sys.path`` entries relative to the repository root, first wins
            (default: ``("src", ".")`` for a src layout, else ``(".",)``).
        exclude: More ``fnmatch`` patterns of names not to copy (data, build output).

    Returns:
        The snapshot; the same object while the repository's files are unchanged.

    Raises:
        SnapshotError: ``repo`` is not a directory, is too big, or cannot be read.

    Example:
        >>> snap = snapshot_repo("examples/sample_repo")  # doctest: +SKIP
        >>> ctx = module_context(snap, "sample_pkg/text.py", target="count_vowels")  # doctest: +SKIP
    """
    return default_store().snapshot(repo, import_roots=import_roots, exclude=exclude)
