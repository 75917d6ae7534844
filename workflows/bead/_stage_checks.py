"""Checks and evidence routing of the bead graph's stages (private helpers of :mod:`.graph`).

* :func:`check_signature`: the signature compiles and defines exactly the target function;
* :func:`check_part_runs`: a body part must do something — some line of it other than a
  ``def``/``class`` header runs on at least one unit test (a chain of nested ``def`` headers, or
  a part no test reaches, is rejected and the verdict says why);
* :func:`blame_unit` / :func:`blame_output`: which stage a failed unit test or a failed command
  points to — the body part holding the failing line, the setup for import and name errors of
  modules, the signature for wrong arguments (when it was generated) — so the graph re-opens
  only that stage.

In a repository the checks run the whole module; ``to_program`` maps its line numbers back to
the assembled program's (:class:`~beadline.agents.splice.Spliced`).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Collection
from typing import Any

from beadline.validators.executor import Limits, RunResult
from beadline.validators.stages import StageVerdict, check_compiles
from beadline.workflows.bead.generation import (
    GeneratedStage,
    ProgramLayout,
    module_names_missing,
    normalize_part,
)
from beadline.workflows.bead.spec import Bead

__all__ = [
    "LineMap",
    "blame_output",
    "blame_unit",
    "check_part_runs",
    "check_signature",
    "clean_code",
    "command_limits",
    "header_offsets",
]

LineMap = Callable[[int | None], int | None]
"""Maps a line of what ran (the module) to a line of the assembled program."""


def _same(line: int | None) -> int | None:
    return line


def command_limits(timeout_s: float) -> Limits:
    """Limits of an integration command that may run ``timeout_s`` seconds."""
    return Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_mb=1024, output_bytes=65_536)


def clean_code(stage: str, generated: GeneratedStage) -> str:
    """A generated stage's code, normalised (body parts indented as in the function)."""
    if stage == "body":
        return normalize_part(generated.code)
    return generated.code.strip("\n").rstrip()


def check_signature(code: str, bead: Bead) -> StageVerdict:
    """The signature compiles and is exactly one ``def`` of the bead's function."""
    name = bead.target.name
    if not code.strip():
        return StageVerdict(
            stage="compiles",
            ok=False,
            summary="no signature was written",
            evidence=(f"write the `def {name}(...)` line",),
        )
    verdict = check_compiles(code.rstrip() + "\n    pass\n", filename="<signature>")
    if not verdict.ok:
        return verdict
    tree = ast.parse(code.rstrip() + "\n    pass\n")
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if names != [name] or len(tree.body) != 1:
        return StageVerdict(
            stage="compiles",
            ok=False,
            summary=f"the signature must be exactly one `def {name}(...)`",
            evidence=(f"got: {code.strip()[:200]}",),
        )
    return StageVerdict(stage="compiles", ok=True, summary="signature compiles")


_ARGUMENTS = re.compile(r"positional argument|unexpected keyword argument|required .*argument")


def header_offsets(part: str) -> set[int]:
    """0-based line offsets of a body part that are ``def``/``class`` headers or decorators
    (lines that run when the definition is made, not when it is used)."""
    try:
        tree = ast.parse(textwrap.dedent(part))
    except SyntaxError:
        return set()
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            body_start = node.body[0].lineno if node.body else node.lineno + 1
            found.update(range(first - 1, max(body_start - 1, node.lineno)))
    return found


def _does_something(node: ast.stmt) -> bool:
    """A definition whose body (when called) runs a statement other than more definitions,
    ``pass``, ``...`` or a docstring."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return not isinstance(node, ast.Pass) and not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
    return any(_does_something(child) for child in node.body)


def check_part_runs(
    run: RunResult | None,
    *,
    part: int,
    code: str,
    lines: Collection[int],
    target: str,
    final: bool = False,
) -> StageVerdict:
    """A body part must do something.

    A part of only ``pass``, ``...`` or a string literal does nothing and is rejected. While
    the function is being written (``final`` False) a part that is a nested definition
    cannot run yet: it must define something that does something when called (not a chain of
    nested ``def`` headers) and must not re-define the target. Any other part, and every part
    of the complete function (``final``), must run: a line of it other than a ``def``/``class``
    header runs on at least one test.

    Args:
        run: The smoke (or unit) run, with traces.
        part: The part's index (0-based).
        code: The part's code.
        lines: The part's line numbers in what ran.
        target: The target function's own name.
        final: The function is complete (the unit run of the integration stage).

    Returns:
        A ``smoke`` verdict; on failure the summary says why.
    """
    ordered = sorted(lines)
    shown = f"lines {ordered[0]}-{ordered[-1]}" if ordered else "its lines"
    try:
        nodes = ast.parse(textwrap.dedent(code)).body
    except SyntaxError:
        nodes = []
    definition = bool(nodes) and all(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for n in nodes
    )
    why = ""
    if definition and not final:
        names = [
            n.name
            for n in nodes
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        if target in names:
            why = (
                f"body part {part + 1} re-defines `{target}` inside itself ({shown}); write the "
                "function's body instead"
            )
        elif not all(_does_something(n) for n in nodes):
            why = (
                f"body part {part + 1} only defines {', '.join(names)}, whose body does nothing "
                f"but define more functions or `pass` ({shown}); write a statement that does "
                "something"
            )
    elif nodes and not any(_does_something(n) for n in nodes):
        why = (
            f"body part {part + 1} does nothing ({shown}: only `pass`, `...` or a string); "
            "write a statement that does something"
        )
    else:
        headers = {ordered[i] for i in header_offsets(code) if i < len(ordered)}
        body = set(ordered) - headers
        executed = {
            e.line
            for result in (run.results if run else ())
            for e in result.trace.events
            if e.kind == "line"
        }
        if not body & executed:
            what = "its definition is never used" if definition else "no test reaches it"
            why = (
                f"body part {part + 1} never runs on any test ({shown}): {what}; write code the "
                "tests reach (an earlier part may return before it)"
            )
    if not why:
        return StageVerdict(stage="smoke", ok=True, summary="the part runs on the tests")
    return StageVerdict(stage="smoke", ok=False, summary=why, evidence=(why, f"the part:\n{code}"))


def blame_unit(
    verdict: StageVerdict, layout: ProgramLayout, bead: Bead, *, to_program: LineMap = _same
) -> dict[str, Any]:
    """The stage a unit-test failure points to (line of the error, else the last line run)."""
    last_body = max((r.part for r in layout.regions if r.stage == "body"), default=0)
    run = verdict.run
    failing = [r for r in run.results if not r.passed] if run else []
    if not failing:
        return {"stage": "body", "part": last_body}
    first = failing[0]
    text = f"{first.exc_type}: {first.message}"
    if first.exc_type in ("ImportError", "ModuleNotFoundError") or module_names_missing([text]):
        return {"stage": "setup", "part": last_body}
    if (
        first.exc_type == "TypeError"
        and bead.target.name in first.message
        and _ARGUMENTS.search(first.message)
        and bead.target.signature is None
    ):
        return {"stage": "signature", "part": 0}
    line = to_program(first.line)
    if line is None:
        lines = [
            to_program(e.line)
            for e in first.trace.events
            if e.kind in ("line", "exception") and e.depth == 0
        ]
        known = [n for n in lines if n is not None]
        line = known[-1] if known else None
    region = layout.region_of(line) if line is not None else None
    if region is None or region.stage == "signature":
        return {"stage": "body", "part": last_body}
    return {"stage": region.stage, "part": region.part}


def blame_output(verdict: StageVerdict, layout: ProgramLayout, bead: Bead) -> dict[str, Any]:
    """The stage a failing command points to (import/name errors → setup, else the last part)."""
    last_body = max((r.part for r in layout.regions if r.stage == "body"), default=0)
    text = "\n".join(verdict.evidence)
    if re.search(r"ImportError|ModuleNotFoundError", text) or module_names_missing([text]):
        return {"stage": "setup", "part": last_body}
    if bead.target.signature is None and re.search(
        rf"{re.escape(bead.target.name)}\(\).*(positional argument|keyword argument)", text
    ):
        return {"stage": "signature", "part": 0}
    return {"stage": "body", "part": last_body}
