"""What the model sees of the repository: the target module and the bead's context, cut to fit.

A bead's prompt shows the code its function lives in (:attr:`beadline.agents.task.Task.
code_context`), in this order of priority:

1. **the target module**, as an outline: its imports and constants, the signatures and
   docstrings of the sibling functions and classes the target may call, and — for a method —
   its class with the fields, ``__init__`` in full (it shows the ``self.`` attributes) and the
   other methods' signatures and docstrings;
2. **the bead's** ``context`` **files** (an outline of each Python file, other files as text);
3. **the rest**: the package modules the target module imports (``from .models import Item``),
   as outlines.

Whatever does not fit the token budget is cut, lowest priority first — a section that does not
fit whole is cut at a line boundary (the target module) or left out (the others) — and the
:class:`RepoView` says what was shown and what was cut, for the record.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from beadline.validators.snapshot import ModuleContext

__all__ = ["RepoView", "build_repo_view", "outline"]

CUT_MARKER = "# ... (cut to fit the context window)"
"""Ends a section that was cut."""

_SHORT = 3
"""Module-level statements of at most this many lines are shown whole."""


@dataclass(frozen=True, kw_only=True)
class RepoView:
    """The repository code a prompt shows, and what was cut to fit."""

    text: str
    """The text (``Task.code_context``)."""
    budget_tokens: int
    """The budget it was cut to."""
    tokens: int
    """Its size in tokens."""
    shown: tuple[dict[str, Any], ...] = ()
    """Per section shown: ``file``, ``what`` (``target module``, ``context``, ``imported``),
    ``tokens``, ``cut`` (True when cut at a line boundary)."""
    cut: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Per section left out: ``file``, ``what``, ``tokens`` (what it would have cost)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (the run's record)."""
        return {
            "budget_tokens": self.budget_tokens,
            "tokens": self.tokens,
            "shown": [dict(s) for s in self.shown],
            "cut": [dict(c) for c in self.cut],
        }


def _docstring(node: ast.AST) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0]
    return None


def _span(lines: Sequence[str], first: int, last: int) -> list[str]:
    return list(lines[first - 1 : last])


def _start(node: ast.stmt) -> int:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return node.lineno


def _head(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: Sequence[str]
) -> list[str]:
    """Decorators, header and docstring of a definition."""
    doc = _docstring(node)
    first_body = node.body[0]
    if doc is not None:
        end = doc.end_lineno or doc.lineno
    elif first_body.lineno > node.lineno:
        end = first_body.lineno - 1
    else:
        end = node.lineno
    return _span(lines, _start(node), end)


def _body_pad(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: Sequence[str]
) -> str:
    first = node.body[0]
    return (
        lines[first.lineno - 1][: first.col_offset]
        if first.col_offset
        else " " * (node.col_offset + 4)
    )


def _outline_def(
    node: ast.FunctionDef | ast.AsyncFunctionDef, lines: Sequence[str], *, note: str = ""
) -> list[str]:
    out = _head(node, lines)
    pad = _body_pad(node, lines)
    if note:
        out.append(f"{pad}# {note}")
    out.append(f"{pad}...")
    return out


def _outline_class(
    node: ast.ClassDef, lines: Sequence[str], path: Sequence[str], target: Sequence[str]
) -> list[str]:
    out = _head(node, lines)
    doc = _docstring(node)
    inside = len(target) > len(path) + 1 and list(target[: len(path) + 1]) == [*path, node.name]
    for child in node.body:
        if child is doc:
            continue
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            here = [*path, node.name, child.name]
            if here == list(target):
                out += _outline_def(child, lines, note="<- the method to write")
            elif inside and child.name == "__init__":
                out += _span(lines, _start(child), child.end_lineno or child.lineno)
            else:
                out += _outline_def(child, lines)
        elif isinstance(child, ast.ClassDef):
            out += _outline_class(child, lines, [*path, node.name], target)
        else:
            out += _statement(child, lines)
    return out


def _statement(node: ast.stmt, lines: Sequence[str]) -> list[str]:
    first, last = _start(node), node.end_lineno or node.lineno
    if last - first + 1 <= _SHORT:
        return _span(lines, first, last)
    head = lines[first - 1]
    return [head.rstrip() + (" ..." if not head.rstrip().endswith("...") else "")]


def outline(text: str, *, target: str | None = None) -> str:
    """An outline of a module: imports, constants, signatures and docstrings.

    Args:
        text: The module's source.
        target: The bead's target (qualified name): its class is shown with ``__init__`` in
            full, and the target itself is marked.

    Returns:
        The outline (the text itself when it does not parse).
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines()
    parts = target.split(".") if target else []
    out: list[str] = []
    doc = _docstring(tree)
    if doc is not None:
        out.append(lines[doc.lineno - 1].rstrip())
        if (doc.end_lineno or doc.lineno) > doc.lineno:
            out[-1] += ' ..."""' if not out[-1].endswith('"""') else ""
    for node in tree.body:
        if node is doc:
            continue
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            continue
        block: list[str]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            note = "<- the function to write" if parts == [node.name] else ""
            block = _outline_def(node, lines, note=note)
        elif isinstance(node, ast.ClassDef):
            block = _outline_class(node, lines, [], parts)
        else:
            block = _statement(node, lines)
        if out and (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)):
            out.append("")
        out += block
    return "\n".join(out).strip("\n")


def _imported_files(ctx: ModuleContext, text: str) -> list[str]:
    """Repository files of the package modules the target module imports (relative paths)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    package = ctx.module.split(".") if ctx.is_package else ctx.module.split(".")[:-1]
    top = ctx.module.split(".")[0]
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                dotted = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                dotted = node.module or ""
            candidates = [dotted] + [f"{dotted}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        for dotted in candidates:
            if dotted and dotted.split(".")[0] == top and dotted not in names:
                names.append(dotted)
    found: list[str] = []
    roots = [Path(ctx.snapshot.path) / r for r in ctx.snapshot.import_roots]
    for dotted in names:
        for root in roots:
            rel = PurePosixPath(*dotted.split("."))
            for path in (root / f"{rel}.py", root / rel / "__init__.py"):
                if path.is_file():
                    relative = path.relative_to(ctx.snapshot.path).as_posix()
                    if relative != ctx.file and relative not in found:
                        found.append(relative)
                    break
            else:
                continue
            break
    return found


def _section(title: str, body: str) -> str:
    return f"# --- {title} ---\n{body.rstrip()}\n"


def build_repo_view(
    ctx: ModuleContext,
    original: str,
    *,
    context_files: Sequence[str],
    count_tokens: Callable[[str], int],
    budget_tokens: int,
) -> RepoView:
    """The repository code for the prompt, cut to ``budget_tokens`` by priority.

    Args:
        ctx: The target module in its snapshot.
        original: The module's text (empty for a new module).
        context_files: The bead's ``context`` (paths relative to the repository).
        count_tokens: Tokens of a text (the model's tokenizer).
        budget_tokens: The most tokens the view may take (0: nothing is shown).

    Returns:
        The view; sections that do not fit are listed in ``cut``.
    """
    sections: list[tuple[str, str, str]] = []  # (file, what, text)
    if original.strip():
        body = outline(original, target=ctx.target)
        sections.append(
            (ctx.file, "target module", _section(f"{ctx.file} (the target module)", body))
        )
    else:
        sections.append(
            (ctx.file, "target module", _section(f"{ctx.file} (a new module)", "# (empty)"))
        )
    shown_files = {ctx.file}
    for rel in context_files:
        if rel in shown_files:
            continue
        shown_files.add(rel)
        path = ctx.snapshot.path / rel
        if not path.is_file():
            sections.append((rel, "context", _section(f"{rel} (not found)", "# (missing)")))
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        body = outline(text) if rel.endswith(".py") else text
        sections.append((rel, "context", _section(rel, body)))
    for rel in _imported_files(ctx, original):
        if rel in shown_files:
            continue
        shown_files.add(rel)
        text = (ctx.snapshot.path / rel).read_text(encoding="utf-8", errors="replace")
        sections.append(
            (rel, "imported", _section(f"{rel} (imported by the target module)", outline(text)))
        )
    out: list[str] = []
    used = 0
    shown: list[dict[str, Any]] = []
    cut: list[dict[str, Any]] = []
    for rel, what, text in sections:
        cost = count_tokens(text)
        if used + cost <= budget_tokens:
            out.append(text)
            used += cost
            shown.append({"file": rel, "what": what, "tokens": cost, "cut": False})
            continue
        if what == "target module" and budget_tokens - used > 0:
            kept = _cut_lines(text, budget_tokens - used, count_tokens)
            if kept:
                kept_cost = count_tokens(kept)
                out.append(kept)
                used += kept_cost
                shown.append({"file": rel, "what": what, "tokens": kept_cost, "cut": True})
                continue
        cut.append({"file": rel, "what": what, "tokens": cost})
    return RepoView(
        text="\n".join(out).rstrip("\n"),
        budget_tokens=budget_tokens,
        tokens=used,
        shown=tuple(shown),
        cut=tuple(cut),
    )


def _cut_lines(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """The longest line prefix of ``text`` that fits ``budget`` with the cut marker."""
    lines = text.splitlines()
    low, high = 0, len(lines)
    while low < high:
        mid = (low + high + 1) // 2
        if count_tokens("\n".join([*lines[:mid], CUT_MARKER]) + "\n") <= budget:
            low = mid
        else:
            high = mid - 1
    if low == 0:
        return ""
    return "\n".join([*lines[:low], CUT_MARKER]) + "\n"
