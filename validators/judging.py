"""Host-side judging: the expected side of a test never enters the sandbox.

The harness runs inside the candidate's process, so whatever the child reports can be shaped
by the program under test: a returned object whose ``__eq__`` is always true, a rebound
``builtins.bool``, a result message the program writes itself before ``os._exit(0)``, or a
program that reads the expected value out of the harness's memory. None of that can decide a
test whose expected value the sandbox never saw. So before a request goes out, each test case
is *planned* (:func:`plan_test`, cached):

* ``assert A <op> <literal>`` (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``;
  ``is``/``is not`` with ``None``/``True``/``False``; the literal may be on either side, any
  value :func:`ast.literal_eval` reads) becomes a ``value`` case: the child evaluates ``A``
  under the tracer and sends the value as data (:mod:`.runtime.values`); the host rebuilds it
  and applies ``<op>`` with its own copy of the literal. A value that is not built-in data and
  whose type defines its own ``==`` fails such a test: its equality is the program's code.
* ``assert X`` / ``assert not X`` (``X`` not a comparison) becomes a ``value`` case whose
  truth the host takes from the data (an object's own ``__bool__``/``__len__`` is asked in the
  child only when the value is not data).
* A HumanEval ``check(candidate)``: each top-level assert of ``check`` of those shapes is
  replaced by a call that records the value (``__beadline_record__(i, A)``); the host judges
  the records in order and, when ``check`` returned, requires every one of them.
* A ``stdio`` case with an expected output is sent without it; the worker returns a digest of
  the (whitespace-normalised) output and the host compares digests.

Everything else (a comparison whose both sides are expressions, a boolean combination, a
``check`` with asserts in loops) runs as before and is decided by the harness in the child:
its result has ``judged_by == "sandbox"``. ``judged_by == "host"`` means the expected value
was hidden from the sandbox, so a program can pass only by producing it.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from beadline.validators.executor import TestCase
from beadline.validators.runtime.harnesses import RECORD_NAME
from beadline.validators.runtime.outcomes import stdout_digest
from beadline.validators.runtime.tracing import safe_repr
from beadline.validators.runtime.values import (
    MAX_CHARS,
    MAX_NODES,
    Decoded,
    Opaque,
    decode,
    truth_of,
)

__all__ = ["Assertion", "JudgedBy", "Plan", "judge_result", "plan_test"]

JudgedBy = Literal["host", "sandbox"]
"""Who decided a test's status: the host (the expected value never entered the sandbox), or
the harness inside the candidate's process."""

_OPS: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
}
_SINGLETONS = (None, True, False, ...)
_LITERAL_NODES = MAX_NODES // 2
_LITERAL_CHARS = MAX_CHARS // 2


@dataclass(frozen=True)
class Assertion:
    """One assertion the host judges."""

    source: str
    """The assert statement as written (for messages)."""
    op: str | None
    """The comparison (``==``, ``<``, ``not in``...), or ``None`` for a truth test."""
    compare: Callable[[Any, Any], Any] | None = None
    """The comparison's function, ``compare(left, right)``."""
    expected: Any = None
    """The literal (comparisons)."""
    swapped: bool = False
    """The literal is the left operand (``2 == f(1)``)."""
    negate: bool = False
    """Truth tests: ``assert not X``."""

    @property
    def hidden(self) -> bool:
        """The test's expected value is a literal the sandbox never sees."""
        return self.op is not None


@dataclass(frozen=True)
class Plan:
    """How one test case is sent to the worker and judged when its result comes back."""

    wire: Mapping[str, Any]
    """The test object of the worker's ``run`` message."""
    mode: Literal["sandbox", "value", "check", "stdio"]
    """``sandbox``: the child's status stands; otherwise the host judges."""
    judged_by: JudgedBy
    """What a result of this plan reports."""
    assertions: tuple[Assertion, ...] = ()
    """``value``: one; ``check``: the recorded asserts, in order."""
    expected_stdout: str | None = None
    """``stdio``: the expected output (kept on the host)."""
    expected_digest: str = ""
    """``stdio``: its digest."""


def _wire(test: TestCase, **changes: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "kind": test.kind,
        "source": test.source,
        "entry_point": test.entry_point,
        "stdin": test.stdin,
        "expected_stdout": test.expected_stdout,
    }
    wire.update(changes)
    return wire


def _small_literal(node: ast.expr) -> tuple[bool, Any]:
    """``(True, value)`` when ``node`` is a literal of bounded size."""
    chars = 0
    for nodes, child in enumerate(ast.walk(node), 1):
        if isinstance(child, ast.Constant) and isinstance(child.value, str | bytes):
            chars += len(child.value)
        if nodes > _LITERAL_NODES or chars > _LITERAL_CHARS:
            return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _assertion(node: ast.Assert, source: str) -> tuple[Assertion, ast.expr] | None:
    """The host-judged form of one assert statement and the expression the child evaluates,
    or ``None`` when the host cannot judge it."""
    test = node.test
    if isinstance(test, ast.Compare):
        if len(test.ops) != 1 or type(test.ops[0]) not in _OPS:
            return None
        name, compare = _OPS[type(test.ops[0])]
        left, right = test.left, test.comparators[0]
        right_ok, right_value = _small_literal(right)
        swapped = False
        value_node, expected = left, right_value
        if not right_ok:
            left_ok, left_value = _small_literal(left)
            if not left_ok:
                return None
            swapped, value_node, expected = True, right, left_value
        if name in ("is", "is not") and not any(expected is s for s in _SINGLETONS):
            return None
        return (
            Assertion(source=source, op=name, compare=compare, expected=expected, swapped=swapped),
            value_node,
        )
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return Assertion(source=source, op=None, negate=True), test.operand
    return Assertion(source=source, op=None), test


def _plan_assert(test: TestCase) -> Plan:
    try:
        tree = ast.parse(test.source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return Plan(wire=_wire(test), mode="sandbox", judged_by="sandbox")
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return Plan(wire=_wire(test), mode="sandbox", judged_by="sandbox")
    found = _assertion(tree.body[0], test.source.strip())
    if found is None:
        return Plan(wire=_wire(test), mode="sandbox", judged_by="sandbox")
    assertion, expression = found
    wire = _wire(test, kind="value", source=ast.unparse(expression))
    wire["truth"] = assertion.op is None
    return Plan(
        wire=wire,
        mode="value",
        judged_by="host" if assertion.hidden else "sandbox",
        assertions=(assertion,),
    )


class _Exits(ast.NodeVisitor):
    """Finds ``return``/``yield``/``await`` in a function body (not in nested scopes)."""

    found = False

    def visit_Return(self, node: ast.Return) -> None:
        self.found = True

    visit_Yield = visit_YieldFrom = visit_Await = visit_Return  # type: ignore[assignment]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None

    visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_FunctionDef  # type: ignore[assignment]


def _check_function(tree: ast.Module) -> ast.FunctionDef | None:
    """The module's one ``def check(...)`` when it can be hoisted from."""
    defs = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "check"]
    if len(defs) != 1 or defs[0].decorator_list:
        return None
    exits = _Exits()
    for statement in defs[0].body:
        exits.visit(statement)
    return None if exits.found else defs[0]


def _plan_check(test: TestCase) -> Plan:
    sandbox = Plan(wire=_wire(test), mode="sandbox", judged_by="sandbox")
    try:
        tree = ast.parse(test.source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return sandbox
    check = _check_function(tree)
    if check is None or not test.entry_point:
        return sandbox
    assertions: list[Assertion] = []
    body: list[ast.stmt] = []
    for statement in check.body:
        found = None
        if isinstance(statement, ast.Assert):
            shown = ast.get_source_segment(test.source, statement) or ast.unparse(statement)
            found = _assertion(statement, shown.strip())
        if found is None:
            body.append(statement)
            continue
        assertion, expression = found
        call = ast.Call(
            func=ast.Name(id=RECORD_NAME, ctx=ast.Load()),
            args=[ast.Constant(len(assertions)), expression, ast.Constant(assertion.op is None)],
            keywords=[],
        )
        body.append(ast.copy_location(ast.Expr(call), statement))
        assertions.append(assertion)
    if not assertions:
        return sandbox
    check.body = body
    ast.fix_missing_locations(tree)
    remaining = any(isinstance(node, ast.Assert) for node in ast.walk(tree))
    hidden = any(a.hidden for a in assertions)
    wire = _wire(test, source=ast.unparse(tree))
    wire["record"] = True
    return Plan(
        wire=wire,
        mode="check",
        judged_by="host" if hidden and not remaining else "sandbox",
        assertions=tuple(assertions),
    )


@functools.lru_cache(maxsize=4096)
def plan_test(test: TestCase) -> Plan:
    """How ``test`` is sent and judged (see the module docstring). Cached: the EG-CFG decoder
    sends the same tests with thousands of candidate programs."""
    if test.kind == "assert":
        return _plan_assert(test)
    if test.kind == "check":
        return _plan_check(test)
    if test.kind == "stdio" and test.expected_stdout is not None:
        return Plan(
            wire=_wire(test, expected_stdout=None),
            mode="stdio",
            judged_by="host",
            expected_stdout=test.expected_stdout,
            expected_digest=stdout_digest(test.expected_stdout),
        )
    return Plan(wire=_wire(test), mode="sandbox", judged_by="sandbox")


# -- judging ----------------------------------------------------------------------------------
def _error(message: str, judged_by: JudgedBy) -> dict[str, Any]:
    return {"status": "error", "exc_type": None, "message": message, "judged_by": judged_by}


def _shown(decoded: Decoded, child_repr: Any, limit: int) -> str:
    """How the value is shown: its own repr for data (rebuilt here), the child's otherwise."""
    if isinstance(decoded.value, Opaque) and isinstance(child_repr, str):
        return child_repr
    return safe_repr(decoded.value, limit)


def _judge_one(
    assertion: Assertion, decoded: Decoded, child_truth: Any, child_repr: Any, limit: int
) -> dict[str, Any]:
    """Status, message and reprs of one assertion on one returned value."""
    if decoded.uncheckable:
        return {
            "status": "failed",
            "exc_type": "AssertionError",
            "message": f"the value cannot be checked: {decoded.uncheckable}",
        }
    got = _shown(decoded, child_repr, limit)
    if assertion.op is None:
        truth = truth_of(decoded)
        if truth is None:
            truth = child_truth if isinstance(child_truth, bool) else None
        if truth is None:
            return {"status": "error", "exc_type": None, "message": "no truth value came back"}
        want = not assertion.negate
        if truth == want:
            return {"status": "passed", "message": "", "return_repr": got}
        what = "a true value" if want else "a false value"
        return {
            "status": "failed",
            "exc_type": "AssertionError",
            "message": f"expected {what}, got {got}",
            "return_repr": got,
        }
    return _compare(assertion, decoded, got, limit)


def _compare(assertion: Assertion, decoded: Decoded, got: str, limit: int) -> dict[str, Any]:
    expected = safe_repr(assertion.expected, limit)
    is_eq = assertion.op == "=="
    reprs: dict[str, Any] = {"return_repr": got, "expected_repr": expected if is_eq else None}
    custom = [o for o in decoded.opaque if o.custom_eq]
    if custom and assertion.op not in ("is", "is not"):
        what = (
            f"expected {expected}, got {got}" if is_eq else f"assertion failed: {assertion.source}"
        )
        return {
            "status": "failed",
            "exc_type": "AssertionError",
            "message": f"{what}: a {custom[0].type_name} is not a built-in value (its type defines "
            "its own ==), and a test's expected value is compared only with built-in values",
            **reprs,
        }
    assert assertion.compare is not None
    left, right = decoded.value, assertion.expected
    if assertion.swapped:
        left, right = right, left
    try:
        ok = bool(assertion.compare(left, right))
    except Exception as exc:  # what the test line itself would have raised (e.g. None < 1)
        return {
            "status": "error",
            "exc_type": type(exc).__name__,
            "message": f"{type(exc).__name__}: {exc}"[:400],
            **reprs,
        }
    if ok:
        return {"status": "passed", "message": "", **reprs}
    message = (
        f"expected {expected}, got {got}" if is_eq else f"assertion failed: {assertion.source}"
    )
    if isinstance(decoded.value, Opaque):
        message += f" (a {decoded.value.type_name} object, not a built-in value)"
    return {"status": "failed", "exc_type": "AssertionError", "message": message, **reprs}


def _judge_value(plan: Plan, item: Mapping[str, Any], limit: int) -> dict[str, Any]:
    if item.get("status") != "passed":
        return {"judged_by": plan.judged_by}  # the program raised or was stopped: as reported
    raw = item.get("value")
    if raw is None:
        return _error(
            "the sandbox returned no value for the test (the program ended the process or "
            "wrote the harness's result itself)",
            plan.judged_by,
        )
    try:
        decoded = decode(raw)
    except ValueError as exc:
        return _error(f"the sandbox returned a malformed value ({exc})", plan.judged_by)
    judged = _judge_one(
        plan.assertions[0], decoded, item.get("truth"), item.get("return_repr"), limit
    )
    return {"exc_type": None, "expected_repr": None, **judged, "judged_by": plan.judged_by}


def _judge_check(plan: Plan, item: Mapping[str, Any], limit: int) -> dict[str, Any]:
    records = item.get("records")
    if not isinstance(records, list):
        if item.get("status") != "passed":
            return {"judged_by": plan.judged_by}
        return _error("the check's values did not come back", plan.judged_by)
    for position, record in enumerate(records):
        if position >= len(plan.assertions):
            return _error("the check recorded more values than it has asserts", plan.judged_by)
        ok = isinstance(record, list) and len(record) == 3 and record[0] == position
        try:
            decoded = decode(record[1]) if ok else None
        except ValueError:
            decoded = None
        if decoded is None:
            return _error("the check's recorded values were tampered with", plan.judged_by)
        assertion = plan.assertions[position]
        judged = _judge_one(assertion, decoded, record[2], None, limit)
        if judged["status"] != "passed":
            detail = judged["message"]
            judged["message"] = f"check failed at `{assertion.source}`: {detail}"
            return {"exc_type": None, **judged, "judged_by": plan.judged_by}
    if item.get("status") != "passed":
        return {"judged_by": plan.judged_by}
    if len(records) != len(plan.assertions):
        return _error(
            f"the check returned after {len(records)} of its {len(plan.assertions)} asserts",
            plan.judged_by,
        )
    return {"status": "passed", "message": "", "exc_type": None, "judged_by": plan.judged_by}


def _judge_stdio(plan: Plan, item: Mapping[str, Any], limit: int) -> dict[str, Any]:
    if item.get("status") != "passed":
        return {"judged_by": plan.judged_by}
    digest = item.get("stdout_digest")
    if not isinstance(digest, str):
        return _error("the sandbox returned no digest of the output", plan.judged_by)
    if digest == plan.expected_digest:
        return {"status": "passed", "message": "", "judged_by": plan.judged_by}

    def short(text: str) -> str:
        shown = repr(text)
        return shown if len(shown) <= limit else shown[: limit - 3] + "..."

    want, got = short(plan.expected_stdout or ""), short(str(item.get("stdout", "")))
    return {
        "status": "failed",
        "exc_type": None,
        "message": f"expected stdout {want}, got {got}",
        "expected_repr": want,
        "return_repr": got,
        "judged_by": plan.judged_by,
    }


def judge_result(test: TestCase, item: Mapping[str, Any], *, repr_chars: int) -> dict[str, Any]:
    """The fields of a worker's result for ``test`` that the host decides.

    Args:
        test: The test case as the caller gave it (the host's copy, expected side included).
        item: The worker's result object for it.
        repr_chars: Characters kept of each shown value.

    Returns:
        The fields to use instead of the worker's (``status``, ``message``, ``exc_type``,
        ``return_repr``, ``expected_repr``, where decided here) and always ``judged_by``.
    """
    plan = plan_test(test)
    limit = max(int(repr_chars), 16)
    if plan.mode == "value":
        return _judge_value(plan, item, limit)
    if plan.mode == "check":
        return _judge_check(plan, item, limit)
    if plan.mode == "stdio":
        return _judge_stdio(plan, item, limit)
    return {"judged_by": "sandbox"}
