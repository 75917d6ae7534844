"""What an integration command's exit status does not prove, checked from its report.

The module under test runs inside the test runner's process, so an exit status of 0 is the
program's to choose: ``os._exit(0)`` at import ends pytest before it ran anything, an
``atexit`` handler turns a failing run into status 0, ``pytest.exit(returncode=0)`` ends the
session at the first call, ``pytest.skip(allow_module_level=True)`` at import skips every test
module that imports it, ``pytest.xfail()`` turns the target's failures into skips. What a
passing integration verdict needs instead (:func:`problems`):

* pytest (``pytest ...``, ``python -m pytest ...``): a JUnit report the command wrote *now*
  (the stage asks for one at a fresh path, :func:`with_junit`, and the worker removes any file
  already there), no failed or errored case in it, at least one test that ran, and every test
  that ran on the unchanged repository (the *baseline*) ran again — present, and not skipped
  or xfailed. A missing test is added to the report as an ``error`` case, so code that counts
  the report's failures (the bead workflow's "new failures only") sees it.
* ``python -m unittest ...``: its summary (``Ran N tests`` with N > 0, then ``OK``).
* any other command: the exit status only.

A program that rewrites the runner's own result objects, or writes a complete fake report and
exits, is still believed: that is the in-process boundary (README, "Sandboxing").
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from beadline.validators.executor import CommandResult, JUnitCase

__all__ = [
    "BaselineCache",
    "case_id",
    "is_pytest",
    "is_unittest",
    "problems",
    "ran_ids",
    "with_junit",
]

_RAN = ("passed", "failed", "error")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
_UNITTEST_OK = re.compile(r"^OK\b", re.MULTILINE)


def is_pytest(argv: Sequence[str]) -> bool:
    """True for ``pytest ...``, ``py.test ...`` and ``python -m pytest ...``."""
    if not argv:
        return False
    if PurePosixPath(argv[0]).name in ("pytest", "py.test"):
        return True
    return any(argv[i] == "-m" and argv[i + 1] == "pytest" for i in range(len(argv) - 1))


def is_unittest(argv: Sequence[str]) -> bool:
    """True for ``python -m unittest ...``."""
    return any(argv[i] == "-m" and argv[i + 1] == "unittest" for i in range(len(argv) - 1))


def with_junit(argv: Sequence[str], junit_xml: str | None) -> tuple[tuple[str, ...], str | None]:
    """A pytest command with a JUnit report asked for, and the report's path.

    The caller's ``junit_xml`` (or a ``--junitxml`` already in ``argv``) is kept; otherwise a
    fresh name is added. Other commands come back unchanged.
    """
    command = tuple(argv)
    if not is_pytest(command):
        return command, junit_xml
    for i, arg in enumerate(command):
        for flag in ("--junitxml", "--junit-xml"):
            if arg.startswith(flag + "="):
                return command, junit_xml or arg.split("=", 1)[1]
            if arg == flag and i + 1 < len(command):
                return command, junit_xml or command[i + 1]
    if junit_xml is None:
        junit_xml = f".beadline-junit-{secrets.token_hex(6)}.xml"
    return (*command, f"--junitxml={junit_xml}"), junit_xml


def case_id(case: JUnitCase) -> str:
    """``classname::name`` (pytest: ``tests.test_ops::test_add``)."""
    return f"{case.classname}::{case.name}" if case.classname else case.name


def ran_ids(result: CommandResult) -> list[str]:
    """Ids of the report's tests that ran (passed, failed or errored), in order, without the
    pseudo-cases of collection errors and skipped modules (no class name)."""
    seen: dict[str, None] = {}
    for case in result.junit:
        if case.status in _RAN and case.classname and case.name:
            seen.setdefault(case_id(case), None)
    return list(seen)


def _missing(result: CommandResult, baseline: CommandResult | None) -> list[JUnitCase]:
    """The baseline's tests that ran there but not in ``result`` (absent, skipped, xfailed)."""
    if baseline is None:
        return []
    now = {case_id(c): c.status for c in result.junit}
    missing = []
    for test_id in ran_ids(baseline):
        status = now.get(test_id)
        if status in _RAN:
            continue
        classname, _, name = test_id.partition("::")
        how = "was skipped" if status == "skipped" else "did not run"
        missing.append(
            JUnitCase(
                name=name,
                classname=classname,
                status="error",
                message=f"ran before the change but {how} now",
            )
        )
    return missing


def _pytest_problems(result: CommandResult, missing: Sequence[JUnitCase]) -> list[str]:
    found: list[str] = []
    if missing:
        shown = ", ".join(case_id(c) for c in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        found.append(
            f"{len(missing)} test(s) ran before the change but did not run now "
            f"(skipped, xfailed or never collected): {shown}{more}"
        )
    if not result.passed:
        return found
    if not result.junit:
        if "no JUnit report was written" in result.message:
            return [
                "pytest exited 0 but wrote no JUnit report: the run ended before pytest "
                "finished (the code under test ended the process?)"
            ]
        return ["pytest exited 0 but its JUnit report lists no test"]
    bad = [c for c in result.junit if c.status in ("failed", "error")]
    if bad:
        found.append(f"pytest exited 0 although its report has {len(bad)} failing test(s)")
    if not ran_ids(result) and not missing:
        found.append("no test ran (every test was skipped)")
    return found


def _unittest_problems(result: CommandResult) -> list[str]:
    text = result.stderr if _UNITTEST_RAN.search(result.stderr) else result.stdout
    counts = [int(n) for n in _UNITTEST_RAN.findall(text)]
    if not counts:
        return [
            "unittest exited 0 but printed no 'Ran N tests' summary: the run ended before "
            "the tests finished (the code under test ended the process?)"
        ]
    if counts[-1] == 0:
        return ["unittest ran no test"]
    if not _UNITTEST_OK.search(text[text.rfind("Ran ") :]):
        return ["unittest exited 0 but its summary does not end in OK"]
    return []


def problems(
    argv: Sequence[str], result: CommandResult, baseline: CommandResult | None = None
) -> tuple[list[str], CommandResult]:
    """Why a command that exited 0 did not show that its tests passed (see the module
    docstring), and the result with the tests that did not run added to its report.

    Args:
        argv: The command as run (after :func:`with_junit`).
        result: Its result.
        baseline: The same command's result on the unchanged repository, if known.

    Returns:
        ``(problems, result)``: no problems for a command whose report holds up (or that
        failed on its own, every baseline test present); otherwise one line each, and
        ``result`` marked ``failed`` with any missing tests as ``error`` cases of its report.
    """
    missing: list[JUnitCase] = []
    if is_pytest(argv):
        missing = _missing(result, baseline) if result.junit else []
        found = _pytest_problems(result, missing)
    elif is_unittest(argv) and result.passed:
        found = _unittest_problems(result)
    else:
        found = []
    if not found:
        return [], result
    message = "; ".join([result.message, *found]) if result.message else "; ".join(found)
    marked = replace(result, status="failed", junit=(*result.junit, *missing), message=message)
    return found, marked


class BaselineCache:
    """Baseline results of integration commands per repository snapshot, for this process.

    A snapshot never changes, so the command's result on it (no files written over it) is its
    baseline for every candidate checked on that snapshot. Bounded (least recently used out).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], CommandResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> CommandResult | None:
        """The remembered baseline, if any."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], result: CommandResult) -> None:
        """Remember a baseline (only one with a report: a test list to compare with)."""
        if not result.junit:
            return
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
