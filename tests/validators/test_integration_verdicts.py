"""The integration stage cannot be passed by a module that stops, skips or fakes the tests.

A repository (``calc``: a stub ``add`` and its pytest suite, plus one unrelated test) is
checked the way a bead does: the command once on the unchanged snapshot (the baseline, which
fails: the stub raises), then with a candidate module written over the copy. Each exploit
module below exits 0 without running the tests, ends the session early, skips or xfails the
tests that ran before, or leaves a stale report; each must not pass, and the correct module
passes on the same executor afterwards. Both backends.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.executor import Executor, Limits, ModuleContext
from beadline.validators.snapshot import SnapshotStore, default_store, module_context
from beadline.validators.stages import StageVerdict, check_integration

OPS = "calc/ops.py"
PYTEST = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
LIMITS = Limits(wall_s=60.0, cpu_s=60.0, memory_mb=1024)

GOOD = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
WRONG = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def calc_repo(open_tmp: Path) -> Path:
    repo = open_tmp / "calc_repo"
    _write(
        repo,
        {
            "calc/__init__.py": "",
            OPS: "def add(a, b):\n    raise NotImplementedError\n\n\n"
            "def sub(a, b):\n    return a - b\n",
            "tests/__init__.py": "",
            "tests/test_ops.py": """
                from calc.ops import add, sub

                def test_add():
                    assert add(2, 3) == 5

                def test_sub():
                    assert sub(5, 3) == 2
                """,
            "tests/test_more.py": """
                from calc import ops

                def test_add_zero():
                    assert ops.add(0, 0) == 0
                """,
            "tests/test_other.py": "def test_plain():\n    assert 1 == 1\n",
        },
    )
    return repo


@pytest.fixture
def store() -> Iterator[SnapshotStore]:
    yield default_store()  # both backends see it (docker mounts it)


def _context(store: SnapshotStore, repo: Path) -> ModuleContext:
    return module_context(store.snapshot(repo), OPS, target="add")


def _check(
    executor: Executor,
    repo: Path,
    context: ModuleContext,
    text: str | None,
    command: tuple[str, ...] = PYTEST,
    **kwargs: object,
) -> StageVerdict:
    files = {} if text is None else {OPS: textwrap.dedent(text)}
    return check_integration(
        repo,
        files,
        command,
        executor,
        limits=LIMITS,
        context=context,
        **kwargs,  # type: ignore[arg-type]
    )


EXPLOITS = {
    # pytest exits 0 before it collects anything: no report, no tests
    "os_exit_at_import": "import os\nos._exit(0)\n",
    # the tests fail, but the process exits 0 after pytest wrote its (failing) report
    "atexit_exit_0": "import atexit, os\natexit.register(lambda: os._exit(0))\n" + WRONG,
    # the session ends with status 0 at the first call: no test result at all
    "pytest_exit_in_test": "import pytest\n\ndef add(a, b):\n    pytest.exit('bye', returncode=0)\n",
    # every module that imports the target is skipped; the unrelated test still passes
    "skip_at_import": "import pytest\npytest.skip('later', allow_module_level=True)\n",
    # the target's tests report xfail (a skip) instead of failing
    "xfail_in_call": "import pytest\n\ndef add(a, b):\n    pytest.xfail('later')\n\n\n"
    "def sub(a, b):\n    return a - b\n",
    # the interpreter forks at import; the parent exits 0 at once, the child is left behind
    "fork_and_exit": "import os\nif os.fork():\n    os._exit(0)\n" + WRONG,
    # ordinary escapes pytest itself reports as failures
    "sys_exit_in_call": "import sys\n\ndef add(a, b):\n    sys.exit(0)\n\n\ndef sub(a, b):\n    return a - b\n",
    "keyboard_interrupt": "def add(a, b):\n    raise KeyboardInterrupt\n\n\ndef sub(a, b):\n    return a - b\n",
    "patched_assertion_error": "import builtins\nbuiltins.AssertionError = type('AE', (Exception,), {})\n"
    + WRONG,
}


@pytest.mark.parametrize("name", sorted(EXPLOITS))
def test_an_exploit_module_does_not_pass_integration(
    any_executor: Executor, calc_repo: Path, store: SnapshotStore, name: str
) -> None:
    context = _context(store, calc_repo)
    baseline = _check(any_executor, calc_repo, context, None)
    assert not baseline.ok and baseline.command is not None  # the stub fails its tests
    verdict = _check(any_executor, calc_repo, context, EXPLOITS[name])
    assert not verdict.ok, (name, verdict.summary, verdict.evidence)
    good = _check(any_executor, calc_repo, context, GOOD)
    assert good.ok, good.evidence


def test_without_a_baseline_call_one_is_made(
    any_executor: Executor, calc_repo: Path, store: SnapshotStore
) -> None:
    # a snapshot no baseline ran on yet: the check runs one itself first
    context = module_context(store.snapshot(calc_repo, exclude=("*.unused",)), OPS, target="add")
    verdict = _check(any_executor, calc_repo, context, EXPLOITS["xfail_in_call"])
    assert not verdict.ok
    assert "ran before the change but did not run now" in verdict.summary, verdict.summary
    assert any("tests.test_ops::test_add" in line for line in verdict.evidence), verdict.evidence
    good = _check(any_executor, calc_repo, context, GOOD)
    assert good.ok, good.evidence


def test_the_baseline_can_be_given_explicitly(any_executor: Executor, calc_repo: Path) -> None:
    # no module context: the command runs on a copy of the repository itself
    def check(text: str | None, **kwargs: object) -> StageVerdict:
        files = {} if text is None else {OPS: textwrap.dedent(text)}
        return check_integration(calc_repo, files, PYTEST, any_executor, limits=LIMITS, **kwargs)  # type: ignore[arg-type]

    baseline = check(None)
    assert not baseline.ok and baseline.command is not None
    unguarded = check(EXPLOITS["xfail_in_call"])
    assert unguarded.ok  # nothing to compare with: xfail is a legitimate outcome
    verdict = check(EXPLOITS["xfail_in_call"], baseline=baseline.command)
    assert not verdict.ok, verdict.summary
    good = check(GOOD, baseline=baseline.command)
    assert good.ok, good.evidence


def test_without_a_report_pytest_exiting_0_is_not_a_pass(
    any_executor: Executor, calc_repo: Path, store: SnapshotStore
) -> None:
    context = _context(store, calc_repo)
    verdict = _check(any_executor, calc_repo, context, EXPLOITS["os_exit_at_import"])
    assert not verdict.ok
    assert "wrote no JUnit report" in verdict.summary, verdict.summary
    good = _check(any_executor, calc_repo, context, GOOD)
    assert good.ok and "3 tests" not in good.summary, good.summary
    assert good.command is not None and len(good.command.junit) == 4


def test_a_stale_report_in_the_repository_is_not_read(
    any_executor: Executor, calc_repo: Path, store: SnapshotStore
) -> None:
    stale = (
        '<testsuite tests="4"><testcase classname="tests.test_ops" name="test_add"/>'
        '<testcase classname="tests.test_ops" name="test_sub"/>'
        '<testcase classname="tests.test_more" name="test_add_zero"/>'
        '<testcase classname="tests.test_other" name="test_plain"/></testsuite>'
    )
    (calc_repo / "report.xml").write_text(stale)
    context = _context(store, calc_repo)
    command = (*PYTEST, "--junitxml=report.xml")
    verdict = _check(
        any_executor,
        calc_repo,
        context,
        EXPLOITS["os_exit_at_import"],
        command,
        junit_xml="report.xml",
    )
    assert not verdict.ok, verdict.summary
    good = _check(any_executor, calc_repo, context, GOOD, command, junit_xml="report.xml")
    assert good.ok, good.evidence


def test_unittest_must_report_that_it_ran(
    any_executor: Executor, calc_repo: Path, store: SnapshotStore
) -> None:
    # unittest collects TestCase classes only (not the pytest functions of the fixture)
    _write(
        calc_repo,
        {
            "tests/test_unit.py": """
                import unittest

                from calc.ops import add

                class AddTest(unittest.TestCase):
                    def test_add(self):
                        self.assertEqual(add(2, 3), 5)
                """
        },
    )
    context = _context(store, calc_repo)
    command = ("python", "-m", "unittest", "discover", "-s", "tests", "-t", ".")
    verdict = _check(any_executor, calc_repo, context, EXPLOITS["os_exit_at_import"], command)
    assert not verdict.ok and "unittest" in verdict.summary, verdict.summary
    good = _check(any_executor, calc_repo, context, GOOD, command)
    assert good.ok, good.evidence


def test_boundary_a_module_that_rewrites_pytest_reports_passes(
    any_executor: Executor, calc_repo: Path, store: SnapshotStore
) -> None:
    """The boundary: the module under test runs inside pytest's process, so one that rewrites
    pytest's own report objects decides what the JUnit report and the exit status say. Every
    test still ran (the baseline's ids are all there), so nothing outside the process can tell.
    """
    rewriter = (
        "import _pytest.reports as reports\n"
        "_init = reports.TestReport.__init__\n"
        "def _passed(self, *args, **kwargs):\n"
        "    _init(self, *args, **kwargs)\n"
        "    self.outcome, self.longrepr = 'passed', None\n"
        "reports.TestReport.__init__ = _passed\n" + WRONG
    )
    context = _context(store, calc_repo)
    _check(any_executor, calc_repo, context, None)
    verdict = _check(any_executor, calc_repo, context, rewriter)
    assert verdict.ok, verdict.evidence
    wrong = _check(any_executor, calc_repo, context, WRONG)
    assert not wrong.ok
