"""Where a bead's target lives in its module, and how a candidate is put there.

A bead writes one function or method (``name``, ``Class.method``, ``Outer.Inner.method``) into a
module of a real package. The code the model writes is a *standalone program*: the setup
(imports, constants) followed by the function as a top-level ``def`` — a method is written
dedented, ``self`` first. Everything that runs it (EG-CFG's candidates, the stage checks) and
what is finally written uses the *whole module* with the target replaced:

* :func:`locate_target` finds the target in the module's text (or where a new one goes) and
  rejects the shapes that are not supported — a target inside a function or under an ``if``, a
  class that does not exist, a name that is not a function, a missing target without
  ``create`` — with a one-line :class:`TargetError` naming the fix.
* :func:`splice` puts a standalone program's function at the target's place, **in place**: the
  old ``def`` (decorators included) is replaced line for line at its own indentation, every
  other line of the module stays byte for byte; a new method goes at the end of its class, a new
  function at the end of the module. The program's setup is merged **by bound name**
  (:func:`merge_setup`): a statement already in the module is kept, an import of the same object
  is kept, a different binding of the same name (``VOWELS = set("aeiou")`` over
  ``VOWELS = "aeiou"``) replaces the old statement where it stands; a name is never bound twice
  at module level.
* :class:`Spliced` maps the module's lines back to the program's, so traces and errors can be
  shown in the coordinates of the code the model wrote.

Only unconditional module-level bindings count: names bound inside ``if``/``try``/``with``
blocks (``if TYPE_CHECKING:`` imports) are left alone and a setup statement binding them is
added as new. Statements after the function in a program (a stray ``print``, a ``__main__``
block) are not part of what is spliced.
"""

from __future__ import annotations

import ast
import copy
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from beadline.agents.errors import UserError
from beadline.validators.snapshot import ModuleContext

__all__ = [
    "ModuleTarget",
    "SpliceError",
    "Spliced",
    "TargetError",
    "TargetSite",
    "bound_names",
    "locate_target",
    "merge_setup",
    "splice",
    "stub_kind",
]

_FUNCTION = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPOUND = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)


class TargetError(UserError):
    """Raised by :func:`locate_target` when a target cannot be placed (unsupported shape)."""


class SpliceError(UserError):
    """Raised when a program cannot be put into its module (no such function, a setup line that
    cannot be merged, code that does not parse)."""


@dataclass(frozen=True, kw_only=True)
class TargetSite:
    """Where the target is (or goes) in its module's text."""

    qualname: str
    """``name``, ``Class.method`` or ``Outer.Inner.method``."""
    exists: bool
    """The module already defines it (a stub or an implementation)."""
    indent: str
    """Indentation of its ``def`` line (``""`` at module level)."""
    start: int
    """First line of the existing ``def`` (decorators included), 1-based; for a new target the
    line it is inserted before (``len(lines) + 1`` at the end)."""
    end: int
    """Last line of the existing ``def``; ``start - 1`` for a new target."""
    stub: str = ""
    """The stub kind of the existing body (``raise NotImplementedError``, ``pass``, ``...``,
    ``docstring only``) or ``""`` when it is implemented (or new)."""
    signature: str = ""
    """The existing decorators, ``def`` header and docstring, dedented to column 0 (empty for a
    new target)."""
    decorators: str = ""
    """The existing decorator lines alone, dedented."""
    docstring: str = ""
    """The existing docstring statement alone, indented as a body line (4 spaces)."""

    @property
    def name(self) -> str:
        """The function's own name (the last part of the qualified name)."""
        return self.qualname.rsplit(".", 1)[-1]

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes around a method (outermost first); empty for a function."""
        return tuple(self.qualname.split(".")[:-1])


@dataclass(frozen=True, kw_only=True)
class Spliced:
    """A module text with a program's function (and setup) put in."""

    text: str
    """The whole module."""
    line_map: Mapping[int, int] = field(default_factory=dict)
    """Module line → program line, for the lines that came from the program."""
    function_lines: tuple[int, int] = (0, 0)
    """First and last module line of the spliced function (decorators included)."""

    def program_line(self, line: int | None) -> int | None:
        """The program line of module line ``line`` (``None`` when it is not the program's)."""
        return None if line is None else self.line_map.get(line)


@dataclass(frozen=True, kw_only=True)
class ModuleTarget:
    """A target module of a repository snapshot: where candidates run and how they are put in.

    Carried by :attr:`beadline.agents.task.Task.module`: the decoder then runs every candidate
    as the whole module (:meth:`splice`) under ``context``.
    """

    context: ModuleContext
    """The module in its repository snapshot (``context.target`` is the qualified name)."""
    original: str
    """The module's text before the bead (empty for a new module)."""
    site: TargetSite
    """Where the target is."""

    def splice(self, program: str) -> Spliced:
        """The module with ``program``'s function and setup put in (see :func:`splice`)."""
        return splice(self.original, self.site, program)


def _split(text: str) -> list[str]:
    """The lines of ``text`` as Python numbers them: split at ``\n`` only (``str.splitlines``
    also splits at form feeds and other separators Python does not count), a CRLF line keeping
    its ``\r`` so that an unchanged line is written back byte for byte."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _cr(text: str) -> str:
    """``"\r"`` for a module with CRLF line endings (new lines get it too), else ``""``."""
    return "\r" if "\r\n" in text else ""


def _parse(text: str, what: str, error: type[UserError]) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise error(f"{what} does not parse (line {exc.lineno}: {exc.msg}); fix it first") from None


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def stub_kind(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """What kind of stub a function is (``""`` when its body does something).

    Stubs: ``raise NotImplementedError`` (with or without a message), ``pass``, ``...``, or a
    docstring alone.
    """
    body = list(node.body)
    if body and _is_docstring(body[0]):
        body = body[1:]
    if not body:
        return "docstring only"
    if len(body) != 1:
        return ""
    only = body[0]
    if isinstance(only, ast.Pass):
        return "pass"
    if isinstance(only, ast.Expr) and isinstance(only.value, ast.Constant):
        return "..." if only.value.value is Ellipsis else ""
    if isinstance(only, ast.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, ast.Call) else only.exc
        if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
            return "raise NotImplementedError"
    return ""


def bound_names(node: ast.stmt) -> set[str]:
    """Names a module-level statement binds unconditionally (``*`` for a star import).

    Compound statements (``if``, ``try``, ``with``, loops) bind nothing here: their bindings
    may not run.
    """
    if isinstance(node, ast.Import):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name for a in node.names}
    if isinstance(node, (*_FUNCTION, ast.ClassDef)):
        return {node.name}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    names: set[str] = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
    return names


def _origin(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> tuple[object, ...]:
    """What an import alias binds its name to (equal origins bind the same object)."""
    if isinstance(node, ast.Import):
        return ("module", alias.name if alias.asname else alias.name.split(".")[0])
    return ("from", node.level, node.module or "", alias.name)


def _kind_of(node: ast.stmt) -> str:
    if isinstance(node, ast.ClassDef):
        return "a class"
    if isinstance(node, ast.Import | ast.ImportFrom):
        return "an import"
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return "an assignment"
    return f"a `{type(node).__name__.lower()}` statement"


def _nested_in_function(tree: ast.Module, name: str) -> tuple[str, int] | None:
    """``(function, line)`` of a ``def name`` nested inside some function, if any."""
    for outer in ast.walk(tree):
        if not isinstance(outer, _FUNCTION):
            continue
        for inner in ast.walk(outer):
            if inner is not outer and isinstance(inner, _FUNCTION) and inner.name == name:
                return outer.name, inner.lineno
    return None


def _conditional(body: Sequence[ast.stmt], name: str) -> ast.stmt | None:
    """The compound statement of ``body`` that defines ``name`` inside it, if any."""
    for node in body:
        if isinstance(node, _COMPOUND):
            for inner in ast.walk(node):
                if isinstance(inner, (*_FUNCTION, ast.ClassDef)) and inner.name == name:
                    return node
    return None


def _body_indent(cls: ast.ClassDef, lines: Sequence[str]) -> str:
    first = cls.body[0]
    line = lines[first.lineno - 1]
    return line[: first.col_offset] if first.col_offset else " " * (cls.col_offset + 4)


def _dedent(lines: Sequence[str], indent: str) -> list[str]:
    return [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines]


def _existing_site(
    node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str, lines: Sequence[str]
) -> TargetSite:
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    end = node.end_lineno or node.lineno
    indent = lines[node.lineno - 1][: node.col_offset]
    first = node.body[0]
    docstring = ""
    if first.lineno == node.lineno:
        # a one-line def (``def f(x): ...``): its header is rebuilt from the tree
        bare = copy.copy(node)
        bare.body, bare.decorator_list = [ast.Pass()], []
        header = ast.unparse(bare).splitlines()[0]
        head_lines = [*_dedent(lines[start - 1 : node.lineno - 1], indent), header]
    else:
        header_end = first.lineno - 1
        if _is_docstring(first):
            header_end = first.end_lineno or first.lineno
            raw = lines[first.lineno - 1 : header_end]
            body_indent = raw[0][: first.col_offset]
            docstring = "\n".join(
                ("    " + s) if s.strip() else "" for s in _dedent(raw, body_indent)
            )
            head_lines = _dedent(lines[start - 1 : first.lineno - 1], indent)
            head_lines += docstring.splitlines()
        else:
            head_lines = _dedent(lines[start - 1 : header_end], indent)
    decorators = "\n".join(_dedent(lines[start - 1 : node.lineno - 1], indent))
    return TargetSite(
        qualname=qualname,
        exists=True,
        indent=indent,
        start=start,
        end=end,
        stub=stub_kind(node),
        signature="\n".join(head_lines).rstrip(),
        decorators=decorators,
        docstring=docstring,
    )


def locate_target(
    text: str, qualname: str, *, create: bool = False, file: str = "the module"
) -> TargetSite:
    """Find ``qualname`` in a module's text, or where a new one goes.

    Args:
        text: The module's text (empty for a new module).
        qualname: ``name``, ``Class.method`` or ``Outer.Inner.method``.
        create: A missing target is written new (at the end of its class or of the module);
            without it a missing target is an error.
        file: How to name the module in messages (its path).

    Returns:
        The target's site.

    Raises:
        TargetError: the module does not parse, a class on the path is missing or is not a
            class, the target is inside a function or a conditional block, is defined more than
            once, is not a function, or is missing and ``create`` is off.
    """
    parts = qualname.split(".")
    if not parts or not all(p.isidentifier() for p in parts):
        raise TargetError(
            f"target {qualname!r} is not a function name; use 'name', 'Class.method' or "
            "'Outer.Inner.method'"
        )
    tree = _parse(text, file, TargetError) if text.strip() else ast.Module(body=[], type_ignores=[])
    lines = [line.rstrip("\r") for line in _split(text)]
    body: list[ast.stmt] = list(tree.body)
    owner: ast.ClassDef | None = None
    for i, part in enumerate(parts[:-1]):
        path = ".".join(parts[: i + 1])
        found = [n for n in body if part in bound_names(n)]
        if not found:
            raise TargetError(
                f"class {path} not found in {file}; create the class first, or fix "
                f"target.function ({qualname!r})"
            )
        node = found[-1]
        if isinstance(node, _FUNCTION):
            raise TargetError(
                f"{path} in {file} is a function: a target inside a function is not supported; "
                "make it a module-level function or a method"
            )
        if not isinstance(node, ast.ClassDef):
            raise TargetError(
                f"{path} in {file} (line {node.lineno}) is {_kind_of(node)}, not a class; fix "
                "target.function"
            )
        owner = node
        body = list(node.body)
    name = parts[-1]
    matches = [n for n in body if name in bound_names(n)]
    what = "method" if owner is not None else "function"
    if len(matches) > 1:
        where = ", ".join(str(n.lineno) for n in matches)
        raise TargetError(
            f"{qualname} is bound {len(matches)} times in {file} (lines {where}); a target "
            "defined more than once (a property with a setter, an overload) is not supported"
        )
    if matches:
        node = matches[0]
        if not isinstance(node, _FUNCTION):
            raise TargetError(
                f"{qualname} in {file} (line {node.lineno}) is {_kind_of(node)}, not a "
                f"{what}; point target.function at a function"
            )
        return _existing_site(node, qualname, lines)
    nested = _nested_in_function(tree, name)
    if nested is not None and owner is None:
        raise TargetError(
            f"{name} is defined inside function {nested[0]} of {file} (line {nested[1]}): a "
            "target inside a function is not supported; make it a module-level function"
        )
    block = _conditional(body, name)
    if block is not None:
        raise TargetError(
            f"{qualname} is defined inside a `{type(block).__name__.lower()}` block of {file} "
            f"(line {block.lineno}): a conditional target is not supported"
        )
    if not create:
        if not text.strip():
            raise TargetError(
                f"{file} does not exist (or is empty); add `create: true` to the bead's target "
                "to write a new module"
            )
        raise TargetError(
            f"{what} {qualname} not found in {file}; add `create: true` to the bead's target to "
            "write a new one, or fix target.function"
        )
    if owner is not None:
        end = owner.end_lineno or owner.lineno
        return TargetSite(
            qualname=qualname,
            exists=False,
            indent=_body_indent(owner, lines),
            start=end + 1,
            end=end,
        )
    return TargetSite(
        qualname=qualname, exists=False, indent="", start=len(lines) + 1, end=len(lines)
    )


def _program_parts(
    program: str, name: str
) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[str], list[ast.stmt]]:
    """The program's top-level ``def name`` and the setup statements before it (with sources)."""
    tree = _parse(program, "the code", SpliceError)
    fn = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        ),
        None,
    )
    if fn is None:
        raise SpliceError(f"the code has no top-level `def {name}(...)`; keep the function name")
    lines = [line.rstrip("\r") for line in _split(program)]
    setup = [n for n in tree.body[: tree.body.index(fn)] if not _is_docstring(n)]
    return fn, lines, setup


def _source(lines: Sequence[str], node: ast.stmt) -> str:
    start = node.lineno
    if isinstance(node, (*_FUNCTION, ast.ClassDef)) and node.decorator_list:
        start = min(d.lineno for d in node.decorator_list)
    return "\n".join(lines[start - 1 : node.end_lineno or node.lineno])


def _join(lines: Sequence[str], final_newline: bool = True) -> str:
    return "\n".join(lines) + ("\n" if final_newline else "") if lines else ""


def splice(original: str, site: TargetSite, program: str) -> Spliced:
    """Put the function (and setup) of a standalone ``program`` into ``original`` at ``site``.

    Args:
        original: The module's text (empty for a new module).
        site: Where the target is (:func:`locate_target` on ``original``).
        program: Setup statements followed by the target as a top-level ``def`` (a method
            dedented, ``self`` first).

    Returns:
        The module text and the line map back to ``program``.

    Raises:
        SpliceError: ``program`` lacks the function, or its setup cannot be merged.
    """
    fn, prog_lines, setup = _program_parts(program, site.name)
    fn_first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    fn_last = fn.end_lineno or fn.lineno
    cr = _cr(original)
    block = [
        ((site.indent + line) if line.strip() else "") + cr
        for line in prog_lines[fn_first - 1 : fn_last]
    ]
    lines = _split(original)
    if site.exists:
        new_lines = [*lines[: site.start - 1], *block, *lines[site.end :]]
    elif site.indent:
        # a new method: after the last line of its class, one blank line before it
        new_lines = [*lines[: site.end], cr, *block, *lines[site.end :]]
    else:
        kept = list(lines)
        while kept and not kept[-1].strip():
            kept.pop()
        new_lines = [*kept, cr, cr, *block] if kept else list(block)
    final_newline = original.endswith("\n") or not original.strip() or not site.exists
    text = _join(new_lines, final_newline)
    setup_sources = [_source(prog_lines, n) for n in setup]
    text = merge_setup(text, setup_sources, target=site.qualname)
    return _mapped(text, site.qualname, fn_first, fn_last, prog_lines, setup)


def _mapped(
    text: str,
    qualname: str,
    fn_first: int,
    fn_last: int,
    prog_lines: Sequence[str],
    setup: Sequence[ast.stmt],
) -> Spliced:
    site = locate_target(text, qualname, create=False, file="the spliced module")
    line_map = {site.start + k: fn_first + k for k in range(fn_last - fn_first + 1)}
    body = ast.parse(text).body
    dumps = {id(n): ast.dump(n) for n in body}
    for node in setup:
        dump = ast.dump(node)
        found = next((n for n in body if dumps[id(n)] == dump), None)
        if found is None:
            continue
        for k in range((found.end_lineno or found.lineno) - found.lineno + 1):
            line_map.setdefault(found.lineno + k, node.lineno + k)
    return Spliced(text=text, line_map=line_map, function_lines=(site.start, site.end))


def _import_after(tree: ast.Module, future: bool) -> tuple[int, bool]:
    """The line after which a new import goes (0: at the top), and whether that line ends an
    import (else a docstring, or nothing)."""
    after, is_import = 0, False
    for i, node in enumerate(tree.body):
        if i == 0 and _is_docstring(node):
            after, is_import = node.end_lineno or node.lineno, False
        elif isinstance(node, ast.Import | ast.ImportFrom) and (
            not future or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        ):
            after, is_import = node.end_lineno or node.lineno, True
    return after, is_import


def _alias_bound(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    if alias.asname:
        return alias.asname
    return alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name


def _anchor(tree: ast.Module, target: str | None, n_lines: int) -> int:
    """The first line of the top-level statement holding the target (setup code goes above);
    past the end when there is none."""
    if target:
        first = target.split(".")[0]
        for node in tree.body:
            if first in bound_names(node) and isinstance(node, (*_FUNCTION, ast.ClassDef)):
                return min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return n_lines + 1


def _reduced_import(node: ast.Import | ast.ImportFrom, drop: set[str]) -> str | None:
    """The import without the aliases binding ``drop`` (``None``: nothing left)."""
    keep = [a for a in node.names if _alias_bound(node, a) not in drop]
    if not keep:
        return None
    if isinstance(node, ast.Import):
        return ast.unparse(ast.Import(names=keep))
    return ast.unparse(ast.ImportFrom(module=node.module, names=keep, level=node.level))


def _already_imported(tree: ast.Module, stmt: ast.Import | ast.ImportFrom) -> set[str]:
    """Names ``stmt`` binds that the module already imports from the same place."""
    existing: dict[str, tuple[object, ...]] = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                existing[_alias_bound(node, alias)] = _origin(node, alias)
    return {
        _alias_bound(stmt, a)
        for a in stmt.names
        if existing.get(_alias_bound(stmt, a)) == _origin(stmt, a)
    }


def _insertion(
    tree: ast.Module, lines: list[str], stmt: ast.stmt, source: str, target: str | None
) -> tuple[int, list[str]]:
    """Where a new setup statement goes (the line it follows) and the lines inserted."""
    block = _split(source)
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        at, after_import = _import_after(tree, future)
        if at and not after_import:
            block = ["", *block]  # a blank line between the docstring and the imports
        if at == 0 and lines:
            block = [*block, "", ""]
        return at, block
    at = _anchor(tree, target, len(lines)) - 1
    if at < len(lines):
        return at, [*block, "", ""]
    return at, ["", "", *block] if lines else block


def _merge_one(text: str, source: str, target: str | None) -> str:
    tree = _parse(text, "the module", SpliceError)
    new = _parse(source, "the setup", SpliceError).body
    if len(new) != 1:
        raise SpliceError(f"setup statement {source!r} is not one statement")
    stmt = new[0]
    if any(ast.dump(n) == ast.dump(stmt) for n in tree.body):
        return text  # already there: kept
    lines = _split(text)
    cr = _cr(text)
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        same = _already_imported(tree, stmt)
        if same:
            reduced = _reduced_import(stmt, same)
            if reduced is None:
                return text  # every name is already imported from the same place: kept
            source, stmt = reduced, ast.parse(reduced).body[0]
    names = bound_names(stmt)
    shown = source.splitlines()[0]
    if target and target.split(".")[0] in names:
        raise SpliceError(
            f"setup statement {shown!r} rebinds {target.split('.')[0]}, the bead's own "
            "target; remove it from the setup"
        )
    edits: list[tuple[int, int, list[str]]] = []  # (first line, last line, replacement)
    placed = False
    for node in tree.body:
        clash = bound_names(node) & names
        if not clash or "*" in clash:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        last = node.end_lineno or node.lineno
        others = bound_names(node) - names
        if isinstance(node, ast.Import | ast.ImportFrom) and others:
            reduced = _reduced_import(node, clash)
            edits.append((first, last, [reduced + cr] if reduced else []))
            continue
        if others:
            raise SpliceError(
                f"setup statement {shown!r} rebinds {', '.join(sorted(clash))}, which line "
                f"{node.lineno} of the module binds together with {', '.join(sorted(others))}; "
                "bind it on its own line or leave it out of the setup"
            )
        indent = lines[node.lineno - 1][: node.col_offset]
        replacement = (
            [] if placed else [(indent + s if s.strip() else s) + cr for s in _split(source)]
        )
        edits.append((first, last, replacement))
        placed = True
    if not placed:
        at, block = _insertion(tree, lines, stmt, source, target)
        edits.append((at + 1, at, [line + cr for line in block]))
    for first, last, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[first - 1 : last] = replacement
    return _join(lines, text.endswith("\n") or not text)


def merge_setup(text: str, setup: Sequence[str] | str, *, target: str | None = None) -> str:
    """Merge setup statements into a module by bound name.

    For each statement, in order: an identical module-level statement keeps it; an import of a
    name already imported from the same place is dropped; a statement binding a name that an
    unconditional module-level statement binds replaces that statement where it stands (an
    import binding other names too loses only those aliases); anything else is added — imports
    after the module's last import (``__future__`` ones after the docstring), other statements
    just above the top-level statement holding the target.

    Args:
        text: The module's text.
        setup: The statements' sources (or one block of module-level code).
        target: The bead's target (qualified name): setup code goes above it and may not rebind
            it.

    Returns:
        The merged text (``text`` itself when nothing changes).

    Raises:
        SpliceError: a statement does not parse, rebinds the target, or rebinds a name that an
            existing statement binds together with other names (other than an import).
    """
    if isinstance(setup, str):
        tree = _parse(setup, "the setup", SpliceError)
        lines = _split(setup)
        setup = [_source(lines, n) for n in tree.body]
    for source in setup:
        if source.strip():
            text = _merge_one(text, textwrap.dedent(source), target)
    return text
