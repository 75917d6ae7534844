"""Executable partial programs: the longest runnable prefix of code that is still being written.

EG-CFG runs candidate continuations that usually end mid-block or mid-line (DESIGN.md §1). This
module turns such code into a program that parses:

1. take the longest prefix of whole lines that parses;
2. where a prefix ends in an open block header (``if x:``), give the block a ``pass`` body at
   the indentation of the line that was dropped (or four spaces deeper than the header);
3. strip comments and docstrings (a docstring-only body becomes ``pass``);
4. when no non-empty prefix parses, fall back to ``signature`` + ``pass``;
5. otherwise report that nothing is executable.

Example:
    >>> make_executable("def f(x):\\n    if x > 1:\\n        return x +").code
    'def f(x):\\n    if x > 1:\\n        pass\\n'
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from typing import Literal

__all__ = ["PartialKind", "PartialProgram", "make_executable"]

PartialKind = Literal["complete", "dropped_last_line", "added_pass", "signature_pass", "nothing"]
"""How the executable program was obtained (see :class:`PartialProgram`)."""

_MAX_LINES = 2_000


@dataclass(frozen=True, kw_only=True)
class PartialProgram:
    """An executable form of (partial) code."""

    code: str | None
    """The program (ends with a newline), or ``None`` when nothing is executable."""
    kind: PartialKind
    """``complete``: the whole code parsed; ``dropped_last_line``: trailing lines were dropped;
    ``added_pass``: lines were dropped and an open block got a ``pass`` body;
    ``signature_pass``: only ``signature`` + ``pass``; ``nothing``: no executable program."""
    reason: str = ""
    """One line on what was done, or why nothing is executable."""
    kept_lines: int = 0
    """Lines of the original code kept (before comments and docstrings were stripped)."""

    @property
    def ok(self) -> bool:
        """True when there is an executable program."""
        return self.code is not None

    @property
    def program(self) -> str | None:
        """Alias of :attr:`code`."""
        return self.code


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _header(line: str) -> bool:
    """Whether ``line`` looks like a block header (``...:`` before any comment)."""
    code = line.split("#", 1)[0].rstrip() if "#" in line else line.rstrip()
    return code.endswith(":")


def _with_pass(prefix: list[str], dropped: str | None) -> str | None:
    """``prefix`` with a ``pass`` body for its last line when that is an open block header."""
    last = next((line for line in reversed(prefix) if line.strip()), None)
    if last is None or not _header(last):
        return None
    indent = _indent(last) + "    "
    if dropped is not None and dropped.strip() and len(_indent(dropped)) > len(_indent(last)):
        indent = _indent(dropped)
    text = "\n".join([*prefix, indent + "pass"]) + "\n"
    return text if _parses(text) else None


def _docstring_lines(tree: ast.AST) -> list[tuple[int, int, ast.AST]]:
    found: list[tuple[int, int, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                first = body[0]
                found.append((first.lineno, first.end_lineno or first.lineno, node))
    return found


def _strip(text: str) -> str:
    """Remove comments and docstrings from parsing ``text``; keep it parsing."""
    lines = text.splitlines()
    # Comments: blank the comment tokens (a comment-only line becomes empty, removed below).
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    for token in reversed(tokens):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
    # Docstrings: drop their lines; a body left empty gets ``pass``.
    try:
        tree = ast.parse("\n".join(lines) + "\n")
    except SyntaxError:
        return text
    drop: set[int] = set()
    add_pass: dict[int, str] = {}
    for start, end, node in _docstring_lines(tree):
        if lines[start - 1].lstrip()[:1] not in "'\"rRbBuUfF":
            continue  # the docstring shares its line with other code (``def f(): "doc"``)
        drop.update(range(start, end + 1))
        body = getattr(node, "body", [])
        if len(body) == 1 and not isinstance(node, ast.Module):
            add_pass[end] = _indent(lines[start - 1]) + "pass"
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        if number in drop:
            if number in add_pass:
                out.append(add_pass[number])
            continue
        if line.strip():
            out.append(line.rstrip())
    result = "\n".join(out) + "\n" if out else ""
    return result if _parses(result) else text


def make_executable(code: str, signature: str | None = None) -> PartialProgram:
    """The longest executable prefix of ``code`` (see the module docstring).

    Args:
        code: The code so far (may end mid-line or mid-block).
        signature: The function's ``def`` line (with or without the trailing colon), used
            when no prefix of ``code`` is executable.

    Returns:
        A :class:`PartialProgram`; ``kind == "nothing"`` (and ``code is None``) when there is
        nothing to run.
    """
    lines = code.expandtabs(8).splitlines() if "\t" in code else code.splitlines()
    if len(lines) > _MAX_LINES:
        lines = lines[:_MAX_LINES]
    whole = "\n".join(lines) + "\n"
    if lines and _parses(whole) and whole.strip():
        stripped = _strip(whole)
        if stripped.strip():
            return PartialProgram(
                code=stripped, kind="complete", reason="the code parses", kept_lines=len(lines)
            )
    for n in range(len(lines), 0, -1):
        prefix = lines[:n]
        if not prefix[-1].strip():
            continue
        dropped = lines[n] if n < len(lines) else None
        text = "\n".join(prefix) + "\n"
        if n < len(lines) and _parses(text):
            stripped = _strip(text)
            if stripped.strip():
                return PartialProgram(
                    code=stripped,
                    kind="dropped_last_line",
                    reason=f"kept the first {n} of {len(lines)} lines",
                    kept_lines=n,
                )
        repaired = _with_pass(prefix, dropped)
        if repaired is not None:
            stripped = _strip(repaired)
            if stripped.strip():
                return PartialProgram(
                    code=stripped,
                    kind="added_pass",
                    reason=f"kept the first {n} of {len(lines)} lines and gave the open block a pass body",
                    kept_lines=n,
                )
    if signature is not None and signature.strip():
        header = signature.rstrip()
        if not header.endswith(":"):
            header += ":"
        text = header + "\n" + _indent(header) + "    pass\n"
        if _parses(text):
            return PartialProgram(
                code=text,
                kind="signature_pass",
                reason="no prefix of the code parses: ran the signature with a pass body",
            )
        return PartialProgram(
            code=None,
            kind="nothing",
            reason=f"nothing executable: no prefix of the code parses and the signature {signature.strip()!r} does not parse either",
        )
    return PartialProgram(
        code=None,
        kind="nothing",
        reason="nothing executable: no prefix of the code parses and no signature was given",
    )
