"""Validating one stage of a bead: what runs, where, and which stage a failure points to.

:class:`StageValidator` is what the graph's stage nodes call. With a repository
(:class:`~beadline.workflows.bead.in_repo.RepoTarget`) every check runs the **whole target
module** with the target replaced by the code so far, imported as part of its package from the
repository's snapshot; without one, the function runs alone (a bead given inline).

* ``signature``: it compiles and defines the target (:func:`._stage_checks.check_signature`);
* ``setup``: the module with the setup merged in (by bound name) imports;
* ``body`` part *i*: the partial function runs on the unit tests without crashing (smoke), and
  the part does something (:func:`._stage_checks.check_part_runs`);
* ``integration``: the unit tests pass and every part ran; the bead's pytest file passes; the
  integration command shows no *new* failing test (:mod:`.integration`). Its record carries the
  module text that passed: that text, byte for byte, is what is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from beadline.agents.splice import Spliced, SpliceError
from beadline.validators.executor import Executor
from beadline.validators.stages import (
    StageVerdict,
    check_imports,
    check_integration,
    check_smoke,
    check_unit,
)
from beadline.workflows.bead._stage_checks import (
    LineMap,
    blame_output,
    blame_unit,
    check_part_runs,
    check_signature,
    command_limits,
)
from beadline.workflows.bead.generation import (
    ProgramLayout,
    assemble_program,
    imports_missing,
)
from beadline.workflows.bead.in_repo import RepoTarget
from beadline.workflows.bead.integration import judge_integration, junit_command
from beadline.workflows.bead.spec import Bead

__all__ = ["StageInputs", "StageValidator", "verdict_json"]


def verdict_json(verdict: StageVerdict) -> dict[str, Any]:
    """A verdict as JSON for the state and the report."""
    return {
        "validator": verdict.stage,
        "ok": verdict.ok,
        "summary": verdict.summary,
        "evidence": list(verdict.evidence),
    }


@dataclass(frozen=True, kw_only=True)
class StageInputs:
    """What a validation needs from the graph's state."""

    bead: Bead
    """The bead (with the signature it builds on)."""
    target: RepoTarget | None
    """The target module in its repository; ``None``: the function runs alone."""
    setup: str = ""
    """The accepted setup."""
    signature: str = ""
    """The accepted signature."""
    parts: tuple[str, ...] = ()
    """The accepted body parts."""
    baseline: Mapping[str, Any] | None = None
    """The integration command on the unchanged repository (see :mod:`.integration`)."""


class StageValidator:
    """Runs the checks of each stage in one executor (see the module docstring)."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def module(self, inputs: StageInputs, layout: ProgramLayout) -> tuple[str, Spliced | None]:
        """The text that runs: the whole module (and its line map) or the program alone.

        Raises:
            SpliceError: the program cannot be put into the module.
        """
        if inputs.target is None:
            return layout.program, None
        spliced = inputs.target.splice(layout.program)
        return spliced.text, spliced

    def validate(
        self, inputs: StageInputs, stage: str, part: int, code: str, done: bool
    ) -> dict[str, Any]:
        """Validate one stage's code; a record with ``ok``, verdicts and the retry target."""
        bead = inputs.bead
        retry = {"stage": stage, "part": part}
        extra: dict[str, Any] = {}
        verdicts: list[StageVerdict] = []
        if stage == "signature":
            verdicts.append(check_signature(code, bead))
        elif stage == "setup":
            verdicts.append(self.setup(inputs, code))
        elif stage == "body":
            verdicts, retry = self.body(inputs, part, code)
        else:
            verdicts, retry, extra = self.integrate(inputs)
        ok = all(v.ok for v in verdicts)
        last = verdicts[-1]
        failed = next((v for v in verdicts if not v.ok), last)
        return {
            "stage": stage,
            "part": part,
            "code": code,
            "done": done,
            "ok": ok,
            "summary": last.summary if ok else failed.summary,
            "evidence": [] if ok else list(failed.evidence),
            "validations": [verdict_json(v) for v in verdicts],
            "retry": retry,
            **extra,
        }

    def setup(self, inputs: StageInputs, code: str) -> StageVerdict:
        """The module (or the setup alone) imports with the setup merged in."""
        if inputs.target is None:
            return check_imports(code, self.executor)
        layout = assemble_program(code, inputs.signature, [])
        try:
            text, _ = self.module(inputs, layout)
        except SpliceError as exc:
            return StageVerdict(
                stage="imports", ok=False, summary=f"setup: {exc}", evidence=(str(exc),)
            )
        return check_imports(text, self.executor, context=inputs.target.context)

    def body(
        self, inputs: StageInputs, part: int, code: str
    ) -> tuple[list[StageVerdict], dict[str, Any]]:
        """Smoke-run the function with part ``part`` added; the part must do something."""
        bead = inputs.bead
        retry = {"stage": "body", "part": part}
        if not code.strip():
            ok = part > 0
            return [
                StageVerdict(
                    stage="compiles",
                    ok=ok,
                    summary="the function is complete" if ok else "no body was written",
                    evidence=()
                    if ok
                    else ("the function body is empty: write its first statement",),
                )
            ], retry
        parts = [*inputs.parts[:part], code]
        layout = assemble_program(inputs.setup, inputs.signature, parts)
        try:
            text, spliced = self.module(inputs, layout)
        except SpliceError as exc:
            return [
                StageVerdict(stage="smoke", ok=False, summary=str(exc), evidence=(str(exc),))
            ], retry
        context = inputs.target.context if inputs.target is not None else None
        smoke = check_smoke(
            text,
            bead.unit_tests(),
            self.executor,
            entry_point=bead.target.function,
            context=context,
        )
        if not smoke.ok:
            if imports_missing(smoke.evidence, inputs.target):
                retry = {"stage": "setup", "part": part}
            return [smoke], retry
        if not bead.tests:
            return [smoke], retry  # no unit test calls the function: nothing to trace
        region = next(r for r in layout.regions if r.stage == "body" and r.part == part)
        lines = _module_lines(region.first, region.last, spliced)
        runs = check_part_runs(
            smoke.run, part=part, code=code, lines=lines, target=bead.target.name
        )
        errors = [r for r in (smoke.run.results if smoke.run else ()) if r.status != "passed"]
        to_program = spliced.program_line if spliced is not None else (lambda n: n)
        stopped = (
            _stopping_part(smoke, layout, to_program)
            if "no test reaches it" in runs.summary
            else None
        )
        if not runs.ok and stopped is not None and stopped < part:
            # every test leaves the function in an earlier part (it returns there): that part,
            # not this one, is what must change
            why = f"{runs.summary}; every test leaves the function in body part {stopped + 1}"
            runs = StageVerdict(
                stage="smoke", ok=False, summary=why, evidence=(why, *runs.evidence[1:])
            )
            retry = {"stage": "body", "part": stopped}
        elif not runs.ok and errors and all(r.status == "error" for r in errors):
            # the tests stop before the part (calling the function fails): say that, and
            # re-open what the error points to (a generated signature with the wrong arguments)
            first = errors[0]
            why = f"{runs.summary}; every test stops before it: {first.exc_type}: {first.message}"
            runs = StageVerdict(
                stage="smoke", ok=False, summary=why, evidence=(why, *runs.evidence[1:])
            )
            retry = blame_unit(smoke, layout, bead, to_program=to_program)
        return [smoke, runs], retry

    def integrate(
        self, inputs: StageInputs
    ) -> tuple[list[StageVerdict], dict[str, Any], dict[str, Any]]:
        """Unit tests, every part ran, the pytest file, the integration command."""
        bead = inputs.bead
        layout = assemble_program(inputs.setup, inputs.signature, inputs.parts)
        function = assemble_program("", inputs.signature, inputs.parts).program
        extra: dict[str, Any] = {"program": layout.program, "function": function}
        last_body = {"stage": "body", "part": max(len(inputs.parts) - 1, 0)}
        try:
            text, spliced = self.module(inputs, layout)
        except SpliceError as exc:
            failed = StageVerdict(
                stage="integration", ok=False, summary=str(exc), evidence=(str(exc),)
            )
            return [failed], last_body, extra
        target = inputs.target
        if target is not None:
            extra.update(module_text=text, original_digest=target.digest)
        context = target.context if target is not None else None
        verdicts: list[StageVerdict] = []
        if bead.tests:
            unit = check_unit(
                text,
                bead.unit_tests(),
                self.executor,
                entry_point=bead.target.function,
                context=context,
            )
            verdicts.append(unit)
            to_program = spliced.program_line if spliced is not None else (lambda n: n)
            if not unit.ok:
                retry = blame_unit(unit, layout, bead, to_program=to_program)
                if imports_missing(unit.evidence, target):
                    retry = {"stage": "setup", "part": retry["part"]}
                return verdicts, retry, extra
            for region in (r for r in layout.regions if r.stage == "body"):
                runs = check_part_runs(
                    unit.run,
                    part=region.part,
                    code=inputs.parts[region.part],
                    lines=_module_lines(region.first, region.last, spliced),
                    target=bead.target.name,
                    final=True,
                )
                if not runs.ok:
                    verdicts.append(runs)
                    return verdicts, {"stage": "body", "part": region.part}, extra
        if target is None or not (bead.test_file or bead.integration):
            return verdicts, {"stage": "integration", "part": 0}, extra
        files = {bead.target.file: text}
        if bead.test_file:
            verdict = check_integration(
                target.repo,
                files,
                ("python", "-m", "pytest", "-q", bead.test_file),
                self.executor,
                limits=command_limits(120.0),
                context=target.context,
            )
            verdicts.append(verdict)
            if not verdict.ok:
                return verdicts, blame_output(verdict, layout, bead), extra
        if bead.integration:
            argv, junit = junit_command(bead.integration.command)
            raw = check_integration(
                target.repo,
                files,
                argv,
                self.executor,
                limits=command_limits(bead.integration.timeout_s),
                context=target.context,
                junit_xml=junit,
            )
            verdict = judge_integration(raw, inputs.baseline, bead)
            verdicts.append(verdict)
            if not verdict.ok:
                return verdicts, blame_output(verdict, layout, bead), extra
        return verdicts, {"stage": "integration", "part": 0}, extra


def _stopping_part(verdict: StageVerdict, layout: ProgramLayout, to_program: LineMap) -> int | None:
    """The latest body part in which a test's run of the function ended (its last line)."""
    found: list[int] = []
    for result in verdict.run.results if verdict.run else ():
        lines = [e.line for e in result.trace.events if e.kind == "line" and e.depth == 0]
        line = to_program(lines[-1]) if lines else None
        region = layout.region_of(line) if line is not None else None
        if region is None or region.stage != "body":
            return None  # a test ended somewhere else: no single part to blame
        found.append(region.part)
    return max(found) if found else None


def _module_lines(first: int, last: int, spliced: Spliced | None) -> Sequence[int]:
    """The lines of what ran that hold program lines ``first``..``last``."""
    if spliced is None:
        return list(range(first, last + 1))
    wanted = set(range(first, last + 1))
    return sorted(m for m, p in spliced.line_map.items() if p in wanted)
