"""Running the program as a module of a repository snapshot (in the sandbox child).

Standard library only (the worker runs outside beadline). With a ``module`` field, a ``run``
request's program is the whole text of a target module; the child imports it under its dotted
name from the snapshot, in place of the snapshot's own file:

- the snapshot's import roots (and the worker's ``--site-path`` directories) go first on
  ``sys.path``;
- a meta-path finder answers for exactly the target name with a loader that executes the
  program's code object (compiled once by the worker as ``<solution>``, so the tracer and the
  error lines follow it), with ``__file__`` the module's path in the snapshot;
- ``importlib.import_module(name)`` then imports the parent packages normally (their
  ``__init__`` may import the target: it gets the candidate), and relative imports and sibling
  modules resolve inside the snapshot.

Request field (paths as the worker sees them)::

    "module": {"name": "inv.auth", "file": "/snap/repo/inv/auth.py", "package": false,
               "roots": ["/snap/repo"], "tree": "/snap/repo", "origin": "/home/u/inv"|null}
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import os
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

__all__ = ["ModuleInfo", "import_target", "parse_module", "resolve", "run_target_as_main"]


@dataclass
class ModuleInfo:
    """Where the program lives in the snapshot (paths as the worker sees them)."""

    name: str
    """Dotted module name."""
    file: str
    """The module's file in the snapshot (``__file__``)."""
    package: bool = False
    """The module is a package's ``__init__.py``."""
    roots: list[str] = field(default_factory=list)
    """``sys.path`` entries of the snapshot, first wins."""
    tree: str = ""
    """The snapshot's repository directory: code under it is the package's (traced one level)."""
    origin: str | None = None
    """The user's repository (the worker makes it read-only for its children where it can)."""
    site: list[str] = field(default_factory=list)
    """Extra ``sys.path`` entries after the roots (the worker's ``--site-path`` options)."""


def parse_module(raw: Any, site: Sequence[str] = ()) -> ModuleInfo | None:
    """Read a request's ``module`` field (``None`` when absent).

    Raises:
        ValueError: the field is malformed.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError("the module field must be an object")
    name = raw.get("name")
    file = raw.get("file")
    if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
        raise ValueError(f"bad module name {name!r}")
    if not isinstance(file, str) or not os.path.isabs(file):
        raise ValueError(f"bad module file {file!r}")
    roots = raw.get("roots") or []
    if not isinstance(roots, list) or not all(
        isinstance(r, str) and os.path.isabs(r) for r in roots
    ):
        raise ValueError("module roots must be absolute paths")
    origin = raw.get("origin")
    return ModuleInfo(
        name=name,
        file=file,
        package=bool(raw.get("package", False)),
        roots=list(roots),
        tree=str(raw.get("tree") or ""),
        origin=origin if isinstance(origin, str) and os.path.isabs(origin) else None,
        site=list(site),
    )


class _CandidateLoader(importlib.abc.Loader):
    """Executes the candidate's code object as the target module."""

    def __init__(self, info: ModuleInfo, code: CodeType, source: str) -> None:
        self.info = info
        self.code = code
        self.source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        exec(self.code, module.__dict__)

    def get_source(self, fullname: str) -> str:
        return self.source

    def is_package(self, fullname: str) -> bool:
        return self.info.package


class _CandidateFinder(importlib.abc.MetaPathFinder):
    """Answers for exactly the target module's name."""

    def __init__(self, info: ModuleInfo, loader: _CandidateLoader) -> None:
        self.info = info
        self.loader = loader

    def spec(self, name: str) -> importlib.machinery.ModuleSpec | None:
        locations = [os.path.dirname(self.info.file)] if self.info.package else None
        return importlib.util.spec_from_file_location(
            name, self.info.file, loader=self.loader, submodule_search_locations=locations
        )

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.info.name:
            return None
        return self.spec(fullname)


def _install(info: ModuleInfo, code: CodeType, source: str, filename: str) -> _CandidateFinder:
    sys.path[:0] = [*info.roots, *info.site]
    # A module of the same name the worker preloaded (a repo module called ``queue``...) must
    # not win over the repository's.
    top = info.name.split(".")[0]
    for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[loaded]
    finder = _CandidateFinder(info, _CandidateLoader(info, code, source))
    sys.meta_path.insert(0, finder)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return finder


def import_target(info: ModuleInfo, code: CodeType, source: str, filename: str) -> dict[str, Any]:
    """Import the program as ``info.name``; return the module's namespace.

    Raises:
        BaseException: whatever the module, its package or a sibling raises while importing.
    """
    _install(info, code, source, filename)
    module = importlib.import_module(info.name)
    return module.__dict__


def run_target_as_main(info: ModuleInfo, code: CodeType, source: str, filename: str) -> None:
    """Run the program as ``python -m <name>`` does: parents imported, then ``__main__``.

    Raises:
        BaseException: whatever the program (or its package) raises.
    """
    finder = _install(info, code, source, filename)
    parent = info.name if info.package else info.name.rpartition(".")[0]
    if parent:
        importlib.import_module(parent)
    spec = finder.spec(info.name)
    module = types.ModuleType("__main__")
    module.__dict__.update(
        __spec__=spec,
        __file__=info.file,
        __package__=parent,
        __loader__=finder.loader,
        __builtins__=__builtins__,
    )
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def resolve(namespace: Mapping[str, Any], dotted: str) -> Any:
    """``Class.method`` looked up in a module namespace (``KeyError``/``AttributeError`` when
    missing)."""
    first, *rest = dotted.split(".")
    value = namespace[first]
    for part in rest:
        value = getattr(value, part)
    return value
