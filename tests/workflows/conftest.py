"""Fixtures for the bead workflow tests: an in-process executor and a sample repository.

:class:`InProcessExecutor` really runs programs (``exec`` in this process, no isolation) and
commands (a subprocess in a scratch copy), so the graph's routing is tested on real verdicts
without depending on the sandbox backends. Only trusted test code runs through it.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import ClassVar

import pytest

from beadline.validators.executor import (
    CommandRequest,
    CommandResult,
    Executor,
    RunRequest,
    RunResult,
    TestCase,
    TestResult,
    Trace,
    TraceEvent,
)

SAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "sample_repo"


def _program_line(tb: object) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):  # type: ignore[arg-type]
        if frame.f_code.co_filename == "<program>":
            line = lineno
    return line


class InProcessExecutor(Executor):
    """Runs programs with ``exec`` (trusted test code only) and commands in a temp copy."""

    __test__: ClassVar[bool] = False
    name: ClassVar[str] = "inprocess"

    def __init__(self) -> None:
        self.requests: list[RunRequest] = []
        self.commands: list[CommandRequest] = []

    def run(self, request: RunRequest) -> RunResult:
        self.requests.append(request)
        return RunResult(
            results=tuple(self._one(request.program, t) for t in request.tests), backend=self.name
        )

    def _one(self, program: str, test: TestCase) -> TestResult:
        namespace: dict[str, object] = {"__name__": "__main__"}
        try:
            exec(compile(program, "<program>", "exec"), namespace)
        except BaseException as exc:
            return TestResult(
                test=test,
                status="error",
                exc_type=type(exc).__name__,
                message=str(exc),
                line=getattr(exc, "lineno", None) or _program_line(exc.__traceback__),
            )
        if test.kind == "script":
            return TestResult(test=test, status="passed")
        tree = ast.parse(test.source)
        node = tree.body[0]
        assert isinstance(node, ast.Assert)
        expected_repr = actual_repr = None
        try:
            if (
                isinstance(node.test, ast.Compare)
                and len(node.test.ops) == 1
                and isinstance(node.test.ops[0], ast.Eq)
            ):
                actual = eval(ast.unparse(node.test.left), namespace)
                expected = eval(ast.unparse(node.test.comparators[0]), namespace)
                actual_repr, expected_repr = repr(actual), repr(expected)
                ok = actual == expected
            else:
                ok = bool(eval(ast.unparse(node.test), namespace))
        except BaseException as exc:
            line = _program_line(exc.__traceback__)
            events = (
                (TraceEvent(kind="exception", line=line, value=f"{type(exc).__name__}: {exc}"),)
                if line
                else ()
            )
            return TestResult(
                test=test,
                status="error",
                exc_type=type(exc).__name__,
                message=str(exc),
                line=line,
                trace=Trace(events=events),
            )
        if ok:
            return TestResult(test=test, status="passed", return_repr=actual_repr)
        return TestResult(
            test=test,
            status="failed",
            exc_type="AssertionError",
            message=f"expected {expected_repr}, got {actual_repr}",
            return_repr=actual_repr,
            expected_repr=expected_repr,
        )

    def run_command(self, request: CommandRequest) -> CommandResult:
        self.commands.append(request)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "work"
            if request.directory is not None:
                shutil.copytree(request.directory, work)
            else:
                work.mkdir()
            for rel, text in request.files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text)
            argv = [sys.executable if a == "python" else a for a in request.argv]
            started = time.monotonic()
            try:
                done = subprocess.run(
                    argv,
                    cwd=work,
                    capture_output=True,
                    text=True,
                    timeout=request.limits.wall_s,
                    check=False,
                )
            except FileNotFoundError:
                return CommandResult(
                    status="error", exit_code=127, message=f"command not found: {argv[0]}"
                )
            return CommandResult(
                status="passed" if done.returncode == 0 else "failed",
                exit_code=done.returncode,
                stdout=done.stdout[-4000:],
                stderr=done.stderr[-4000:],
                duration_s=time.monotonic() - started,
            )


@pytest.fixture
def inproc() -> InProcessExecutor:
    return InProcessExecutor()


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A private copy of examples/sample_repo."""
    target = tmp_path / "repo"
    shutil.copytree(SAMPLE_REPO, target, ignore=shutil.ignore_patterns("__pycache__", ".beadline"))
    return target


FAKE_BD = Path(__file__).resolve().parents[1] / "_fake_bd.py"


@pytest.fixture
def fake_bd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the stand-in ``bd`` (tests/_fake_bd.py, checked against the recorded outputs) on
    PATH, first; returns its directory. The venv's ``bin`` follows it (``pytest`` commands)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "bd"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_BD}" "$@"\n')
    script.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    monkeypatch.setenv("PATH", path)
    monkeypatch.delenv("BEADS_ACTOR", raising=False)
    monkeypatch.delenv("BD_ACTOR", raising=False)
    return bin_dir


@pytest.fixture
def textkit_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository the recorded bd issues (tests/data/bd) talk about: ``textkit/slug.py``
    (no ``slugify`` yet), a pytest suite, and the tracker as recorded after its four
    ``bd create`` steps in ``.beads/issues.jsonl``."""
    from tests._fake_bd import seed_recorded

    repo = tmp_path / "textkit-repo"
    (repo / "textkit").mkdir(parents=True)
    (repo / "textkit" / "__init__.py").write_text("")
    (repo / "textkit" / "slug.py").write_text(
        '"""Slugs for titles."""\n\n\ndef lower(text: str) -> str:\n    return text.lower()\n'
    )
    (repo / "conftest.py").write_text("")  # pytest puts the root on sys.path
    (repo / "tests").mkdir()
    (repo / "tests" / "test_slug.py").write_text(
        "from textkit.slug import lower\n\n\ndef test_lower():\n    assert lower('A') == 'a'\n"
    )
    seed_recorded(repo)
    # the integration command is `pytest ...`: the venv's pytest must be found, and start
    # without the venv's plugins (langsmith, anyio...: 8 s instead of 1 s on this machine)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    return repo
