"""The integration command: its baseline on the unchanged repository, and new failures only.

Before the first stage the bead's integration command runs once on the repository as it is
(the graph's preflight). A pytest command gets ``--junitxml``, ``--tb=short`` and
``--continue-on-collection-errors`` (:func:`junit_command`), so every test has an id
(``classname::name``) and a short traceback, a test module that does not import does not stop
the others, and the baseline (:func:`baseline_record`) records which tests already fail:

* a failure whose traceback runs through the target (a frame ``in <target>`` of the target's
  file, e.g. the stub's ``raise NotImplementedError``) or whose error names it (``cannot import
  name 'x'``) is one of the bead's own tests: it must pass once the function is written
  (``must_pass``);
* any other failure is **pre-existing**: it does not block the bead, and the report lists it —
  unless, after the change, its traceback runs through the target (then the new code is part of
  why it fails).

The integration stage then passes when no test fails that did not fail before, the bead's own
tests pass, and no pre-existing failure now involves the target (:func:`judge_integration`). A command without per-test ids (not pytest) that
already fails cannot be told apart from a new failure: the bead stops ``baseline_failed``
unless ``integration.expect_fail_before`` says the command tests the new function — then it
must pass as a whole after the change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from beadline.validators.executor import CommandResult, JUnitCase
from beadline.validators.integration_checks import is_pytest
from beadline.validators.stages import StageVerdict
from beadline.workflows.bead.spec import Bead

__all__ = [
    "JUNIT_REPORT",
    "baseline_record",
    "case_id",
    "command_not_found",
    "failing_ids",
    "involves_target",
    "is_pytest",
    "judge_integration",
    "junit_command",
    "pytest_sections",
]

JUNIT_REPORT = ".beadline-junit.xml"
"""Where a pytest integration command writes its JUnit report (in the scratch copy)."""

_NOT_FOUND = re.compile(r"command not found|no such file or directory|not found", re.IGNORECASE)


def junit_command(argv: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """The command with a JUnit report and short tracebacks asked for (pytest only), and the
    report's path."""
    command = tuple(argv)
    if not is_pytest(command):
        return command, None
    if not any(a.startswith("--tb") for a in command):
        command = (*command, "--tb=short")
    if "--continue-on-collection-errors" not in command:
        # a test module that does not import must not stop every other test from running
        command = (*command, "--continue-on-collection-errors")
    for i, arg in enumerate(command):
        if arg.startswith("--junitxml=") or arg.startswith("--junit-xml="):
            return command, arg.split("=", 1)[1]
        if arg in ("--junitxml", "--junit-xml") and i + 1 < len(command):
            return command, command[i + 1]
    return (*command, f"--junitxml={JUNIT_REPORT}"), JUNIT_REPORT


_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$", re.MULTILINE)
_FRAME = re.compile(r"^(\S+\.py):\d+: in (\S+)$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^E +(.*)$", re.MULTILINE)


def pytest_sections(output: str) -> dict[str, list[str]]:
    """The failure sections of pytest's output (``____ title ____`` blocks), by title."""
    marks = list(_SECTION.finditer(output))
    sections: dict[str, list[str]] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(output)
        body = output[mark.end() : end]
        cut = re.search(r"^=+ ", body, re.MULTILINE)  # "==== short test summary info ===="
        sections.setdefault(mark.group(1).strip(), []).append(body[: cut.start()] if cut else body)
    return sections


def _suffixes(dotted: str) -> list[str]:
    """``a.b.c`` → ``a/b/c.py``, ``b/c.py``, ``c.py`` (the rootdir may differ from the repo's)."""
    parts = dotted.split(".")
    return ["/".join(parts[i:]) + ".py" for i in range(len(parts))]


def _section_of(case: JUnitCase, sections: Mapping[str, list[str]]) -> str | None:
    """The traceback section of a failing JUnit case in pytest's output, if it is there."""
    if not case.classname:  # a collection error: the name is the module, dotted
        paths = _suffixes(case.name)
        for title, bodies in sections.items():
            if title.startswith("ERROR collecting ") and any(
                title.endswith(p) or p.endswith(title.removeprefix("ERROR collecting "))
                for p in paths[:1]
            ):
                return bodies[0]
        return None
    parts = case.classname.split(".")
    titles = [case.name, f"{parts[-1]}.{case.name}"]
    found = [b for t in titles for b in sections.get(t, [])]
    for path in _suffixes(case.classname):
        for body in found:
            if path in body:
                return body
    return found[0] if found else None


def involves_target(body: str | None, bead: Bead) -> bool | None:
    """Whether a failure's traceback runs through the target or its error names it
    (``None``: no traceback to tell)."""
    if body is None:
        return None
    name = bead.target.name
    for path, function in _FRAME.findall(body):
        if function == name and path.endswith(bead.target.file):
            return True
    word = re.compile(rf"\b{re.escape(name)}\b")
    return any(word.search(line) for line in _ERROR_LINE.findall(body))


def case_id(case: JUnitCase) -> str:
    """A JUnit case's id: ``classname::name`` (pytest: ``tests.test_auth::test_login``)."""
    return f"{case.classname}::{case.name}" if case.classname else case.name


def failing_ids(result: CommandResult | None) -> list[str]:
    """Ids of the failed and errored cases of a command's JUnit report."""
    if result is None:
        return []
    return [case_id(c) for c in result.junit if c.status in ("failed", "error")]


def command_not_found(verdict: StageVerdict) -> bool:
    """The command itself could not be started (exit 127, "not found")."""
    result = verdict.command
    return result is not None and (
        result.exit_code == 127 or bool(_NOT_FOUND.search(result.message))
    )


def baseline_record(verdict: StageVerdict, bead: Bead, *, junit: bool) -> dict[str, Any]:
    """The baseline as the state keeps it.

    Returns:
        ``validator``, ``ok``, ``summary``, ``evidence``, ``junit`` (per-test ids known),
        ``failing`` (every failing id), ``must_pass`` (failing ids whose traceback runs through
        the target), ``pre_existing`` (the others: they do not block) and ``untold`` (those of
        them without a traceback to tell).
    """
    result = verdict.command
    cases = list(result.junit) if result is not None else []
    failing = [c for c in cases if c.status in ("failed", "error")]
    sections = pytest_sections(result.stdout if result is not None else "")
    involved = {case_id(c): involves_target(_section_of(c, sections), bead) for c in failing}
    must_pass = [i for i, v in involved.items() if v]
    known = junit and bool(cases)
    summary = verdict.summary
    if known and failing:
        summary = (
            f"{len(failing)} of {len(cases)} tests fail before the bead: {len(must_pass)} of "
            f"the target (must pass), {len(failing) - len(must_pass)} pre-existing (do not block)"
        )
    return {
        "validator": verdict.stage,
        "ok": verdict.ok,
        "summary": summary,
        "evidence": list(verdict.evidence),
        "junit": known,
        "tests": len(cases),
        "failing": [case_id(c) for c in failing],
        "must_pass": must_pass,
        "pre_existing": [case_id(c) for c in failing if case_id(c) not in must_pass],
        "untold": [i for i, v in involved.items() if v is None],
    }


def judge_integration(
    verdict: StageVerdict, baseline: Mapping[str, Any] | None, bead: Bead
) -> StageVerdict:
    """The integration verdict counting only new failures (see the module docstring).

    Args:
        verdict: The command's verdict on the repository with the new module.
        baseline: :func:`baseline_record` of the unchanged repository (``None``: none ran).
        bead: The bead.

    Returns:
        ``verdict`` itself when it passed, or when no per-test ids are known; otherwise a
        verdict that passes when every failing test is a pre-existing failure, and that lists
        only the new failures (and the bead's own tests still failing) when it does not.
    """
    if verdict.ok or not baseline or not baseline.get("junit"):
        return verdict
    result = verdict.command
    if result is None or not result.junit:
        return verdict  # no report: the command did not get to run the tests
    sections = pytest_sections(result.stdout)
    by_id = {case_id(c): c for c in result.junit}
    excused = {
        i
        for i in baseline.get("pre_existing") or ()
        if i in by_id and not involves_target(_section_of(by_id[i], sections), bead)
    }
    now = failing_ids(result)
    new = [i for i in now if i not in excused]
    shown = " ".join(bead.integration.command) if bead.integration else "the command"
    if not new:
        listed = ", ".join(sorted(excused & set(now)))
        return replace(
            verdict,
            ok=True,
            summary=f"`{shown}`: no new failures ({len(now)} pre-existing: {listed})",
            evidence=(),
        )
    before = set(baseline.get("failing") or ())
    must = set(baseline.get("must_pass") or ())
    fresh = [i for i in new if i not in before]
    still = [i for i in new if i in must]
    involved = [i for i in new if i in before and i not in must]
    parts = []
    if fresh:
        parts.append(f"{len(fresh)} new failing test(s): {', '.join(fresh[:5])}")
    if still:
        parts.append(f"{len(still)} test(s) of the target still failing: {', '.join(still[:5])}")
    if involved:
        parts.append(
            f"{len(involved)} test(s) failing before now fail in the target: "
            + ", ".join(involved[:5])
        )
    summary = f"`{shown}`: " + "; ".join(parts)
    evidence = [summary]
    evidence += [f"{i} {by_id[i].status}: {by_id[i].message}".strip() for i in new[:8]]
    evidence += [e for e in verdict.evidence if e.startswith("output (tail):")]
    return replace(verdict, summary=summary, evidence=tuple(evidence))
