"""Where the target function is in code being written: its header, its end, its body.

Private helpers of the decoder (text-level, so they work on code that does not parse yet).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from beadline.validators.executor import TestCase

__all__ = [
    "body_indent",
    "body_statements",
    "def_header_done",
    "function_complete",
    "function_end",
    "with_main_call",
]


def _def_re(entry_point: str) -> re.Pattern[str]:
    return re.compile(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\(", re.M)


def def_header_done(code: str, entry_point: str) -> int | None:
    """Offset just after the complete header line of ``def entry_point(...):``, else ``None``.

    The header is complete once a newline follows the first line (from the ``def``) whose code
    ends with ``:``.
    """
    found = _def_re(entry_point).search(code)
    if found is None:
        return None
    pos = found.start()
    while True:
        nl = code.find("\n", pos)
        if nl == -1:
            return None
        line = code[pos:nl].split("#", 1)[0].rstrip()
        if line.endswith(":"):
            return nl + 1
        pos = nl + 1


def function_end(code: str, entry_point: str) -> int | None:
    """Offset where the target function ends: the start of the first line after its body that
    begins at column 0 with a non-blank character (possibly still being written).

    Returns ``None`` while the function has no body line yet or is still open.
    """
    header = def_header_done(code, entry_point)
    if header is None:
        return None
    pos = header
    seen_body = False
    while pos < len(code):
        nl = code.find("\n", pos)
        line = code[pos:] if nl == -1 else code[pos:nl]
        if line.strip():
            if line[0] in " \t":
                seen_body = True
            elif seen_body:
                return pos
        if nl == -1:
            break
        pos = nl + 1
    return None


def _target_function(tree: ast.Module, entry_point: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            return node  # type: ignore[return-value]
    return None


def body_statements(code: str, entry_point: str) -> int | None:
    """Top-level statements in the target function's body (``None``: it does not parse).

    A body that only parses with a ``pass`` added counts that ``pass`` as 0 statements.
    """
    for extra, minus in (("", 0), ("    pass\n", 1)):
        text = code if code.endswith("\n") or not code else code + "\n"
        try:
            tree = ast.parse(text + extra)
        except SyntaxError:
            continue
        func = _target_function(tree, entry_point)
        if func is None:
            return None
        return len(func.body) - minus
    return None


def function_complete(code: str, entry_point: str) -> bool:
    """Whether ``code`` holds the whole target function already: it parses and the function's
    body ends with a ``return`` or ``raise`` at its top level (what could follow in the body
    never runs)."""
    try:
        func = _target_function(ast.parse(code), entry_point)
    except SyntaxError:
        return False
    return func is not None and isinstance(func.body[-1], ast.Return | ast.Raise)


def body_indent(code: str, entry_point: str) -> str | None:
    """The indentation the next body line of ``entry_point`` takes, when ``code`` (ending with a
    newline) stops inside that function; ``None`` when the function is not open there."""
    header = def_header_done(code, entry_point)
    if header is None or not code.endswith("\n") or function_end(code, entry_point) is not None:
        return None
    for line in code[header:].split("\n"):
        if line.strip():
            return line[: len(line) - len(line.lstrip(" \t"))]
    return "    "


def with_main_call(program: str, entry_point: str, tests: Sequence[TestCase]) -> str:
    """``program`` with a call of ``entry_point`` under ``if __name__ == "__main__":`` when
    the tests are stdin/stdout cases and nothing at the top level calls it yet.

    The decoder writes one function and stops at its end; a stdin/stdout program runs as
    ``__main__``, so without the call it would read nothing and print nothing.

    Example:
        >>> t = TestCase(kind="stdio", stdin="1\\n", expected_stdout="1\\n")
        >>> print(with_main_call("def main():\\n    print(input())\\n", "main", [t]))
        def main():
            print(input())
        <BLANKLINE>
        <BLANKLINE>
        if __name__ == "__main__":
            main()
        <BLANKLINE>
    """
    if not any(t.kind == "stdio" for t in tests) or not program.strip():
        return program
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    defined = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point
        for node in tree.body
    )
    called = any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == entry_point
        for top in tree.body
        if not isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for node in ast.walk(top)
    )
    if not defined or called:
        return program
    return program.rstrip() + f'\n\n\nif __name__ == "__main__":\n    {entry_point}()\n'
