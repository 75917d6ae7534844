"""A bead run killed with SIGKILL in the middle of a stage resumes from its last checkpoint — on
the default SQLite store and on PostgreSQL (several workers sharing threads) — in another
process, from another directory, redoing only the stage that was in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beadline.agents.models.choice import ModelChoice
from beadline.workflows.bead import runtime
from beadline.workflows.bead.runs import BeadRunOptions, list_threads, resume_run, start_run

from ..conftest import InProcessExecutor

ROOT = Path(__file__).resolve().parents[3]
KILLED = ROOT / "tests" / "data" / "bead" / "killed_run.py"
SQUARE = str(ROOT / "examples" / "beads" / "1-square.yaml")
SCRIPT = {"body[0]": "m = n * n", "body[1]": "return m"}


def _kill_mid_stage(options: BeadRunOptions, tmp_path: Path, index: Path) -> None:
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(KILLED), options.model_dump_json(), str(marker), str(index)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the run ended early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the run never reached body part 2"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _resume_elsewhere(
    db: str | None, sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index.sqlite"
    script = tmp_path / "script.yaml"
    script.write_text(json.dumps(SCRIPT))
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=ModelChoice(model=f"scripted:{script}"),
        db=db,
        thread="killed",
    )
    _kill_mid_stage(options, tmp_path, index)
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind: InProcessExecutor())
    [info] = list_threads(repo=sample_repo, db=db)
    # the process died holding the thread: it shows as stopped (resumable), not running
    assert (info.thread_id, info.status, info.last_stage) == ("killed", "stopped", "body part 2")
    other = tmp_path / "another-directory"
    other.mkdir()
    monkeypatch.chdir(other)
    outcome = resume_run("killed", index=index)  # found through the thread index
    assert outcome.status == "passed", outcome.message
    assert "    m = n * n\n    return m" in outcome.program
    report = json.loads(Path(str(outcome.report_json)).read_text())
    # body part 1 was validated once, before the kill; only part 2 ran again
    assert [a["stage"] for a in report["attempts"]] == [
        "signature",
        "setup",
        "body part 1",
        "body part 2",
        "integration",
    ]
    assert "return m" in (sample_repo / "sample_pkg" / "mathx.py").read_text()


@pytest.mark.slow
def test_killed_run_resumes_on_sqlite(
    sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resume_elsewhere(None, sample_repo, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_run_resumes_on_postgres(
    postgres_dsn: str, sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resume_elsewhere(postgres_dsn, sample_repo, tmp_path, monkeypatch)
    assert not (sample_repo / ".beadline" / "beads.sqlite").exists()  # state is on the server


@pytest.mark.postgres
def test_threads_on_postgres_are_shared_by_workers(
    postgres_dsn: str, sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind: InProcessExecutor())
    script = tmp_path / "script.yaml"
    script.write_text(json.dumps({"body[0]": "return n * n"}))
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=ModelChoice(model=f"scripted:{script}"),
        db=postgres_dsn,
        review=True,
        thread="shared",
    )
    first = start_run(options)
    assert first.status == "waiting_review"
    # another worker (no index, another directory) continues it from the same database
    monkeypatch.chdir(tmp_path)
    outcome = first
    while outcome.status == "waiting_review":
        outcome = resume_run("shared", db=postgres_dsn, decision={"action": "approve"})
    assert outcome.status == "passed"
    [info] = list_threads(db=postgres_dsn)
    assert (info.thread_id, info.status, info.db) == ("shared", "passed", postgres_dsn)
    again = resume_run("shared", db=postgres_dsn)
    assert again.already_finished and again.report_md == outcome.report_md
