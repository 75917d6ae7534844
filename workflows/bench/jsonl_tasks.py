"""Bring your own benchmark: tasks in the ``solve`` task format, one JSON object per line.

Each line is one task with the keys of a ``beadline solve`` task file
(:data:`~beadline.workflows.bench.tasks.TASK_KEYS`). Its tests are either assert lines (a function
task) or stdin/stdout cases (a program task, APPS / CodeContests style), never both::

    {"task_id": "add", "description": "Add two numbers.", "tests": ["assert add(1, 2) == 3"],
     "held_out_tests": ["assert add(-1, 1) == 0"]}
    {"task_id": "sum-line", "description": "Read n, then n integers; print their sum.",
     "tests": [{"stdin": "3\\n1 2 3\\n", "stdout": "6\\n"}],
     "held_out_tests": [{"stdin": "1\\n-5\\n", "stdout": "-5\\n"}]}

- Function tasks follow :func:`~beadline.workflows.bench.tasks.make_task` exactly (the entry point is
  inferred from the tests unless given; ``signature`` and ``prompt`` are optional).
- Program tasks: a case is ``{"stdin": TEXT, "stdout": TEXT}`` (``input``/``output`` are
  accepted as aliases; ``name`` is optional). The program reads standard input and writes
  standard output; stdout is compared whitespace-normalised by the stdio harness. Their
  ``entry_point`` (default ``main``) names the function the program is written around, and
  the task's ``metadata["io"]`` is ``"stdio"`` (``"function"`` for assert tasks).
- ``held_out_tests`` (same kind as ``tests``) are run only for the verdict.
- ``task_id`` defaults to ``<file stem>/<position>`` (the task's 1-based position among the
  file's tasks, what ``--ids`` selects); ids must be unique in the file.

Blank lines and lines starting with ``//`` or ``#`` are skipped. Every error names the file,
the line and the fix (:class:`~beadline.workflows.errors.UserError`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from beadline.agents.task import Task
from beadline.validators.executor import TestCase
from beadline.workflows.bench.tasks import TASK_KEYS, make_task
from beadline.workflows.errors import UserError

__all__ = ["STDIO_ENTRY_POINT", "load_jsonl_tasks", "task_from_mapping"]

STDIO_ENTRY_POINT = "main"
"""The entry point of a stdin/stdout task that does not name one."""

_STDIN_KEYS = ("stdin", "input")
_STDOUT_KEYS = ("stdout", "output")
_CASE_KEYS = frozenset({*_STDIN_KEYS, *_STDOUT_KEYS, "name"})
_TEXT_KEYS = ("description", "signature", "entry_point", "setup", "task_id", "prompt")


def _first(case: Mapping[str, Any], keys: Sequence[str], where: str) -> str | None:
    present = [k for k in keys if k in case]
    if len(present) > 1:
        raise UserError(f"{where}: give one of {' or '.join(map(repr, present))}, not both")
    if not present:
        return None
    value = case[present[0]]
    if not isinstance(value, str):
        raise UserError(f"{where}: {present[0]!r} must be text, got {value!r}")
    return value


def _stdio_case(case: Mapping[str, Any], where: str, index: int) -> TestCase:
    unknown = sorted(set(case) - _CASE_KEYS)
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in a stdin/stdout case; "
            "use stdin, stdout and optionally name"
        )
    stdin = _first(case, _STDIN_KEYS, where)
    stdout = _first(case, _STDOUT_KEYS, where)
    if stdout is None:
        raise UserError(f"{where}: a stdin/stdout case needs 'stdout' (the expected output)")
    name = case.get("name")
    if name is not None and not isinstance(name, str):
        raise UserError(f"{where}: 'name' must be text, got {name!r}")
    return TestCase.from_stdio(stdin or "", stdout, name=name or f"stdio {index}")


def _kind(items: Sequence[Any], where: str) -> str:
    """``assert`` or ``stdio``: what a list of tests holds (never a mix)."""
    kinds = {
        "assert" if isinstance(i, str) else "stdio" if isinstance(i, dict) else "?" for i in items
    }
    if "?" in kinds:
        bad = next(i for i in items if not isinstance(i, str | dict))
        raise UserError(
            f'{where}: a test must be an assert line or a {{"stdin": ..., "stdout": ...}} '
            f"object, got {bad!r}"
        )
    if len(kinds) > 1:
        raise UserError(
            f"{where}: a task's tests are either assert lines or stdin/stdout cases, not both; "
            "split it into two tasks"
        )
    return kinds.pop() if kinds else "assert"


def _test_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if isinstance(value, str | dict):
        value = [value]
    if not isinstance(value, list):
        raise UserError(
            f"{where}: {key!r} must be a list of assert lines or stdin/stdout cases, got {value!r}"
        )
    return value


def _check_keys(data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(data) - set(TASK_KEYS))
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(TASK_KEYS)}"
        )
    for key in _TEXT_KEYS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise UserError(f"{where}: {key!r} must be text, got {data[key]!r}")
    for key in ("description", "tests"):
        if key not in data:
            raise UserError(f"{where}: missing key {key!r}")


def task_from_mapping(data: Mapping[str, Any], *, task_id: str, where: str) -> Task:
    """One task from a mapping in the ``solve`` task format (see the module docstring).

    Args:
        data: the task's keys.
        task_id: the id to use when ``data`` has none.
        where: where the mapping came from, for error messages (``FILE:LINE``).

    Raises:
        UserError: unknown or missing keys, tests of both kinds, a malformed case, or
            anything :func:`~beadline.workflows.bench.tasks.make_task` rejects.
    """
    _check_keys(data, where)
    tests = _test_list(data, "tests", where)
    held = _test_list(data, "held_out_tests", where)
    if not tests:
        raise UserError(f"{where}: 'tests' must not be empty")
    kind = _kind(tests, f"{where}: tests")
    if held and _kind(held, f"{where}: held_out_tests") != kind:
        raise UserError(f"{where}: 'held_out_tests' must be of the same kind as 'tests' ({kind})")
    ident = data.get("task_id") or task_id
    if kind == "assert":
        task = make_task(
            description=data["description"],
            tests=tests,
            signature=data.get("signature"),
            entry_point=data.get("entry_point"),
            held_out_tests=held,
            setup=data.get("setup") or "",
            task_id=ident,
            prompt=data.get("prompt"),
            where=where,
        )
        return dataclasses.replace(task, metadata={"io": "function"})
    description = data["description"]
    if not description.strip():
        raise UserError(f"{where}: 'description' must be a non-empty text")
    entry = data.get("entry_point") or STDIO_ENTRY_POINT
    if not entry.isidentifier():
        raise UserError(f"{where}: entry_point {entry!r} is not a Python identifier")
    return Task(
        task_id=ident,
        description=description.strip(),
        entry_point=entry,
        tests=tuple(_stdio_case(c, f"{where}: test {i}", i) for i, c in enumerate(tests, 1)),
        held_out_tests=tuple(
            _stdio_case(c, f"{where}: held-out test {i}", i) for i, c in enumerate(held, 1)
        ),
        signature=data.get("signature"),
        prompt=data.get("prompt"),
        setup=data.get("setup") or "",
        metadata={"io": "stdio"},
    )


def load_jsonl_tasks(path: str | Path, *, ids: Iterable[int] | None = None) -> list[Task]:
    """Read the tasks of a JSON-lines file in the ``solve`` task format.

    Args:
        path: the file (one JSON object per line).
        ids: keep only these tasks, by their 1-based position among the file's tasks, in this
            order (what ``--ids 1-5,8`` selects).

    Returns:
        The tasks in file order (or ``ids`` order).

    Raises:
        UserError: the file cannot be read or holds no task, a line is not a JSON object,
            a task is invalid (the message names the line), or a position in ``ids`` does
            not exist.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        ...     _ = f.write('{"description": "Double it.", "tests": ["assert dbl(2) == 4"]}\\n')
        >>> [(t.task_id.split("/")[-1], t.entry_point) for t in load_jsonl_tasks(f.name)]
        [('1', 'dbl')]
    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"task file {str(file)!r} does not exist: check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read task file {str(file)!r}: {exc}") from None
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith(("//", "#")):
            continue
        where = f"{file}:{number}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise UserError(f"{where}: each line must be a JSON object (a task), got {text[:40]!r}")
        task = task_from_mapping(data, task_id=f"{file.stem}/{len(tasks) + 1}", where=where)
        if task.task_id in seen:
            raise UserError(
                f"{where}: task_id {task.task_id!r} is already used on line {seen[task.task_id]}; "
                "task ids must be unique"
            )
        seen[task.task_id] = number
        tasks.append(task)
    if not tasks:
        raise UserError(f"{file} holds no task: write one JSON object per line")
    if ids is None:
        return tasks
    chosen: list[Task] = []
    for position in ids:
        if not 1 <= position <= len(tasks):
            raise UserError(
                f"{file} has no task {position}: it holds tasks 1–{len(tasks)} (ids are "
                "positions in the file)"
            )
        chosen.append(tasks[position - 1])
    return chosen
