"""Code-text helpers of the stage generators (private): parsing what a model wrote.

The longest prefix that parses, the target ``def`` in it, its header and docstring, the setup
(imports, constants) in front of it, body statements renamed to a signature's parameters, and a
layout-free form of code for comparing two answers.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping

__all__ = [
    "find_function",
    "longest_parse",
    "normalize_part",
    "same_form",
    "setup_of",
    "signature_of",
    "statements_renamed",
]


def normalize_part(code: str) -> str:
    """A body part indented as a function body (4 spaces), without trailing blank lines."""
    text = textwrap.dedent(code.replace("\t", "    ")).strip("\n")
    if not text.strip():
        return ""
    return textwrap.indent(text, "    ")


def longest_parse(text: str) -> ast.Module | None:
    """The longest line prefix of ``text`` that parses (``None``: not even one line)."""
    lines = text.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]) + "\n")
        except SyntaxError:
            continue
    return None


def find_function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    """The top-level ``def name`` of ``tree``, if any."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def signature_of(program: str, entry_point: str) -> str:
    """The ``def`` header (and docstring) of ``entry_point`` in ``program``; empty if absent."""
    tree = longest_parse(program)
    if tree is None:
        return ""
    fn = find_function(tree, entry_point)
    if fn is None:
        return ""
    lines = program.splitlines()
    first_stmt = fn.body[0]
    end = first_stmt.lineno - 1
    if (
        isinstance(first_stmt, ast.Expr)
        and isinstance(first_stmt.value, ast.Constant)
        and isinstance(first_stmt.value.value, str)
    ):
        end = first_stmt.end_lineno or first_stmt.lineno
    start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    return "\n".join(lines[start - 1 : end]).rstrip()


def setup_of(program: str) -> str:
    """Module-level imports and UPPER_CASE constants of ``program``."""
    tree = longest_parse(program)
    if tree is None:
        return ""
    lines = program.splitlines()
    keep: list[str] = []
    for node in tree.body:
        constant = isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id.isupper() for t in node.targets
        )
        if isinstance(node, ast.Import | ast.ImportFrom) or constant:
            keep.extend(lines[node.lineno - 1 : node.end_lineno or node.lineno])
    return "\n".join(keep)


def same_form(part: str) -> str:
    """A layout-free form of code (its syntax tree; the stripped text when it does not parse)."""
    try:
        return ast.dump(ast.parse(textwrap.dedent(part)))
    except SyntaxError:
        return part.strip()


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(id=self.mapping[node.id], ctx=node.ctx), node)
        return node


def statements_renamed(program: str, entry_point: str, signature: str) -> list[str]:
    """The body statements of ``entry_point`` in ``program`` (docstring skipped), as indented
    parts, with its positional parameters renamed to those of ``signature``."""
    tree = longest_parse(program)
    fn = find_function(tree, entry_point) if tree is not None else None
    if fn is None:
        return []
    mapping: dict[str, str] = {}
    ours = longest_parse(signature.strip() + "\n    pass\n")
    our_fn = find_function(ours, entry_point) if ours is not None else None
    if our_fn is not None:
        for theirs, mine in zip(fn.args.args, our_fn.args.args, strict=False):
            if theirs.arg != mine.arg:
                mapping[theirs.arg] = mine.arg
    body = list(fn.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    lines = program.splitlines()
    out: list[str] = []
    for stmt in body:
        if mapping:
            text = ast.unparse(_Rename(mapping).visit(stmt))
        else:
            text = "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno or stmt.lineno])
        out.append(normalize_part(text))
    return out
