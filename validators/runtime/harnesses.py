"""Test harnesses: compile a request once in the worker, run one test case in a forked child.

:func:`prepare` runs in the worker before any fork (compiling is safe: nothing of the program
executes), so a syntax error costs no child and every child reuses the code objects.
:func:`run_case` runs in the child, after isolation, and returns the result dict the child sends
back. Test kinds:

- ``value``: ``source`` is an expression (the side of a test the host judges, e.g. ``f(1)`` of
  ``assert f(1) == 2``): it is evaluated under the tracer and the child returns the value as
  data (:func:`.values.encode`, plus its own ``bool()`` when asked with ``truth`` and the
  value's truth is its own). The child decides nothing: the host holds the expected side.
- ``assert``: one ``assert`` line. ``assert A == B``: ``A`` is evaluated under the tracer, then
  ``B`` untraced, then compared (``expected``/``actual`` reported). ``assert CALL`` and
  ``assert not CALL``: the call is traced, then its truth tested. Any other shape is executed
  whole under the tracer. (The host sends these only for tests it cannot judge itself.)
- ``check``: the test source defines ``check(candidate)`` (HumanEval); it is called, traced,
  with the program's ``entry_point``. With ``record``, the host has replaced the asserts it
  judges by calls ``__beadline_record__(i, value[, truth])``: the child collects the values as
  data and returns them in order as ``records``.
- ``stdio``: the program runs as ``__main__`` (traced) reading stdin; the worker compares stdout
  with ``expected_stdout`` when one is given, and always returns a digest of it.
- ``script``: the program runs as ``__main__`` (traced).

For ``assert``/``check`` the program's module-level code runs untraced (the trace shows the
test's calls into it), then the request's setup code, then the test; for ``stdio``/``script``
the setup code runs first and then the whole program, traced.

With a ``module`` field (:mod:`.modules`) the program is a module of a repository snapshot:
instead of executing it in a fresh namespace, the child imports it under its dotted name (its
package's ``__init__`` and siblings from the snapshot), and the tests see the module's names.
``script`` then imports the module (traced when tracing is on) and runs the setup code after;
``stdio`` runs it as ``python -m <module>`` does. The tracer records the target's lines and its
calls into the package one level deep (:class:`.tracing.Tracer`, module mode).
"""

from __future__ import annotations

import ast
import builtins
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Any

from .modules import ModuleInfo, import_target, parse_module, resolve, run_target_as_main
from .tracing import Tracer, exc_text, safe_repr
from .values import custom_equality, encode

__all__ = [
    "PROGRAM_FILE",
    "RECORD_NAME",
    "SETUP_FILE",
    "TEST_FILE",
    "Prepared",
    "PreparedCase",
    "prepare",
    "run_case",
]

PROGRAM_FILE = "<solution>"
"""``co_filename`` of the program under test (what the tracer follows)."""
TEST_FILE = "<test>"
"""``co_filename`` of test code (never traced)."""
SETUP_FILE = "<setup>"
"""``co_filename`` of setup code (never traced)."""

RECORD_NAME = "__beadline_record__"
"""The function a recording ``check`` calls for each assert the host judges."""

_MESSAGE_CHARS = 400
_MAX_RECORDS = 10_000

# The harness's own references, taken before any program runs: a program that rebinds
# ``builtins.bool`` (or ``isinstance``, ``exec``...) does not change what the harness calls.
_bool = bool
_exec = exec
_eval = eval
_callable = callable
_isinstance = isinstance
_MemoryError = MemoryError
_SystemExit = SystemExit
_AssertionError = AssertionError


@dataclass
class PreparedCase:
    """One test case, compiled."""

    kind: str
    """``value``, ``assert``, ``check``, ``stdio`` or ``script``."""
    shape: str = "whole"
    """``eq`` (``assert A == B``), ``call`` (``assert CALL``), ``not`` (``assert not CALL``),
    ``whole`` (anything else) for asserts; ``value``, ``check``, ``stdio``, ``script``
    otherwise."""
    left: CodeType | None = None
    """The traced expression (``value``/``eq``/``call``/``not``)."""
    right: CodeType | None = None
    """The expected expression (``eq``)."""
    whole: CodeType | None = None
    """The whole test (``whole``) or the check function's definitions (``check``)."""
    source: str = ""
    """The test's source."""
    entry_point: str | None = None
    """The function under test (``check``)."""
    stdin: str = ""
    """Standard input (``stdio``)."""
    expected_stdout: str | None = None
    """Expected output (``stdio``)."""
    truth: bool = False
    """``value``: also send the child's own ``bool()`` of a value whose truth is its own."""
    record: bool = False
    """``check``: the source records values for the host (:data:`RECORD_NAME`)."""
    error: dict[str, Any] | None = None
    """A ready result when the test itself does not compile."""


@dataclass
class Prepared:
    """A whole request, compiled."""

    source: str
    """The program source."""
    program: CodeType | None
    """The program's code object (``None`` when it does not compile)."""
    setup: CodeType | None
    """The setup code object, if any."""
    cases: list[PreparedCase]
    """The test cases, in order."""
    error: dict[str, Any] | None = None
    """A ready ``error`` result shared by every case when the program does not compile."""
    trace: bool = True
    """Whether to record traces."""
    trace_function: str | None = None
    """Trace only inside calls of this function."""
    limits: Mapping[str, Any] | None = None
    """The request's limits (``trace_events``, ``trace_chars``, ``repr_chars``, ``memory_mb``)."""
    module: ModuleInfo | None = None
    """Where the program lives in a repository snapshot (``None``: a standalone program)."""


def _syntax_result(exc: SyntaxError, what: str) -> dict[str, Any]:
    line = exc.lineno
    detail = exc.msg or "invalid syntax"
    where = f" (line {line})" if line else ""
    return {
        "status": "error",
        "exc_type": type(exc).__name__,
        "message": f"{what} does not compile: {type(exc).__name__}: {detail}{where}",
        "line": line if what == "the program" else None,
    }


def _compile_failure(exc: BaseException, what: str) -> dict[str, Any]:
    """The ready ``error`` result when ``what`` does not compile (the exception's text, capped;
    a program's or test's ``SyntaxError`` gets :func:`_syntax_result`, with its line)."""
    return {
        "status": "error",
        "exc_type": type(exc).__name__,
        "message": f"{what} does not compile: {exc_text(type(exc), exc, 200)}",
    }


def _expression(node: ast.expr) -> CodeType:
    return compile(ast.Expression(node), TEST_FILE, "eval", dont_inherit=True, optimize=0)


def _prepare_case(raw: Mapping[str, Any]) -> PreparedCase:
    kind = str(raw.get("kind", ""))
    source = str(raw.get("source", ""))
    case = PreparedCase(kind=kind, source=source, entry_point=raw.get("entry_point"))
    if kind == "stdio":
        case.shape = "stdio"
        case.stdin = str(raw.get("stdin", ""))
        expected = raw.get("expected_stdout")
        case.expected_stdout = None if expected is None else str(expected)
        return case
    if kind == "script":
        case.shape = "script"
        return case
    if kind == "value":
        case.shape = "value"
        case.truth = _bool(raw.get("truth"))
        try:
            case.left = compile(source, TEST_FILE, "eval", dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError) as exc:
            case.error = _compile_failure(exc, "the test")
        return case
    if kind not in ("assert", "check"):
        case.error = {"status": "error", "exc_type": None, "message": f"unknown test kind {kind!r}"}
        return case
    try:
        tree = ast.parse(source, TEST_FILE)
        if kind == "check":
            case.shape = "check"
            case.record = _bool(raw.get("record"))
            case.whole = compile(tree, TEST_FILE, "exec", dont_inherit=True, optimize=0)
            if not case.entry_point:
                case.error = {
                    "status": "error",
                    "exc_type": None,
                    "message": "a check test needs entry_point (the function to pass to check)",
                }
            return case
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Assert):
            test = tree.body[0].test
            if (
                isinstance(test, ast.Compare)
                and len(test.ops) == 1
                and isinstance(test.ops[0], ast.Eq)
            ):
                case.shape = "eq"
                case.left = _expression(test.left)
                case.right = _expression(test.comparators[0])
                return case
            if isinstance(test, ast.Call):
                case.shape = "call"
                case.left = _expression(test)
                return case
            if (
                isinstance(test, ast.UnaryOp)
                and isinstance(test.op, ast.Not)
                and isinstance(test.operand, ast.Call)
            ):
                case.shape = "not"
                case.left = _expression(test.operand)
                return case
        case.shape = "whole"
        # optimize=0: the asserts stay even in a worker started with -O or PYTHONOPTIMIZE
        case.whole = compile(tree, TEST_FILE, "exec", dont_inherit=True, optimize=0)
    except SyntaxError as exc:
        case.error = _syntax_result(exc, "the test")
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        case.error = _compile_failure(exc, "the test")
    return case


def prepare(request: Mapping[str, Any], *, site: Sequence[str] = ()) -> Prepared:
    """Compile a ``run`` request's program, setup and tests (in the worker, before forking).

    Args:
        request: The ``run`` request.
        site: Extra ``sys.path`` entries of module-mode runs (the worker's ``--site-path``).

    Raises:
        ValueError: the request's ``module`` field is malformed.
    """
    source = str(request.get("program", ""))
    prepared = Prepared(
        source=source,
        program=None,
        setup=None,
        cases=[_prepare_case(t) for t in request.get("tests", ())],
        trace=bool(request.get("trace", True)),
        trace_function=request.get("trace_function") or None,
        limits=request.get("limits") or {},
        module=parse_module(request.get("module"), site),
    )
    try:
        prepared.program = compile(source, PROGRAM_FILE, "exec", dont_inherit=True, optimize=0)
    except SyntaxError as exc:
        prepared.error = _syntax_result(exc, "the program")
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        prepared.error = _compile_failure(exc, "the program")
    setup = str(request.get("setup", "") or "")
    if setup.strip() and prepared.error is None:
        try:
            prepared.setup = compile(setup, SETUP_FILE, "exec", dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError) as exc:
            prepared.error = _compile_failure(exc, "the setup code")
    return prepared


# -- in the child ---------------------------------------------------------------------------
def _program_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _innermost_file(tb: TracebackType | None) -> tuple[str, int]:
    where = ("", 0)
    while tb is not None:
        where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


def _module(name: str) -> dict[str, Any]:
    module = types.ModuleType(name)
    namespace = module.__dict__
    namespace["__builtins__"] = builtins
    sys.modules[name] = module
    return namespace


def _package_location(tb: TracebackType | None, tree: str) -> str:
    """`` (at pkg/models.py line 3)`` when the innermost frame is in the package tree."""
    filename, lineno = _innermost_file(tb)
    if tree and filename.startswith(tree.rstrip("/") + "/"):
        return f" (at {filename[len(tree.rstrip('/')) + 1 :]} line {lineno})"
    return ""


def _exception_result(
    exc: BaseException, case: PreparedCase, limits: Mapping[str, Any], tree: str = ""
) -> dict[str, Any]:
    tb = exc.__traceback__
    line = _program_line(tb)
    text = exc_text(type(exc), exc, _MESSAGE_CHARS) + _package_location(tb, tree)
    if _isinstance(exc, _MemoryError):
        return {
            "status": "killed",
            "exc_type": "MemoryError",
            "message": f"memory limit of {limits.get('memory_mb', '?')} MiB exceeded (MemoryError)",
            "line": line,
        }
    if _isinstance(exc, _SystemExit):
        return {
            "status": "error",
            "exc_type": "SystemExit",
            "message": f"the program called sys.exit({getattr(exc, 'code', None)!r}) during the test",
            "line": line,
        }
    if _isinstance(exc, _AssertionError) and case.kind in ("assert", "check"):
        filename, lineno = _innermost_file(tb)
        if filename == TEST_FILE:
            if case.kind == "check":
                lines = case.source.splitlines()
                quoted = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
                detail = f": {text}" if str(exc) else ""
                message = f"check failed at `{quoted}`{detail}" if quoted else text
            else:
                message = f"assertion failed: {case.source.strip()[:_MESSAGE_CHARS]}"
            return {"status": "failed", "exc_type": "AssertionError", "message": message}
    return {"status": "error", "exc_type": type(exc).__name__, "message": text, "line": line}


def _run_main(prepared: Prepared, case: PreparedCase, tracer: Tracer | None) -> dict[str, Any]:
    assert prepared.program is not None
    info = prepared.module
    namespace = _module("__main__") if info is None else {}
    if prepared.setup is not None and info is None:
        _exec(prepared.setup, namespace)
    if tracer is not None:
        tracer.start()
    try:
        if info is None:
            _exec(prepared.program, namespace)
        elif case.kind == "stdio":
            run_target_as_main(info, prepared.program, prepared.source, PROGRAM_FILE)
        else:
            namespace = import_target(info, prepared.program, prepared.source, PROGRAM_FILE)
    except SystemExit as exc:
        if tracer is not None:
            tracer.stop()
        if exc.code not in (None, 0):
            return {
                "status": "error",
                "exc_type": "SystemExit",
                "message": f"the program exited with sys.exit({exc.code!r})",
                "line": _program_line(exc.__traceback__),
            }
    finally:
        if tracer is not None:
            tracer.stop()
    if info is not None and prepared.setup is not None and case.kind == "script":
        _exec(prepared.setup, namespace)
    return {"status": "passed", "message": ""}


def _namespace(prepared: Prepared) -> dict[str, Any]:
    """The program's namespace for ``assert``/``check`` tests: a fresh module it ran in, or the
    target module imported from the snapshot."""
    assert prepared.program is not None
    if prepared.module is not None:
        return import_target(prepared.module, prepared.program, prepared.source, PROGRAM_FILE)
    namespace = _module("__solution__")
    _exec(prepared.program, namespace)
    return namespace


def _traced_eval(code: CodeType, namespace: dict[str, Any], tracer: Tracer | None) -> Any:
    if tracer is not None:
        tracer.start()
    try:
        return _eval(code, namespace)
    finally:
        if tracer is not None:
            tracer.stop()


def _value_result(value: Any, want_truth: bool, limit: int) -> dict[str, Any]:
    """A ``value`` case's result: the value as data (the host judges it)."""
    encoded = encode(value)
    result: dict[str, Any] = {
        "status": "passed",
        "message": "",
        "value": encoded,
        "return_repr": safe_repr(value, limit),
    }
    if want_truth and encoded[0] == "o" and encoded[3] is None:
        result["truth"] = _bool(value)  # the value's own __bool__/__len__: may raise
    return result


def _recorder(records: list[list[Any]]) -> Any:
    """The :data:`RECORD_NAME` function of a recording ``check``."""

    def record(index: int, value: Any, truth: bool = False) -> None:
        if len(records) >= _MAX_RECORDS:
            raise RuntimeError(f"more than {_MAX_RECORDS} checked values")
        encoded = encode(value)
        own = _bool(value) if truth and encoded[0] == "o" and encoded[3] is None else None
        records.append([index, encoded, own])

    return record


def _run_check(
    prepared: Prepared,
    case: PreparedCase,
    namespace: dict[str, Any],
    tracer: Tracer | None,
    records: list[list[Any]],
) -> dict[str, Any]:
    assert case.whole is not None and case.entry_point
    if case.record:
        namespace[RECORD_NAME] = _recorder(records)
    _exec(case.whole, namespace)
    try:
        candidate = resolve(namespace, case.entry_point)
    except (KeyError, AttributeError):
        return {
            "status": "error",
            "exc_type": "NameError",
            "message": f"the program does not define the entry point {case.entry_point!r}",
        }
    check = namespace.get("check")
    if not _callable(check):
        return {
            "status": "error",
            "exc_type": None,
            "message": "the check test does not define a function check(candidate)",
        }
    if tracer is not None:
        tracer.start()
    try:
        check(candidate)
    finally:
        if tracer is not None:
            tracer.stop()
    return {"status": "passed", "message": ""}


def _run_test(
    prepared: Prepared, case: PreparedCase, tracer: Tracer | None, records: list[list[Any]]
) -> dict[str, Any]:
    limit = int((prepared.limits or {}).get("repr_chars", 80))
    namespace = _namespace(prepared)
    if prepared.setup is not None:
        _exec(prepared.setup, namespace)
    if case.shape == "check":
        return _run_check(prepared, case, namespace, tracer, records)
    if case.shape == "whole":
        assert case.whole is not None
        if tracer is not None:
            tracer.start()
        try:
            _exec(case.whole, namespace)
        finally:
            if tracer is not None:
                tracer.stop()
        return {"status": "passed", "message": ""}
    assert case.left is not None
    actual = _traced_eval(case.left, namespace, tracer)
    if case.shape == "value":
        return _value_result(actual, case.truth, limit)
    actual_repr = safe_repr(actual, limit)
    if case.shape == "eq":
        assert case.right is not None
        expected = _eval(case.right, namespace)
        expected_repr = safe_repr(expected, limit)
        liar = custom_equality(encode(actual)) if not custom_equality(encode(expected)) else ""
        if liar:  # data expected, an object with its own == returned: not trusted
            return {
                "status": "failed",
                "exc_type": "AssertionError",
                "return_repr": actual_repr,
                "expected_repr": expected_repr,
                "message": f"expected {expected_repr}, got {actual_repr}: a {liar} is not a "
                "built-in value (its type defines its own ==), and a test's expected value is "
                "compared only with built-in values",
            }
        ok = _bool(actual == expected)
        result: dict[str, Any] = {
            "status": "passed" if ok else "failed",
            "return_repr": actual_repr,
            "expected_repr": expected_repr,
            "message": "" if ok else f"expected {expected_repr}, got {actual_repr}",
        }
        if not ok:
            result["exc_type"] = "AssertionError"
        return result
    ok = _bool(actual) if case.shape == "call" else not actual
    result = {"status": "passed" if ok else "failed", "return_repr": actual_repr, "message": ""}
    if not ok:
        want = "a true value" if case.shape == "call" else "a false value"
        result["message"] = f"expected {want}, got {actual_repr}"
        result["exc_type"] = "AssertionError"
    return result


def run_case(prepared: Prepared, case: PreparedCase) -> dict[str, Any]:
    """Run one prepared test case in the current (child) process; never raises.

    Returns:
        The result dict: ``status``, ``exc_type``, ``message``, ``line``, ``return_repr``,
        ``expected_repr`` and ``trace`` (``{"events": [...], "truncated": bool}``); ``value``
        (and ``truth``) for a ``value`` case, ``records`` for a recording ``check``.
    """
    limits = prepared.limits or {}
    tracer: Tracer | None = None
    if prepared.trace:
        tracer = Tracer(
            PROGRAM_FILE,
            prepared.source,
            function=prepared.trace_function,
            max_events=int(limits.get("trace_events", 200)),
            max_chars=int(limits.get("trace_chars", 6000)),
            repr_chars=int(limits.get("repr_chars", 80)),
            package_dir=(prepared.module.tree or None) if prepared.module is not None else None,
        )
    records: list[list[Any]] = []
    try:
        if case.kind in ("stdio", "script"):
            result = _run_main(prepared, case, tracer)
        else:
            result = _run_test(prepared, case, tracer, records)
    except BaseException as exc:
        if tracer is not None:
            tracer.stop()
        tree = prepared.module.tree if prepared.module is not None else ""
        result = _exception_result(exc, case, limits, tree)
    if case.record:
        result["records"] = records
    if tracer is not None:
        result["trace"] = tracer.to_json()
    return result
