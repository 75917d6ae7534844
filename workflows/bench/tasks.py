"""Task files: one function to write, as YAML or JSON, for ``beadline solve``.

A task file is a mapping::

    description: Write a function to return the sum of a list of numbers.
    tests:                       # assert lines (at least one)
      - assert sum_list([1, 2, 3]) == 6
      - assert sum_list([]) == 0
    signature: "def sum_list(numbers):"   # optional: the model continues after it
    entry_point: sum_list                 # optional: inferred from the tests when absent
    held_out_tests: [...]                 # optional: run for the verdict only
    setup: "import math"                  # optional: run before each test, untraced
    task_id: sum-list                     # optional: defaults to the file name

Errors name the file, the key and the fix (:class:`~beadline.workflows.errors.UserError`).
"""

from __future__ import annotations

import ast
import builtins
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from beadline.agents.task import Task
from beadline.validators.executor import TestCase
from beadline.workflows.errors import UserError

__all__ = ["TASK_KEYS", "infer_entry_point", "load_task_file", "make_task"]

TASK_KEYS = (
    "description",
    "tests",
    "signature",
    "entry_point",
    "held_out_tests",
    "setup",
    "task_id",
    "prompt",
)
"""The keys a task file may have."""


def _parse_tests(lines: Sequence[str], where: str) -> tuple[TestCase, ...]:
    tests: list[TestCase] = []
    for i, line in enumerate(lines, start=1):
        if not isinstance(line, str) or not line.strip():
            raise UserError(f"{where}: test {i} must be a non-empty assert line, got {line!r}")
        text = line.strip()
        try:
            tree = ast.parse(text)
        except SyntaxError as exc:
            raise UserError(
                f"{where}: test {i} {text!r} is not valid Python ({exc.msg}); "
                "write it as one line like `assert f(1) == 2`"
            ) from None
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            raise UserError(
                f"{where}: test {i} {text!r} is not an assert statement; "
                "write it as one line like `assert f(1) == 2`"
            )
        tests.append(TestCase.from_assert(text))
    return tuple(tests)


def infer_entry_point(tests: Sequence[TestCase], signature: str | None = None) -> str | None:
    """The function the tests call most (a name that is not a builtin), or the signature's name.

    Example:
        >>> infer_entry_point([TestCase.from_assert("assert len(f(2)) == g(1)")])
        'f'
    """
    if signature:
        try:
            tree = ast.parse(signature.rstrip() + ("\n    pass\n" if ":" in signature else ""))
        except SyntaxError:
            tree = None
        if tree is not None:
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    return node.name
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for test in tests:
        try:
            tree = ast.parse(test.source)
        except SyntaxError:
            continue
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                name = call.func.id
                if name in dir(builtins):
                    continue
                counts[name] += 1
                first.setdefault(name, len(first))
    if not counts:
        return None
    return max(counts, key=lambda n: (counts[n], -first[n]))


def make_task(
    *,
    description: str,
    tests: Sequence[str],
    signature: str | None = None,
    entry_point: str | None = None,
    held_out_tests: Sequence[str] = (),
    setup: str = "",
    task_id: str = "task",
    prompt: str | None = None,
    where: str = "task",
) -> Task:
    """Build a :class:`Task` from plain values (the CLI's flags or a file's keys).

    Raises:
        UserError: an empty description, no tests, a test that is not an assert line, or an
            entry point that cannot be inferred or is not called by the tests.
    """
    if not isinstance(description, str) or not description.strip():
        raise UserError(f"{where}: 'description' must be a non-empty text")
    if isinstance(tests, str) or not isinstance(tests, Sequence) or not tests:
        raise UserError(f"{where}: 'tests' must be a non-empty list of assert lines, got {tests!r}")
    visible = _parse_tests(tests, f"{where}: tests")
    hidden = _parse_tests(held_out_tests, f"{where}: held_out_tests") if held_out_tests else ()
    name = entry_point or infer_entry_point(visible, signature)
    if name is None:
        raise UserError(
            f"{where}: cannot infer the function name: the tests call no function; "
            "give 'entry_point'"
        )
    if not name.isidentifier():
        raise UserError(f"{where}: entry_point {name!r} is not a Python identifier")
    called = {
        n.id for t in visible for n in ast.walk(ast.parse(t.source)) if isinstance(n, ast.Name)
    }
    if name not in called:
        raise UserError(
            f"{where}: the tests never call {name!r}; fix 'entry_point' or the tests "
            f"(they use: {', '.join(sorted(called)) or 'nothing'})"
        )
    if signature is not None and not signature.lstrip().startswith(("def ", "async def ")):
        raise UserError(f"{where}: 'signature' must be a def line, got {signature!r}")
    return Task(
        task_id=task_id,
        description=description.strip(),
        entry_point=name,
        tests=visible,
        held_out_tests=hidden,
        signature=signature,
        prompt=prompt,
        setup=setup,
    )


def _str_list(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise UserError(f"{where}: {key!r} must be a list of assert lines, got {value!r}")
    return value


def load_task_file(path: str | Path) -> Task:
    """Load a task from a YAML or JSON file (see the module docstring for the keys).

    Raises:
        UserError: the file is missing, is not YAML/JSON, is not a mapping, has unknown keys,
            or its values are invalid; the message names the file and the fix.
    """
    file = Path(path)
    where = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"task file {where!r} does not exist: check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read task file {where!r}: {exc}") from None
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if file.suffix == ".json" else "YAML"
        raise UserError(f"{where}: not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(
            f"{where}: a task file must be a mapping with keys description and tests, "
            f"got {type(data).__name__}"
        )
    unknown = sorted(set(data) - set(TASK_KEYS))
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(TASK_KEYS)}"
        )
    for key in ("description", "signature", "entry_point", "setup", "task_id", "prompt"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise UserError(f"{where}: {key!r} must be text, got {data[key]!r}")
    if "description" not in data:
        raise UserError(f"{where}: missing key 'description' (what the function must do)")
    if "tests" not in data:
        raise UserError(f"{where}: missing key 'tests' (a list of assert lines)")
    return make_task(
        description=data["description"],
        tests=_str_list(data, "tests", where),
        signature=data.get("signature"),
        entry_point=data.get("entry_point"),
        held_out_tests=_str_list(data, "held_out_tests", where),
        setup=data.get("setup") or "",
        task_id=data.get("task_id") or file.stem,
        prompt=data.get("prompt"),
        where=where,
    )
