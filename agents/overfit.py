"""The overfit guard: does a program pass its visible tests by copying their expected values?

EG-CFG shows a small model the visible tests and what each candidate returned on them; the
model then sometimes writes a program that only *looks up* the answers: HumanEval/8
``if len(numbers) == 0: return (0, 1)`` followed by ``return (10, 24)`` (the docstring
example's output), MBPP 20 ``return n == 383`` (the one input whose expected value is
``True``). Such a program passes the visible tests and fails held-out ones, so a decoder that
accepts it stops searching too early and a report counts a pass that is not one.

:func:`find_overfit` reads the program's syntax tree (it never runs it) and the tests'
literal inputs and expected values, and reports each of four patterns with the line and the
test it copies:

- ``returns_expected``: a ``return`` (or ``print``, for stdin/stdout tests) of a literal
  equal to the expected output of a test, when the tests do not all expect that value;
- ``ignores_input``: a function that takes parameters and uses none of them (beyond
  emptiness checks such as ``if not xs:``) returning, as a literal, the expected output of the
  *only* readable test — MBPP 16 guided by its first assert, ``return 'Found a match!'``. One
  test cannot show that the answer is constant, so any value counts here (``True``, ``20``),
  ``None`` excepted;
- ``branch_on_input``: a condition (``if``/``elif``/``while``, a conditional expression, a
  returned comparison or ``match`` case) that compares a parameter (or the input read from
  stdin) with a test's literal input, whose branch then returns a literal, or whose
  comparison is itself the result (``return n == 383``);
- ``lookup_table``: a dict literal (or a list/tuple of pairs) mapping the tests' inputs to
  their expected outputs.

Only *distinctive* values count (see :func:`distinctive`): ``0``, ``1``, ``-1``, ``True``,
``None``, empty containers, one-character strings and the like are what correct programs
return in base cases (``if n == 0: return 1``, ``return []``), so they never trigger a
finding; nor do strings returned as labels (``'Found a match!'``), which several tests share
or which the program chooses by a real condition. The guard therefore errs on the side of
missing an overfit rather than rejecting a correct program: a finding is strong evidence, no
finding proves nothing.

Tests it can read: ``assert f(<literals>) == <literal>`` (either side; ``is`` too),
``assert f(<literals>)`` (expects ``True``), ``assert not f(<literals>)`` (``False``),
the same lines inside a HumanEval ``check(candidate)`` (calls of ``candidate``), and
stdin/stdout cases. Anything else (calls on computed arguments, approximate comparisons) is
skipped: it can only make the guard see less, never flag more.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from beadline.validators.executor import TestCase

__all__ = ["Example", "OverfitFinding", "distinctive", "examples_of", "find_overfit"]

FindingKind = Literal["returns_expected", "ignores_input", "branch_on_input", "lookup_table"]
"""The four patterns (see the module docstring)."""

_SMALL_INT = 10
"""Integers with ``abs(v) <= _SMALL_INT`` are base-case values, never distinctive."""
_COMMON_FLOATS = frozenset({0.0, 0.5, 1.0, -1.0, 2.0, 0.1, 0.01})
_MIN_DISTINCT_ITEMS = 3
"""A container of small values is distinctive from this many (differing) items on."""
_MIN_DISTINCT_CHARS = 2
"""A string (stdin line, test input) is distinctive from this many characters on."""
_CALL_WRAPPERS = frozenset({"tuple", "list", "set", "frozenset", "str", "int", "float", "sorted"})
"""Conversions a program may apply to a parameter before comparing it with a literal."""
_MISSING = object()


@dataclass(frozen=True, kw_only=True)
class Example:
    """One test read as data: a call on literal arguments and the value it must give."""

    test: str
    """The test's label (its source line, or ``stdio`` case name)."""
    args: tuple[Any, ...] = ()
    """The literal positional arguments (function tests)."""
    expected: Any = None
    """The expected return value, or the expected stdout (stdin/stdout tests)."""
    stdin: str | None = None
    """The standard input (stdin/stdout tests); ``None`` for function tests."""


@dataclass(frozen=True, kw_only=True)
class OverfitFinding:
    """One place where the program copies a test's expected value."""

    kind: FindingKind
    """Which pattern (see the module docstring)."""
    line: int
    """The program line (1-based)."""
    test: str
    """The test whose input or output is copied."""
    detail: str
    """What was copied, e.g. ``returns (10, 24), the expected output``."""

    @property
    def reason(self) -> str:
        """One line for a record or a report."""
        return f"line {self.line}: {self.detail} of test `{self.test}`"


# -------------------------------------------------------------------------- reading the tests


def _literal(node: ast.expr) -> Any:
    """The value of a literal expression, or ``_MISSING``."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


def _call_of(node: ast.expr, names: frozenset[str]) -> tuple[Any, ...] | None:
    """The literal arguments of a call of one of ``names``; ``None`` if it is not one."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id not in names or node.keywords:
        return None
    args = tuple(_literal(a) for a in node.args)
    return None if any(a is _MISSING for a in args) else args


def _assert_example(node: ast.Assert, names: frozenset[str], label: str) -> Example | None:
    test = node.test
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        args = _call_of(test.operand, names)
        return None if args is None else Example(test=label, args=args, expected=False)
    args = _call_of(test, names)
    if args is not None:
        return Example(test=label, args=args, expected=True)
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq | ast.Is)
    ):
        return None
    left, right = test.left, test.comparators[0]
    for call, other in ((left, right), (right, left)):
        args = _call_of(call, names)
        value = _literal(other)
        if args is not None and value is not _MISSING:
            return Example(test=label, args=args, expected=value)
    return None


def _asserts(source: str) -> Iterator[ast.Assert]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    yield from (n for n in ast.walk(tree) if isinstance(n, ast.Assert))


def examples_of(tests: Sequence[TestCase], entry_point: str) -> list[Example]:
    """The tests that can be read as literal data (see the module docstring).

    Example:
        >>> [e.expected for e in examples_of([TestCase.from_assert("assert f(2) == 4")], "f")]
        [4]
    """
    found: list[Example] = []
    for test in tests:
        if test.kind == "assert":
            for node in _asserts(test.source):
                ex = _assert_example(node, frozenset({entry_point}), test.name or test.source)
                if ex is not None:
                    found.append(ex)
        elif test.kind == "check":
            for node in _asserts(test.source):
                label = ast.unparse(node)
                ex = _assert_example(node, frozenset({"candidate", entry_point}), label)
                if ex is not None:
                    found.append(ex)
        elif test.kind == "stdio" and test.expected_stdout is not None:
            found.append(
                Example(
                    test=test.name or "stdio",
                    expected=_normal_output(test.expected_stdout),
                    stdin=test.stdin,
                )
            )
    return found


# -------------------------------------------------------------------------- distinctive values


def distinctive(value: Any) -> bool:
    """Whether ``value`` is specific enough that returning it as a literal copies a test.

    Not distinctive: ``None``, booleans, integers up to 10 in size, common floats
    (``0.5``, ``1.0`` …), strings of one character, empty containers, containers of
    non-distinctive items with fewer than three (differing) items. A string of several
    characters is distinctive; whether returning it is suspicious is decided elsewhere
    (labels such as ``'Yes'`` are shared by tests).

    Example:
        >>> [distinctive(v) for v in (1, (0, 1), 383, (10, 24), [1, 2, 3], "")]
        [False, False, True, True, True, False]
    """
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > _SMALL_INT
    if isinstance(value, float):
        return math.isfinite(value) and value not in _COMMON_FLOATS
    if isinstance(value, complex):
        return value != 0
    if isinstance(value, str | bytes):
        return len(value) >= _MIN_DISTINCT_CHARS
    if isinstance(value, dict):
        return distinctive(list(value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if any(distinctive(v) for v in items):
            return True
        return len(items) >= _MIN_DISTINCT_ITEMS and len({repr(v) for v in items}) > 1
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal values of compatible types (a list literal matches a tuple input)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _normal_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


# -------------------------------------------------------------------------- reading the program


def _target(tree: ast.Module, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            return node
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    return [p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]]


def _subject(node: ast.expr, names: set[str]) -> str | None:
    """The name compared, when ``node`` is a parameter or a conversion of one."""
    if isinstance(node, ast.Name) and node.id in names:
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _CALL_WRAPPERS
        and len(node.args) == 1
        and not node.keywords
    ):
        return _subject(node.args[0], names)
    if isinstance(node, ast.Tuple | ast.List) and node.elts:
        parts = [_subject(e, names) for e in node.elts]
        return ",".join(p for p in parts if p) if all(parts) else None
    return None


def _pins(test: ast.expr, names: set[str]) -> list[tuple[str, Any]]:
    """``(subject, literal)`` pairs a condition pins with ``==``/``is``/``in``."""
    out: list[tuple[str, Any]] = []
    for node in ast.walk(test):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, sides, sides[1:], strict=False):
            if isinstance(op, ast.Eq | ast.Is):
                for subj_node, lit_node in ((left, right), (right, left)):
                    subj, value = _subject(subj_node, names), _literal(lit_node)
                    if subj is not None and value is not _MISSING:
                        out.append((subj, value))
            elif isinstance(op, ast.In):
                subj, values = _subject(left, names), _literal(right)
                if subj is not None and isinstance(values, list | tuple | set | frozenset):
                    out.extend((subj, v) for v in values)
    return out


def _returned_literal(body: Sequence[ast.stmt]) -> tuple[Any, int] | None:
    """The literal a branch returns at once (its first statement), with its line."""
    if body and isinstance(body[0], ast.Return) and body[0].value is not None:
        value = _literal(body[0].value)
        if value is not _MISSING:
            return value, body[0].lineno
    return None


def _printed_literals(node: ast.AST) -> Iterator[tuple[str, int]]:
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        is_print = isinstance(func, ast.Name) and func.id == "print"
        is_write = isinstance(func, ast.Attribute) and func.attr == "write"
        if not (is_print or is_write) or not call.args:
            continue
        values = [_literal(a) for a in call.args]
        if any(v is _MISSING for v in values):
            continue
        sep = " " if is_print else ""
        yield _normal_output(sep.join(str(v) for v in values)), call.lineno


# -------------------------------------------------------------------------- the three patterns


def _arg_of(example: Example, params: list[str], subject: str) -> Any:
    """The argument of ``example`` bound to ``subject`` (``a,b`` = a tuple of several)."""
    names = subject.split(",")
    if not all(n in params for n in names):
        return _MISSING
    index = [params.index(n) for n in names]
    if any(i >= len(example.args) for i in index):
        return _MISSING
    values = tuple(example.args[i] for i in index)
    return values[0] if len(values) == 1 else values


def _pinned_example(
    pins: list[tuple[str, Any]], examples: list[Example], params: list[str]
) -> tuple[Example, Any] | None:
    """A test whose literal input the condition pins: one distinctive argument, or every
    argument of a call with several."""
    for ex in examples:
        matched = {
            subj: value
            for subj, value in pins
            if (arg := _arg_of(ex, params, subj)) is not _MISSING and _same(arg, value)
        }
        if not matched:
            continue
        covered = {n for subj in matched for n in subj.split(",")}
        values = list(matched.values())
        every_arg = len(ex.args) > 1 and covered >= set(params[: len(ex.args)])
        if any(distinctive(v) for v in values) or (
            every_arg and any(not _base_value(a) for a in ex.args)
        ):
            shown = values[0] if len(values) == 1 else tuple(values)
            return ex, shown
    return None


def _base_value(value: Any) -> bool:
    """``0``, ``1``, ``-1``, ``None``, a boolean or an empty container: base-case inputs."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int | float):
        return value in (0, 1, -1)
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


def _varying(examples: list[Example]) -> bool:
    """The tests expect more than one value (a constant function is no overfit)."""
    return len({repr(e.expected) for e in examples}) > 1


def _unique_expected(value: Any, examples: list[Example]) -> Example | None:
    """The one test expecting ``value``, when the tests' outputs vary and no other test
    expects it too (an output several tests share is a category, not a copied answer)."""
    if not distinctive(value) or not _varying(examples):
        return None
    matches = [e for e in examples if _same(e.expected, value)]
    return matches[0] if len(matches) == 1 else None


_EMPTY_LITERALS: tuple[Any, ...] = (0, None, False, "", (), [])
"""What a loose emptiness check compares with (``n == 0`` counts: a base case)."""


def _is_emptiness_check(node: ast.expr, names: set[str], *, strict: bool = False) -> bool:
    """``not p``, ``p``, ``len(p) == 0``, ``len(p) < 1``, ``p is None``, ``p == []`` …

    Loose (the default), any comparison of a parameter with ``0``, ``1`` or an empty value
    counts (``n <= 0``, ``n < 1``: base cases). ``strict`` keeps only what tests emptiness
    itself — ``==``/``!=``/``is``/``is not`` an empty value, ``len(p) < 1`` — since
    ``if n <= 0: return False`` / ``return True`` and ``if b == 0: return "Yes"`` (MBPP 840's
    reference) are real, if weak, uses of ``n`` and ``b``.
    """
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _is_emptiness_check(node.operand, names, strict=strict)
    if isinstance(node, ast.BoolOp):
        return all(_is_emptiness_check(v, names, strict=strict) for v in node.values)
    if _subject(node, names) is not None:
        return True
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
    ):
        return _subject(node.args[0], names) is not None
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right, op = node.left, node.comparators[0], node.ops[0]
        value = _literal(right)
        small = value is not _MISSING and (value in _EMPTY_LITERALS or value == 1)
        if strict:
            sized = isinstance(left, ast.Call) and _is_emptiness_check(left, names)
            equality = isinstance(op, ast.Eq | ast.NotEq | ast.Is | ast.IsNot)
            empty = value is not _MISSING and (value == 0 if sized else _is_empty(value))
            below_one = sized and isinstance(op, ast.Lt) and value == 1
            return ((equality and empty) or below_one) and _is_emptiness_check(left, names)
        return small and _is_emptiness_check(left, names)
    return False


_EMPTY_VALUES: tuple[Any, ...] = (None, "", (), [], {})
"""What a strict emptiness check compares a parameter with (no numbers: ``b == 0`` decides)."""


def _is_empty(value: Any) -> bool:
    """``None``, ``""``, ``()``, ``[]`` or ``{}`` (not ``0`` or ``False``: a number compared with
    0 is a condition on its value)."""
    return any(type(value) is type(e) and value == e for e in _EMPTY_VALUES)


def _uses_input(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str], *, strict: bool = False
) -> bool:
    """Whether the function uses a parameter beyond emptiness checks (``if not xs:``; see
    :func:`_is_emptiness_check` for ``strict``)."""
    checks: set[int] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.If | ast.IfExp | ast.While) and _is_emptiness_check(
            node.test, names, strict=strict
        ):
            checks.update(id(n) for n in ast.walk(node.test))
    return any(
        isinstance(node, ast.Name) and node.id in names and id(node) not in checks
        for node in ast.walk(fn)
    )


def _copied_return(
    value: Any, examples: list[Example], *, computes: bool, decides: bool
) -> Example | None:
    """The test whose expected output a returned literal copies, when that is suspicious:
    a distinctive container (a computed-looking answer such as ``(10, 24)``) always; a
    number only when the function computes nothing from its input beyond base-case checks
    (``computes``: ``if n == 0: return 0`` / ``return 109`` is flagged); a string only when no
    condition on the input chooses it (``decides``: strings chosen by a real condition are
    labels, ``if b == 0: return "Yes"`` / ``return "No"``, MBPP 840's reference). Numbers
    chosen by a real condition are domain constants (``return 28`` for February)."""
    if isinstance(value, list | tuple | dict | set | frozenset):
        return _unique_expected(value, examples)
    if computes or (decides and isinstance(value, str | bytes)):
        return None
    return _unique_expected(value, examples)


def _ignored_input_answer(value: Any, examples: list[Example]) -> Example | None:
    """The only readable test, when a function that ignores its input returns its expected
    output (``value``; ``None`` is what a function without a return gives, never flagged)."""
    if value is None or len(examples) != 1 or not _same(examples[0].expected, value):
        return None
    return examples[0]


def _function_findings(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, examples: list[Example]
) -> list[OverfitFinding]:
    params = _params(fn)
    names = set(params)
    found: list[OverfitFinding] = []
    calls = [e for e in examples if e.stdin is None]
    if not calls:
        return found
    computes = _uses_input(fn, names)
    decides = _uses_input(fn, names, strict=True)
    ignores = bool(params) and not decides
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and node.value is not None:
            for expr in _branches(node.value):
                value = _literal(expr)
                if value is _MISSING:
                    continue
                ex = _copied_return(value, calls, computes=computes, decides=decides)
                if ex is not None:
                    found.append(
                        OverfitFinding(
                            kind="returns_expected",
                            line=node.lineno,
                            test=ex.test,
                            detail=f"returns {value!r}, the expected output",
                        )
                    )
                elif ignores and (ex := _ignored_input_answer(value, calls)) is not None:
                    found.append(
                        OverfitFinding(
                            kind="ignores_input",
                            line=node.lineno,
                            test=ex.test,
                            detail=f"uses none of its parameters and returns {value!r}, "
                            "the expected output",
                        )
                    )
            if isinstance(node.value, ast.Compare | ast.BoolOp | ast.UnaryOp):
                hit = _pinned_example(_pins(node.value, names), calls, params)
                if hit is not None and isinstance(hit[0].expected, bool):
                    found.append(
                        OverfitFinding(
                            kind="branch_on_input",
                            line=node.lineno,
                            test=hit[0].test,
                            detail=f"returns a comparison with {hit[1]!r}, the input",
                        )
                    )
        elif isinstance(node, ast.If | ast.While | ast.IfExp):
            found.extend(_branch_findings(node, names, params, calls))
        elif isinstance(node, ast.Match):
            found.extend(_match_findings(node, names, params, calls))
    found.extend(_table_findings(fn, calls))
    return found


def _branches(expr: ast.expr) -> Iterator[ast.expr]:
    """The values a returned expression may take (both arms of ``a if c else b``)."""
    if isinstance(expr, ast.IfExp):
        yield from _branches(expr.body)
        yield from _branches(expr.orelse)
    else:
        yield expr


def _branch_findings(
    node: ast.If | ast.While | ast.IfExp,
    names: set[str],
    params: list[str],
    calls: list[Example],
) -> list[OverfitFinding]:
    hit = _pinned_example(_pins(node.test, names), calls, params)
    if hit is None:
        return []
    ex, value = hit
    if isinstance(node, ast.IfExp):
        returned = _literal(node.body)
    else:
        first = _returned_literal(node.body)
        returned = first[0] if first is not None else _MISSING
    if returned is _MISSING or not _same(returned, ex.expected):
        return []
    return [
        OverfitFinding(
            kind="branch_on_input",
            line=node.lineno,
            test=ex.test,
            detail=f"branches on {value!r}, the input, and returns a literal",
        )
    ]


def _match_findings(
    node: ast.Match, names: set[str], params: list[str], calls: list[Example]
) -> list[OverfitFinding]:
    subject = _subject(node.subject, names)
    if subject is None:
        return []
    found: list[OverfitFinding] = []
    for case in node.cases:
        if not isinstance(case.pattern, ast.MatchValue) or _returned_literal(case.body) is None:
            continue
        value = _literal(case.pattern.value)
        hit = _pinned_example([(subject, value)], calls, params)
        returned = _returned_literal(case.body)
        if (
            value is not _MISSING
            and hit is not None
            and returned is not None
            and _same(returned[0], hit[0].expected)
        ):
            found.append(
                OverfitFinding(
                    kind="branch_on_input",
                    line=case.pattern.lineno,
                    test=hit[0].test,
                    detail=f"matches {value!r}, the input, and returns a literal",
                )
            )
    return found


def _pairs(node: ast.expr) -> list[tuple[Any, Any]] | None:
    """The (key, value) entries of a dict literal or a list/tuple of literal pairs."""
    if isinstance(node, ast.Dict):
        keys = [_literal(k) if k is not None else _MISSING for k in node.keys]
        values = [_literal(v) for v in node.values]
        if _MISSING in keys or _MISSING in values:
            return None
        return list(zip(keys, values, strict=True))
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        out = []
        for elt in node.elts:
            pair = _literal(elt)
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                return None
            out.append((pair[0], pair[1]))
        return out
    return None


def _table_findings(scope: ast.AST, examples: list[Example]) -> list[OverfitFinding]:
    found: list[OverfitFinding] = []
    for node in ast.walk(scope):
        if not isinstance(node, ast.Dict | ast.List | ast.Tuple):
            continue
        pairs = _pairs(node)
        if not pairs:
            continue
        hits = [ex for ex in examples if any(_entry_is(ex, k, v) for k, v in pairs)]
        if not hits:
            continue
        strong = any(distinctive(ex.expected) or distinctive(_key_of(ex)) for ex in hits)
        if (len(hits) >= 2 and 2 * len(hits) >= len(pairs)) or (len(pairs) == 1 and strong):
            found.append(
                OverfitFinding(
                    kind="lookup_table",
                    line=node.lineno,
                    test=hits[0].test,
                    detail=f"a table maps {len(hits)} test input(s) to their expected outputs",
                )
            )
    return found


def _key_of(ex: Example) -> Any:
    if ex.stdin is not None:
        return ex.stdin.strip()
    return ex.args[0] if len(ex.args) == 1 else ex.args


def _entry_is(ex: Example, key: Any, value: Any) -> bool:
    want = ex.expected
    if ex.stdin is not None and not isinstance(value, str):
        value = str(value)
    if ex.stdin is not None:
        value = _normal_output(value)
    return _same(key, _key_of(ex)) and _same(value, want)


# -------------------------------------------------------------------------- stdin/stdout programs


def _stdio_findings(tree: ast.Module, examples: list[Example]) -> list[OverfitFinding]:
    cases = [e for e in examples if e.stdin is not None]
    if not cases:
        return []
    found: list[OverfitFinding] = []
    varying = _varying(cases)
    for text, line in _printed_literals(tree):
        matches = [e for e in cases if e.expected == text]
        if varying and len(matches) == 1 and _distinctive_output(text):
            found.append(
                OverfitFinding(
                    kind="returns_expected",
                    line=line,
                    test=matches[0].test,
                    detail=f"prints {text!r}, the expected output",
                )
            )
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.IfExp | ast.While):
            hit = _stdin_pinned(node, cases)
            if hit is not None:
                ex, value = hit
                found.append(
                    OverfitFinding(
                        kind="branch_on_input",
                        line=node.lineno,
                        test=ex.test,
                        detail=f"branches on {value!r}, the input",
                    )
                )
    found.extend(_table_findings(tree, cases))
    return found


def _stdin_pinned(
    node: ast.If | ast.IfExp | ast.While, cases: list[Example]
) -> tuple[Example, str] | None:
    """A test whose input the condition compares with: its whole standard input, or one of
    its lines when the branch then prints that test's expected output as a literal."""
    printed = {text for text, _ in _printed_literals(node)} if isinstance(node, ast.If) else set()
    for cmp in ast.walk(node.test):
        if not isinstance(cmp, ast.Compare):
            continue
        for part in [cmp.left, *cmp.comparators]:
            value = _literal(part)
            if not isinstance(value, str | int) or isinstance(value, bool):
                continue
            text = str(value).strip()
            if len(text) < _MIN_DISTINCT_CHARS or not distinctive(_number_or_text(text)):
                continue
            for ex in cases:
                whole = (ex.stdin or "").strip()
                lines = {line.strip() for line in whole.splitlines()}
                if text == whole or (text in lines and ex.expected in printed):
                    return ex, text
    return None


def _number_or_text(text: str) -> Any:
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        return stripped


def _distinctive_output(text: str) -> bool:
    """A printed text worth flagging: a number beyond the small ones, or several values."""
    words = text.split()
    if len(words) >= _MIN_DISTINCT_ITEMS:
        return True
    return any(distinctive(_number_or_text(w)) and w.lstrip("-").isdigit() for w in words)


# -------------------------------------------------------------------------- entry point


def find_overfit(
    program: str, *, entry_point: str | None, tests: Sequence[TestCase]
) -> tuple[OverfitFinding, ...]:
    """Where ``program`` copies the expected values of ``tests`` (empty: nothing found).

    Args:
        program: the program's source (imports, the function, helpers).
        entry_point: the function under test; ``None`` for a stdin/stdout program.
        tests: the tests the program was chosen on (the visible ones).

    Returns:
        The findings in source order, one per line and pattern. A program that does not
        parse, or tests that cannot be read as literals, give none.

    Example:
        >>> tests = [TestCase.from_assert(f"assert is_woodall({n}) == {n == 383}")
        ...          for n in (383, 254, 200)]
        >>> [f.reason for f in find_overfit("def is_woodall(n):\\n    return n == 383\\n",
        ...                                 entry_point="is_woodall", tests=tests)]
        ['line 2: returns a comparison with 383, the input of test `assert is_woodall(383) == True`']
    """
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return ()
    examples = examples_of(tests, entry_point or "")
    if not examples:
        return ()
    found: list[OverfitFinding] = []
    fn = _target(tree, entry_point) if entry_point else None
    if fn is not None:
        found.extend(_function_findings(fn, examples))
        # a table of the answers may sit at module level, next to the function
        outside = [n for n in tree.body if n is not fn]
        found.extend(_table_findings(ast.Module(body=outside, type_ignores=[]), examples))
    found.extend(_stdio_findings(tree, examples))
    unique: dict[tuple[str, int], OverfitFinding] = {}
    for f in found:
        unique.setdefault((f.kind, f.line), f)
    return tuple(sorted(unique.values(), key=lambda f: (f.line, f.kind)))
