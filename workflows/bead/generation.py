"""Stage generators: who writes each stage's code in the bead workflow.

The graph (:mod:`beadline.workflows.bead.graph`) asks a :class:`StageGenerator` for one stage at a
time — the signature, the setup (imports, constants), or the next body part — giving it the bead,
the code accepted so far and the evidence of the last failed attempt at that stage. Two
implementations:

* :class:`EgcfgGenerator`: the EG-CFG decoder (:func:`beadline.agents.decoding.decode`) with the
  accepted code as the prefix the model continues (``task.prompt``) and
  ``stop_after_blocks=1``, so each call writes one top-level statement block of the body;
* :class:`ScriptedGenerator`: replays fixed code per stage, for tests and demos.

Programs are assembled by :func:`assemble_program`, which also maps each line back to the stage
that wrote it (so a failing line can re-open exactly that stage).
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from beadline.agents.decoding import Decoded, decode
from beadline.agents.models.base import Model
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, Task
from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
)
from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import UserError

__all__ = [
    "EgcfgGenerator",
    "Emit",
    "Feedback",
    "GeneratedStage",
    "ProgramLayout",
    "Region",
    "ScriptedGenerator",
    "StageGenerator",
    "StageKind",
    "StageRequest",
    "assemble_program",
    "feedback_text",
    "first_new_block",
    "is_final_part",
    "module_names_missing",
    "normalize_part",
]

StageKind = Literal["signature", "setup", "body"]
"""The stages that produce code (``integration`` only validates)."""

Emit = Callable[[dict[str, Any]], None]
"""Receives progress events (``{"event": "candidates_executed", ...}``)."""

FEEDBACK_TEMPLATE = (
    "A previous attempt at the {where} was rejected: {summary}\n{evidence}{hint}"
    "Write the {where} again so that it passes."
)
"""How the evidence of a failed attempt is put in front of the model (appended to the task)."""


@dataclass(frozen=True, kw_only=True)
class Feedback:
    """What the last failed attempt at a stage taught (shown in the next prompt)."""

    stage: str
    """``signature``, ``setup``, ``body`` or ``integration`` — the stage that failed."""
    summary: str = ""
    """The validator's one line."""
    evidence: tuple[str, ...] = ()
    """Error, failing test with expected/actual, trace text, command output tail."""
    hint: str = ""
    """A reviewer's hint (review mode)."""
    code: str = ""
    """The rejected code."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (graph state)."""
        return {
            "stage": self.stage,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "hint": self.hint,
            "code": self.code,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Feedback | None:
        """Inverse of :meth:`to_json` (``None`` stays ``None``)."""
        if not data:
            return None
        return cls(
            stage=str(data.get("stage", "")),
            summary=str(data.get("summary", "")),
            evidence=tuple(str(e) for e in data.get("evidence", ())),
            hint=str(data.get("hint", "")),
            code=str(data.get("code", "")),
        )


@dataclass(frozen=True, kw_only=True)
class StageRequest:
    """One call for code: which stage, what is accepted so far, what went wrong last time."""

    bead: Bead
    """The bead."""
    stage: StageKind
    """The stage to write."""
    part: int = 0
    """Body part index (0-based; ``body`` only)."""
    signature: str = ""
    """The accepted signature (``def`` line and docstring), empty before it is accepted."""
    setup: str = ""
    """The accepted setup code."""
    parts: tuple[str, ...] = ()
    """The accepted body parts before ``part`` (indented as in the function)."""
    feedback: Feedback | None = None
    """The evidence of the last failed attempt at this stage, or a reviewer's hint."""
    attempt: int = 1
    """1 for the first attempt at this stage (and part)."""
    emit: Emit | None = field(default=None, compare=False)
    """Progress sink (e.g. candidates executed)."""

    @property
    def prefix(self) -> str:
        """The code the model continues: setup, signature and the accepted parts."""
        return assemble_program(self.setup, self.signature, self.parts).program


@dataclass(frozen=True, kw_only=True)
class GeneratedStage:
    """A generator's answer."""

    code: str
    """The stage's code: the ``def`` line (+ docstring), the setup, or one indented body part."""
    done: bool = False
    """``body``: the function is complete after this part (``code`` may then be empty)."""
    cost: Cost = field(default_factory=Cost)
    """What producing it cost."""
    record: dict[str, Any] | None = None
    """The decoder's record, when kept."""


@runtime_checkable
class StageGenerator(Protocol):
    """Writes the code of one stage at a time."""

    def generate(self, request: StageRequest) -> GeneratedStage:
        """Return the code for ``request.stage`` (see :class:`StageRequest`)."""
        ...


@dataclass(frozen=True, kw_only=True)
class Region:
    """Lines of an assembled program written by one stage."""

    stage: Literal["setup", "signature", "body"]
    """The stage."""
    part: int
    """Body part index (0 otherwise)."""
    first: int
    """First line (1-based)."""
    last: int
    """Last line (inclusive)."""


@dataclass(frozen=True, kw_only=True)
class ProgramLayout:
    """An assembled program and which stage wrote which lines."""

    program: str
    """The module text."""
    regions: tuple[Region, ...]
    """Line ranges per stage."""

    def region_of(self, line: int) -> Region | None:
        """The region holding ``line``, if any."""
        for region in self.regions:
            if region.first <= line <= region.last:
                return region
        return None


def normalize_part(code: str) -> str:
    """A body part indented as a function body (4 spaces), without trailing blank lines."""
    text = textwrap.dedent(code.replace("\t", "    ")).strip("\n")
    if not text.strip():
        return ""
    return textwrap.indent(text, "    ")


def assemble_program(
    setup: str, signature: str, parts: Sequence[str], *, complete: bool = True
) -> ProgramLayout:
    """Join the stages into one module.

    Args:
        setup: Module-level code.
        signature: The ``def`` line with its docstring (may be empty).
        parts: Indented body parts.
        complete: Add ``pass`` when the function has no statement yet, so the module parses.

    Returns:
        The program and the line ranges of each stage.
    """
    lines: list[str] = []
    regions: list[Region] = []

    def add(stage: Literal["setup", "signature", "body"], part: int, text: str) -> None:
        chunk = text.rstrip("\n").splitlines()
        if not chunk:
            return
        first = len(lines) + 1
        lines.extend(chunk)
        regions.append(Region(stage=stage, part=part, first=first, last=len(lines)))

    if setup.strip():
        add("setup", 0, setup.strip("\n"))
        lines.extend(["", ""])
    if signature.strip():
        add("signature", 0, signature.strip("\n"))
        for i, part in enumerate(parts):
            add("body", i, normalize_part(part))
        if complete and not _has_statement(signature, parts):
            lines.append("    pass")
    return ProgramLayout(program="\n".join(lines) + "\n" if lines else "", regions=tuple(regions))


def _has_statement(signature: str, parts: Sequence[str]) -> bool:
    if any(p.strip() for p in parts):
        return True
    try:
        module = ast.parse(signature.strip() + "\n")
    except SyntaxError:
        return False
    return bool(module.body) and isinstance(module.body[-1], ast.FunctionDef)


def is_final_part(part: str) -> bool:
    """True when the part ends the function: a top-level ``return`` or ``raise``."""
    try:
        module = ast.parse(textwrap.dedent(part))
    except SyntaxError:
        return False
    return bool(module.body) and isinstance(module.body[-1], ast.Return | ast.Raise)


def feedback_text(feedback: Feedback | None, *, where: str) -> str:
    """The feedback block the next prompt carries (empty when there is none)."""
    if feedback is None:
        return ""
    evidence = "\n".join(feedback.evidence)
    if len(evidence) > 1_500:
        evidence = evidence[:1_500] + "\n(...)"
    return FEEDBACK_TEMPLATE.format(
        where=where,
        summary=feedback.summary or "(no summary)",
        evidence=(evidence + "\n") if evidence else "",
        hint=f"Reviewer's hint: {feedback.hint}\n" if feedback.hint else "",
    )


_NAME_ERROR = re.compile(r"name '([A-Za-z_][A-Za-z0-9_]*)' is not defined")


def module_names_missing(evidence: Sequence[str]) -> list[str]:
    """Standard-library modules the evidence says are used but not imported (``NameError``)."""
    found: list[str] = []
    for text in evidence:
        for name in _NAME_ERROR.findall(text):
            if name in sys.stdlib_module_names and name not in found:
                found.append(name)
    return found


def first_new_block(prefix: str, program: str, entry_point: str) -> tuple[str, bool]:
    """The first top-level body statement of ``entry_point`` in ``program`` beyond ``prefix``.

    Args:
        prefix: The code that was given (setup, signature, accepted parts).
        program: What the decoder produced (with or without the prefix in front).
        entry_point: The function's name.

    Returns:
        ``(part, ended)``: the new statement block, indented as a body part (empty when there
        is none), and whether the function ended there (no further statement followed or the
        program holds nothing new).
    """
    text = program if program.startswith(prefix.rstrip("\n")) else prefix + program
    tree = _longest_parse(text)
    if tree is None:
        return "", True
    fn = _find_function(tree, entry_point)
    if fn is None:
        return "", True
    base = _longest_parse(prefix)
    base_fn = _find_function(base, entry_point) if base is not None else None
    before = len(base_fn.body) if base_fn is not None else 0
    body = fn.body
    if len(body) <= before:
        return "", True
    stmt = body[before]
    lines = text.splitlines()
    start = stmt.lineno
    if (
        isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and stmt.decorator_list
    ):
        start = min(d.lineno for d in stmt.decorator_list)
    block = "\n".join(lines[start - 1 : (stmt.end_lineno or stmt.lineno)])
    return normalize_part(block), len(body) == before + 1


def _longest_parse(text: str) -> ast.Module | None:
    lines = text.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]) + "\n")
        except SyntaxError:
            continue
    return None


def _find_function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _signature_of(program: str, entry_point: str) -> str:
    """The ``def`` header (and docstring) of ``entry_point`` in ``program``; empty if absent."""
    tree = _longest_parse(program)
    if tree is None:
        return ""
    fn = _find_function(tree, entry_point)
    if fn is None:
        return ""
    lines = program.splitlines()
    first_stmt = fn.body[0]
    end = first_stmt.lineno - 1
    if (
        isinstance(first_stmt, ast.Expr)
        and isinstance(first_stmt.value, ast.Constant)
        and isinstance(first_stmt.value.value, str)
    ):
        end = first_stmt.end_lineno or first_stmt.lineno
    start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    return "\n".join(lines[start - 1 : end]).rstrip()


def _setup_of(program: str) -> str:
    """Module-level imports and UPPER_CASE constants of ``program``."""
    tree = _longest_parse(program)
    if tree is None:
        return ""
    lines = program.splitlines()
    keep: list[str] = []
    for node in tree.body:
        constant = isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id.isupper() for t in node.targets
        )
        if isinstance(node, ast.Import | ast.ImportFrom) or constant:
            keep.extend(lines[node.lineno - 1 : node.end_lineno or node.lineno])
    return "\n".join(keep)


ScriptEntry = str | GeneratedStage
"""One scripted answer: code, or a full :class:`GeneratedStage`."""


class ScriptedGenerator:
    """Replays fixed code per stage; records every request.

    ``script`` maps a stage key — ``"signature"``, ``"setup"``, ``"body[0]"``, ``"body[1]"`` … —
    to the answers of successive attempts; the last answer repeats once the list runs out. A
    missing ``setup`` is empty; a missing signature falls back to the bead's given one; a missing
    ``body[i]`` means the function is complete (empty part, ``done``). A part ending in
    ``return``/``raise`` also completes the function.

    Example:
        >>> gen = ScriptedGenerator({"body[0]": ["return x + 1"]})
    """

    __test__: ClassVar[bool] = False

    def __init__(
        self,
        script: Mapping[str, Sequence[ScriptEntry] | ScriptEntry] | None = None,
        *,
        fn: Callable[[StageRequest], ScriptEntry] | None = None,
    ) -> None:
        self.script: dict[str, list[ScriptEntry]] = {
            k: [v] if isinstance(v, str | GeneratedStage) else list(v)
            for k, v in (script or {}).items()
        }
        self.fn = fn
        self.calls: list[StageRequest] = []
        """Every request, in order."""
        self._used: dict[str, int] = {}

    @staticmethod
    def key(request: StageRequest) -> str:
        """The script key of a request."""
        return f"body[{request.part}]" if request.stage == "body" else request.stage

    def generate(self, request: StageRequest) -> GeneratedStage:
        """The next scripted answer for the request's stage."""
        self.calls.append(request)
        if self.fn is not None:
            return _as_stage(self.fn(request))
        key = self.key(request)
        answers = self.script.get(key)
        if not answers:
            if request.stage == "setup":
                return GeneratedStage(code=request.bead.target.setup or "")
            if request.stage == "signature":
                if request.bead.target.signature is None:
                    raise UserError("ScriptedGenerator: no scripted signature and none given")
                return GeneratedStage(code=request.bead.target.signature)
            return GeneratedStage(code="", done=True)
        index = self._used.get(key, 0)
        self._used[key] = index + 1
        return _as_stage(answers[min(index, len(answers) - 1)])


def _as_stage(entry: ScriptEntry) -> GeneratedStage:
    return entry if isinstance(entry, GeneratedStage) else GeneratedStage(code=entry)


class _ObservedExecutor(Executor):
    """Passes runs through to an executor and reports each to ``emit``."""

    name: ClassVar[str] = "observed"

    def __init__(self, inner: Executor, emit: Emit | None, label: Mapping[str, Any]) -> None:
        self.inner = inner
        self.emit = emit
        self.label = dict(label)
        self.programs = 0

    def run(self, request: RunRequest) -> RunResult:
        result = self.inner.run(request)
        self.programs += 1
        if self.emit is not None:
            self.emit(
                {
                    "event": "candidates_executed",
                    **self.label,
                    "programs": self.programs,
                    "tests": len(request.tests),
                    "passed": result.n_passed,
                }
            )
        return result

    def run_many(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        return [self.run(r) for r in requests]

    def run_command(self, request: CommandRequest) -> CommandResult:
        return self.inner.run_command(request)


class EgcfgGenerator:
    """Writes stages with the EG-CFG decoder (:func:`beadline.agents.decoding.decode`).

    * ``signature``: the bead's given signature; otherwise a short generation whose ``def``
      header (and docstring) is kept.
    * ``setup``: the bead's given setup; otherwise the imports and constants the model wrote in
      front of the function in that generation, plus ``import X`` for every standard-library
      module a failed attempt's evidence names as undefined.
    * ``body`` part *i*: the decoder continues the accepted prefix (``task.prompt``) with
      ``stop_after_blocks=1``; the first new top-level statement block is the part. The evidence
      of the last failed attempt (and a reviewer's hint) is appended to the task description,
      and each retry uses another seed (and temperature 0.7 when the settings are greedy).
    * Fallback (``free_fallback``): a small chat model may still close the code block at once
      instead of continuing the prefix (it did so routinely while the chat prompt showed the
      prefix as a closed block in the user message; now the prefix is the answer's prefill and
      the example beads need no fallback). When the prefix yields no new statement, the decoder
      writes the whole function itself (still execution-guided, on the same tests) and part *i*
      is that function's *i*-th body statement, its parameters renamed to the signature's. The
      function is kept and handed out part by part while the accepted parts match it.

    Args:
        model: A :class:`~beadline.agents.models.base.Model`.
        executor: The sandbox the decoder runs candidates in.
        settings: Decoder settings (the decoder's defaults when ``None``).
        free_fallback: Use the fallback above.
    """

    def __init__(
        self,
        model: Model,
        executor: Executor,
        settings: DecoderSettings | None = None,
        *,
        free_fallback: bool = True,
    ) -> None:
        self.model = model
        self.executor = executor
        self.settings = settings or DecoderSettings()
        self.free_fallback = free_fallback
        self._last_program: dict[str, str] = {}
        self._free: dict[str, list[str]] = {}

    def _decode(
        self, task: Task, request: StageRequest, *, stop_after_blocks: int | None
    ) -> Decoded:
        settings = self.settings
        updates: dict[str, Any] = {"stop_after_blocks": stop_after_blocks}
        if request.attempt > 1:
            updates["seed"] = (settings.seed or 0) + request.attempt - 1
            if settings.temperature == 0.0:
                updates["temperature"] = 0.7
        settings = settings.model_copy(update=updates)
        label = {"stage": request.stage, "part": request.part, "attempt": request.attempt}
        observed = _ObservedExecutor(self.executor, request.emit, label)
        return decode(task, self.model, observed, settings)

    def _task(self, request: StageRequest, *, prompt: str | None, where: str) -> Task:
        bead = request.bead
        description = bead.description
        extra = feedback_text(request.feedback, where=where)
        if extra:
            description += "\n\n" + extra
        return Task(
            task_id=f"bead/{bead.id}/{where.replace(' ', '-')}",
            description=description,
            entry_point=bead.target.function,
            tests=bead.unit_tests(),
            prompt=prompt,
        )

    def generate(self, request: StageRequest) -> GeneratedStage:
        """Write the requested stage (see the class docstring)."""
        bead = request.bead
        if request.stage == "signature":
            if bead.target.signature is not None and request.feedback is None:
                return GeneratedStage(code=bead.target.signature.strip("\n"))
            started = time.monotonic()
            decoded = self._decode(
                self._task(request, prompt=None, where="signature"), request, stop_after_blocks=1
            )
            self._last_program[bead.id] = decoded.program
            return GeneratedStage(
                code=_signature_of(decoded.program, bead.target.function),
                cost=_cost(decoded, started),
                record=_record(decoded),
            )
        if request.stage == "setup":
            setup = bead.target.setup
            if setup is None:
                setup = _setup_of(self._last_program.get(bead.id, ""))
            missing = module_names_missing(request.feedback.evidence if request.feedback else ())
            lines = [line for line in setup.splitlines() if line.strip()]
            lines += [f"import {m}" for m in missing if f"import {m}" not in lines]
            return GeneratedStage(code="\n".join(lines))
        return self._body_part(request)

    def _body_part(self, request: StageRequest) -> GeneratedStage:
        bead = request.bead
        started = time.monotonic()
        cached = self._from_free(request)
        if cached is not None:
            return cached
        prefix = assemble_program(request.setup, request.signature, request.parts, complete=False)
        where = f"body part {request.part + 1}"
        decoded = self._decode(
            self._task(request, prompt=prefix.program, where=where), request, stop_after_blocks=1
        )
        part, _last = first_new_block(prefix.program, decoded.program, bead.target.function)
        cost = _cost(decoded, started)
        if part or not self.free_fallback:
            return GeneratedStage(
                code=part, done=not part or is_final_part(part), cost=cost, record=_record(decoded)
            )
        started = time.monotonic()
        free = self._decode(
            self._task(request, prompt=None, where=where), request, stop_after_blocks=None
        )
        cost = cost + _cost(free, started)
        statements = _statements_renamed(free.program, bead.target.function, request.signature)
        self._free[bead.id] = statements
        return _pick(statements, request.parts, cost=cost, record=_record(free))

    def _from_free(self, request: StageRequest) -> GeneratedStage | None:
        """The next statement of the function written in free mode, while it still fits."""
        statements = self._free.get(request.bead.id)
        if not statements or request.feedback is not None or request.attempt > 1:
            return None
        if [_norm(p) for p in request.parts] != [
            _norm(s) for s in statements[: len(request.parts)]
        ]:
            return None
        return _pick(statements, request.parts, cost=Cost(), record=None)


def _pick(
    statements: Sequence[str], parts: Sequence[str], *, cost: Cost, record: dict[str, Any] | None
) -> GeneratedStage:
    index = len(parts)
    if index >= len(statements):
        return GeneratedStage(code="", done=True, cost=cost, record=record)
    part = statements[index]
    done = index == len(statements) - 1 or is_final_part(part)
    return GeneratedStage(code=part, done=done, cost=cost, record=record)


def _norm(part: str) -> str:
    try:
        return ast.dump(ast.parse(textwrap.dedent(part)))
    except SyntaxError:
        return part.strip()


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(id=self.mapping[node.id], ctx=node.ctx), node)
        return node


def _statements_renamed(program: str, entry_point: str, signature: str) -> list[str]:
    """The body statements of ``entry_point`` in ``program`` (docstring skipped), as indented
    parts, with its positional parameters renamed to those of ``signature``."""
    tree = _longest_parse(program)
    fn = _find_function(tree, entry_point) if tree is not None else None
    if fn is None:
        return []
    mapping: dict[str, str] = {}
    ours = _longest_parse(signature.strip() + "\n    pass\n")
    our_fn = _find_function(ours, entry_point) if ours is not None else None
    if our_fn is not None:
        for theirs, mine in zip(fn.args.args, our_fn.args.args, strict=False):
            if theirs.arg != mine.arg:
                mapping[theirs.arg] = mine.arg
    body = list(fn.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    lines = program.splitlines()
    out: list[str] = []
    for stmt in body:
        if mapping:
            text = ast.unparse(_Rename(mapping).visit(stmt))
        else:
            text = "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno or stmt.lineno])
        out.append(normalize_part(text))
    return out


def _cost(decoded: Decoded, started: float) -> Cost:
    cost = decoded.cost
    return cost if cost.seconds else replace(cost, seconds=time.monotonic() - started)


def _record(decoded: Decoded) -> dict[str, Any] | None:
    value = decoded.record.to_json()
    return value if isinstance(value, dict) else None
