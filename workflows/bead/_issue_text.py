"""Reading a tracker issue's prose: its tests, its target, its integration check.

A ``bd`` issue is written by people (or agents) in Markdown, not in beadline's schema. What is
read, field by field (``description``, ``design``, ``acceptance_criteria``; never ``notes``,
where beadline writes its own progress and would read its failure notes back as tests):

* **Tests**: ``assert`` statements in fenced code blocks (```` ```python ```` or unlabelled),
  on lines of their own, in Markdown bullets (``- assert …``, ``* [ ] assert …``, ``1. assert …``),
  in inline code (`` `assert …` ``) and after a colon in prose (``Accents: assert f('é') == 'e'``).
  Each must parse as one ``assert`` statement; the inline and prose forms must also call
  something, so ``we assert it works`` is not a test.
* **Keys**: ``file:``, ``function:``, ``signature:``, ``command:`` lines (outside code blocks).
* **Integration**: an ``Integration: …`` line is a command when it looks like one (in backticks,
  a known runner such as ``python``/``pytest``/``make``/``tox``, a path, a flag, or a program on
  PATH) and is not English prose; otherwise (``Integration: run the tests``) it is a requirement
  shown to the model, never run. ``command:`` lines are always commands.
* **Target file** when no ``file:`` line names one: the only ``.py`` path the description or
  design mentions (a test file is not a target); a backticked ``name(args) -> type`` for the
  target function becomes its signature.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "IssueText",
    "assert_lines",
    "is_command",
    "python_paths",
    "read_issue_text",
    "signature_from_prose",
]

TEST_FIELDS = ("description", "design", "acceptance_criteria")
"""Fields whose asserts are tests (``notes`` is where beadline writes back)."""

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_KEY_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?\**(file|function|signature|command|integration)\**\s*:\**\s*(.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_PY_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.py)(?![\w/-])")
_RUNNERS = frozenset(
    {
        *("python", "python3", "pytest", "py.test", "make", "tox", "nox", "uv", "poetry"),
        *("hatch", "pdm", "pipenv", "bash", "sh", "npm", "npx", "yarn", "pnpm", "cargo", "go"),
        *("just", "coverage", "mypy", "ruff", "flake8", "pylint", "behave", "nosetests"),
    }
)
"""Programs an integration command usually starts with."""
_PROSE_WORDS = frozenset(
    {
        *("the", "a", "an", "all", "and", "or", "that", "should", "must", "to", "it", "its"),
        *("every", "each", "our", "their", "this", "these", "those", "be", "still", "suite"),
        *("existing", "whole", "still", "keep", "make", "sure", "green", "passes", "passing"),
    }
)
"""Words of English prose that a command's arguments practically never are."""


@dataclass(frozen=True, kw_only=True)
class IssueText:
    """What an issue's prose says, before it is validated as a bead."""

    tests: tuple[str, ...] = ()
    """Assert statements, in order of appearance, without duplicates."""
    keys: dict[str, str] = field(default_factory=dict)
    """``file``/``function``/``signature``/``command`` values (the first of each)."""
    commands: tuple[str, ...] = ()
    """Integration lines that are commands (``command:`` first)."""
    requirements: tuple[str, ...] = ()
    """Integration lines that are prose: requirements shown to the model, not run."""
    paths: tuple[str, ...] = ()
    """``.py`` paths the description and design mention."""


def _fenced(text: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def _one_assert(text: str, *, needs_call: bool) -> str | None:
    """``text`` as one assert statement (a trailing ``.``/``;``/``,`` dropped), else None."""
    candidate = text.strip()
    for attempt in (candidate, candidate.rstrip(".;,")):
        try:
            tree = ast.parse(attempt)
        except SyntaxError:
            continue
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            return None
        if needs_call and not any(isinstance(n, ast.Call) for n in ast.walk(tree)):
            return None
        return ast.unparse(tree.body[0]) if attempt != candidate else attempt
    return None


def assert_lines(text: str, *, fenced: bool = True) -> list[str]:
    """The assert statements of a Markdown text (see the module docstring for the forms).

    Args:
        text: Markdown.
        fenced: Also read fenced code blocks (``python``, ``py`` or unlabelled).
    """
    found: list[str] = []
    if fenced:
        for lang, block in _fenced(text):
            if lang in ("", "python", "py", "python3", "pycon"):
                for line in block.splitlines():
                    stripped = line.strip().removeprefix(">>> ")
                    if stripped.startswith("assert "):
                        test = _one_assert(stripped, needs_call=False)
                        if test:
                            found.append(test)
    for line in _FENCE.sub("\n", text).splitlines():
        plain = _BULLET.sub("", line, count=1).strip()
        if plain.startswith("assert "):
            test = _one_assert(plain, needs_call=False)
            if test:
                found.append(test)
                continue
        inline = [m.group(1) for m in _INLINE_CODE.finditer(line)]
        for code in inline:
            if code.strip().startswith("assert "):
                test = _one_assert(code, needs_call=True)
                if test:
                    found.append(test)
        at = line.find(": assert ")
        if not inline and at >= 0:
            test = _one_assert(line[at + 2 :], needs_call=True)
            if test:
                found.append(test)
    return found


def is_command(text: str, *, which: Callable[[str], str | None] = shutil.which) -> bool:
    """Whether an ``Integration:`` line is a command to run (not a requirement in prose).

    Args:
        text: The line's value (after ``Integration:``).
        which: Finds a program on PATH (``shutil.which``; replaceable in tests).
    """
    value = text.strip()
    if len(value) > 2 and value.startswith("`") and value.endswith("`"):
        return True
    try:
        words = shlex.split(value)
    except ValueError:
        return False
    if not words:
        return False
    first, rest = words[0], words[1:]
    if any(w.lower().strip(".,;:") in _PROSE_WORDS for w in rest) and not any(
        w.startswith("-") or "/" in w or "=" in w for w in rest
    ):
        return False
    if first in _RUNNERS or "/" in first:
        return True
    if any(w.startswith("-") for w in rest):
        return which(first) is not None or first.isidentifier()
    return which(first) is not None


def python_paths(texts: Iterable[str]) -> list[str]:
    """The distinct ``.py`` paths mentioned in ``texts`` (outside fenced code), in order."""
    seen: list[str] = []
    for text in texts:
        for match in _PY_PATH.finditer(_FENCE.sub("\n", text)):
            path = match.group(1)
            if path not in seen:
                seen.append(path)
    return seen


def signature_from_prose(texts: Iterable[str], function: str) -> str | None:
    """A backticked ``function(args) -> type`` (or ``def function(...)``) as a ``def`` line."""
    for text in texts:
        for match in _INLINE_CODE.finditer(text):
            code = match.group(1).strip().rstrip(":")
            code = code.removeprefix("def ").strip()
            if not code.startswith(f"{function}("):
                continue
            line = f"def {code}:"
            try:
                tree = ast.parse(line + "\n    pass\n")
            except SyntaxError:
                continue
            if isinstance(tree.body[0], ast.FunctionDef):
                return line
    return None


def read_issue_text(
    texts: dict[str, str], *, which: Callable[[str], str | None] = shutil.which
) -> IssueText:
    """Read the tests, keys, integration lines and mentioned paths of an issue's fields.

    Args:
        texts: Field name → text (``description``, ``design``, ``acceptance_criteria``,
            ``notes``); missing fields count as empty.
        which: Finds a program on PATH (see :func:`is_command`).
    """
    tests: list[str] = []
    for name in TEST_FIELDS:
        for test in assert_lines(texts.get(name, "")):
            if test not in tests:
                tests.append(test)
    keys: dict[str, str] = {}
    commands: list[str] = []
    requirements: list[str] = []
    for name in ("design", "notes", "acceptance_criteria", "description"):
        plain = _FENCE.sub("\n", texts.get(name, ""))
        for match in _KEY_LINE.finditer(plain):
            key, raw = match.group(1).lower(), match.group(2).strip()
            value = raw.strip("`").strip()
            if key == "command":
                if value not in commands:
                    commands.insert(0, value)
            elif key == "integration":
                if is_command(raw, which=which):
                    if value not in commands:
                        commands.append(value)
                elif value not in requirements:
                    requirements.append(value)
            else:
                keys.setdefault(key, value)
    paths = python_paths(texts.get(name, "") for name in ("description", "design"))
    return IssueText(
        tests=tuple(tests),
        keys=keys,
        commands=tuple(commands),
        requirements=tuple(requirements),
        paths=tuple(paths),
    )
