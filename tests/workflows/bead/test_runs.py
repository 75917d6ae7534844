"""The bead service: runs, outcomes, threads, resume from anywhere, and the bd loop."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from beadline.agents.models.choice import ModelChoice
from beadline.workflows.bead import runtime
from beadline.workflows.bead.runs import (
    BeadRunOptions,
    get_thread,
    list_threads,
    next_ready_bead,
    resume_run,
    start_run,
)
from beadline.workflows.bead.store import ThreadBusyError, ThreadRecord, default_db, open_store
from beadline.workflows.errors import UserError

from ..conftest import InProcessExecutor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SQUARE = str(EXAMPLES / "beads" / "1-square.yaml")

SLUGIFY = {
    "setup": "import re\nimport unicodedata",
    "body[0]": 'text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()',
    "body[1]": 'return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")',
}


@pytest.fixture(autouse=True)
def _inprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind, **_: InProcessExecutor())


def _model(tmp_path: Path, **stages: Any) -> ModelChoice:
    path = tmp_path / f"script-{len(list(tmp_path.glob('script-*')))}.yaml"
    path.write_text(json.dumps(stages))
    return ModelChoice(model=f"scripted:{path}")


def _bd(repo: Path, *args: str) -> Any:
    done = subprocess.run(
        ["bd", *args, "--json"], cwd=repo, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_run_keeps_state_and_report_in_the_repository(
    tmp_path: Path, sample_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    events: list[dict[str, Any]] = []
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=_model(tmp_path, **{"body[0]": "return n * n"}),
        thread="sq-1",
    )
    outcome = start_run(options, on_event=events.append)
    assert outcome.status == "passed" and outcome.written and not outcome.already_finished
    assert outcome.target == str(sample_repo / "sample_pkg" / "mathx.py")
    assert "+def square(n: int) -> int:" in outcome.diff
    assert outcome.report_md == str(sample_repo / ".beadline" / "reports" / "sq-1.md")
    assert default_db(sample_repo).is_file()
    assert (sample_repo / ".beadline" / ".gitignore").read_text().endswith("*\n")
    assert not (elsewhere / ".beadline").exists()
    assert events[0]["event"] == "run_started" and events[0]["tracker"] is None
    assert any(e["event"] == "applied" and e["written"] for e in events)
    [info] = list_threads(repo=sample_repo)
    assert (info.thread_id, info.bead_id, info.status) == ("sq-1", "square", "passed")
    assert info.last_stage == "integration" and info.report == outcome.report_md


def test_a_finished_thread_is_shown_not_run_again(
    tmp_path: Path, sample_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=_model(tmp_path, **{"body[0]": "return n * n"}),
        thread="sq-2",
    )
    first = start_run(options, index=tmp_path / "index.sqlite")
    report = Path(str(first.report_md))
    before = (report.read_bytes(), report.stat().st_mtime_ns)
    target = sample_repo / "sample_pkg" / "mathx.py"
    written = target.read_text()
    other = tmp_path / "other-dir"
    other.mkdir()
    monkeypatch.chdir(other)  # not in the repository: the index finds the thread
    again = resume_run("sq-2", index=tmp_path / "index.sqlite")
    assert again.already_finished and again.status == "passed"
    assert again.report_md == first.report_md and again.diff == first.diff
    assert (report.read_bytes(), report.stat().st_mtime_ns) == before
    assert target.read_text() == written
    with pytest.raises(UserError) as caught:
        resume_run("sq-2", index=tmp_path / "index.sqlite", decision={"action": "approve"})
    assert (
        str(caught.value)
        == "thread 'sq-2' already finished (passed); there is no question to answer"
    )


def test_review_without_a_reviewer_returns_the_question_and_resume_answers_it(
    tmp_path: Path, sample_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=_model(tmp_path, **{"body[0]": "return n * n"}),
        review=True,
        dry_run=True,
        thread="rv-1",
    )
    outcome = start_run(options, index=tmp_path / "index.sqlite")
    assert outcome.status == "waiting_review"
    assert outcome.pending_review is not None and outcome.pending_review["stage"] == "signature"
    assert outcome.message.startswith("waiting for a review of signature")
    info, stored = get_thread("rv-1", repo=sample_repo)
    assert info.status == "waiting_review"
    assert stored is not None and stored.pending_review == outcome.pending_review
    monkeypatch.chdir(tmp_path)
    stages = []
    while outcome.status == "waiting_review":
        assert outcome.pending_review is not None
        stages.append(outcome.pending_review["stage"])
        outcome = resume_run(
            "rv-1", index=tmp_path / "index.sqlite", decision={"action": "approve"}
        )
    assert stages == ["signature", "setup", "body", "integration"]
    assert outcome.status == "passed" and outcome.dry_run and not outcome.written
    assert "square" not in (sample_repo / "sample_pkg" / "mathx.py").read_text()


def test_a_thread_run_by_another_process_is_refused_and_a_dead_one_shows_stopped(
    tmp_path: Path, sample_repo: Path
) -> None:
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=_model(tmp_path, **{"body[0]": "return n * n"}),
        review=True,
        thread="busy",
    )
    start_run(options)
    with open_store(default_db(sample_repo)) as store:
        store.update("busy", status="running")
        assert [i.status for i in list_threads(repo=sample_repo)] == ["stopped"]
        with store.lock("busy"):
            assert [i.status for i in list_threads(repo=sample_repo)] == ["running"]
            with pytest.raises(ThreadBusyError) as caught:
                resume_run("busy", repo=sample_repo, decision="approve")
    assert str(caught.value) == (
        f"thread 'busy' is being run by pid {os.getpid()} on {os.uname().nodename}; wait for it "
        "to finish (`beadline bead threads` shows it), or stop that process"
    )
    assert resume_run("busy", repo=sample_repo, decision="approve").status == "waiting_review"


def test_resume_can_change_the_model(tmp_path: Path, sample_repo: Path) -> None:
    failing = _model(tmp_path, **{"body[0]": "return 0"})
    options = BeadRunOptions(
        bead=SQUARE, repo=str(sample_repo), model=failing, review=True, thread="m"
    )
    assert start_run(options).status == "waiting_review"
    good = _model(tmp_path, **{"body[0]": "return n * n"})
    outcome = resume_run(
        "m", repo=sample_repo, decision="approve", model={"model": good.model, "backend": None}
    )
    while outcome.status == "waiting_review":
        outcome = resume_run("m", repo=sample_repo, decision="approve")
    assert outcome.status == "passed"
    with open_store(default_db(sample_repo)) as store:
        record = store.get("m")
    assert record is not None and record.options["model"]["model"] == good.model


def test_bad_input_is_one_line_and_runs_nothing(tmp_path: Path, sample_repo: Path) -> None:
    model = _model(tmp_path, **{"body[0]": "return n * n"})
    with pytest.raises(UserError) as caught:
        start_run(BeadRunOptions(bead="bd-k3x", model=model))
    assert str(caught.value) == (
        "bead 'bd-k3x' is a tracker id but no repository holds a .beads/ tracker here; pass "
        "--repo DIR (or run inside the repository), or a YAML bead file"
    )
    with pytest.raises(UserError, match=r"thread id 'a/b' is not valid"):
        start_run(BeadRunOptions(bead=SQUARE, repo=str(sample_repo), model=model, thread="a/b"))
    start_run(BeadRunOptions(bead=SQUARE, repo=str(sample_repo), model=model, thread="t"))
    with pytest.raises(UserError, match=r"thread 't' already exists in .*beads\.sqlite"):
        start_run(BeadRunOptions(bead=SQUARE, repo=str(sample_repo), model=model, thread="t"))
    with pytest.raises(UserError) as caught:
        resume_run("t", repo=tmp_path)
    assert str(caught.value) == (
        f"no bead runs in {tmp_path} (no .beadline/beads.sqlite); pass the repository the bead "
        "was built in (--repo DIR) or --db"
    )
    with pytest.raises(UserError, match=r"no bead run with thread 'nope' in .*; known threads: t"):
        resume_run("nope", repo=sample_repo)
    review = BeadRunOptions(
        bead=SQUARE, repo=str(sample_repo), model=model, review=True, thread="rv"
    )
    plain = review.model_copy(update={"review": False, "thread": "nr"})
    with open_store(default_db(sample_repo)) as store:  # a thread killed mid-stage
        store.save(ThreadRecord(thread_id="nr", bead_id="square", repo=str(sample_repo),
                                status="running", options=plain.stored()))  # fmt: skip
    with pytest.raises(UserError) as caught:
        resume_run("nr", repo=sample_repo, decision="approve")
    assert str(caught.value) == (
        "thread 'nr' is not waiting for a review (it is running); resume it without a decision"
    )
    assert start_run(review).status == "waiting_review"


# ---- the bd loop ---------------------------------------------------------------------------


def test_bd_loop_claims_notes_and_closes_with_the_report(
    tmp_path: Path, fake_bd: Path, textkit_repo: Path
) -> None:
    events: list[dict[str, Any]] = []
    script = {**SLUGIFY, "body[1]": ["return text", SLUGIFY["body[1]"]]}
    bead_id, skipped = next_ready_bead(textkit_repo)
    assert (bead_id, skipped) == ("bd-k3x.1", [])
    outcome = start_run(
        BeadRunOptions(
            bead=bead_id, repo=str(textkit_repo), model=_model(tmp_path, **script), thread="k1"
        ),
        on_event=events.append,
    )
    assert outcome.status == "passed", outcome.message
    assert outcome.tracker == f"bd in {textkit_repo} (written back as beadline)"
    assert outcome.tracker_log == (
        "claimed bd-k3x.1 as beadline",
        "noted a failure on bd-k3x.1",
        "closed bd-k3x.1",
    )
    [issue] = _bd(textkit_repo, "show", "bd-k3x.1")
    assert issue["status"] == "closed" and issue["assignee"] == "beadline"
    assert issue["close_reason"] == "beadline: built; report .beadline/reports/k1.md"
    assert issue["notes"] == (
        "beadline: integration attempt 1 failed: 0/1 unit tests passed; first failure: "
        "assert slugify('Ça va') == 'ca-va': expected 'ca-va', got 'Ca va'"
    )
    assert "def slugify(text: str) -> str:" in (textkit_repo / "textkit" / "slug.py").read_text()
    assert [e["message"] for e in events if e["event"] == "tracker"] == [
        "noted a failure on bd-k3x.1",
        "closed bd-k3x.1",
    ]
    # closed now: refused, unless forced (then it is built again without a claim)
    again = BeadRunOptions(
        bead="bd-k3x.1", repo=str(textkit_repo), model=_model(tmp_path, **SLUGIFY)
    )
    with pytest.raises(UserError) as caught:
        start_run(again)
    assert str(caught.value) == (
        "bead bd-k3x.1 is closed; reopen it in the tracker, or pass --force to build it anyway"
    )
    forced = start_run(again.model_copy(update={"force": True, "thread": "k2"}))
    assert forced.status == "passed"
    assert forced.tracker_log[0] == (
        "not claimed (--force): bead bd-k3x.1 cannot be claimed: issue not claimable: status closed"
    )


def test_bd_loop_marks_a_bead_blocked_when_the_budget_runs_out(
    tmp_path: Path, fake_bd: Path, textkit_repo: Path
) -> None:
    script = {**SLUGIFY, "body[0]": "return text.lower()"}
    outcome = start_run(
        BeadRunOptions(
            bead="bd-k3x", repo=str(textkit_repo), model=_model(tmp_path, **script), thread="b"
        )
    )
    assert outcome.status == "failed"
    [issue] = _bd(textkit_repo, "show", "bd-k3x")
    assert issue["status"] == "blocked"
    notes = issue["notes"].splitlines()
    # the unit tests fail at integration, the body is revised, and the scripted model keeps
    # returning the code that just failed: refused (not run again) until the budget is spent
    assert notes[-1].startswith("beadline: failed: bead bd-k3x: stage body[0] failed after 4")
    assert notes[-1].endswith("; report .beadline/reports/b.md")
    assert [n.split(" failed: ")[0] for n in notes[:-1]] == [
        "beadline: integration attempt 1",
        *(f"beadline: body part 1 attempt {i}" for i in (2, 3, 4)),
    ]
    assert "the generator returned the code that just failed" in notes[1]
    with pytest.raises(UserError, match="bead bd-k3x is blocked; unblock it"):
        start_run(BeadRunOptions(bead="bd-k3x", repo=str(textkit_repo)))


def test_a_bead_waiting_for_open_dependencies_is_refused(
    tmp_path: Path, fake_bd: Path, textkit_repo: Path
) -> None:
    with pytest.raises(UserError) as caught:
        start_run(BeadRunOptions(bead="bd-a9w", repo=str(textkit_repo)))
    assert str(caught.value) == (
        "bead bd-a9w waits for bd-7qm (open); finish those first, or pass --force to build it "
        "anyway"
    )
    assert not (textkit_repo / ".beadline").exists()  # nothing ran, nothing was stored


def test_without_bd_the_export_is_read_and_nothing_is_written_back(
    tmp_path: Path, textkit_repo: Path
) -> None:
    export = textkit_repo / ".beads" / "issues.jsonl"
    before = export.read_text()
    outcome = start_run(
        BeadRunOptions(bead="bd-k3x.1", repo=str(textkit_repo), model=_model(tmp_path, **SLUGIFY))
    )
    assert outcome.status == "passed"
    assert outcome.tracker == f"{export} (read-only: nothing is written back)"
    assert outcome.tracker_log == ()
    assert export.read_text() == before


def test_a_resume_reports_what_the_thread_kept(tmp_path: Path, sample_repo: Path) -> None:
    options = BeadRunOptions(
        bead=SQUARE,
        repo=str(sample_repo),
        model=_model(tmp_path, **{"body[0]": "return n * n"}),
        review=True,
        thread="kept-1",
    )
    assert start_run(options).pending_review["stage"] == "signature"  # type: ignore[index]
    events: list[dict[str, Any]] = []
    outcome = resume_run("kept-1", repo=sample_repo, decision="approve", on_event=events.append)
    assert outcome.pending_review is not None and outcome.pending_review["stage"] == "setup"
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["run_started", "restored"]
    restored = events[1]
    assert restored["waiting"] is True and restored["pending"]["stage"] == "signature"
    assert [(h["stage"], h["ok"]) for h in restored["history"]] == [("signature", True)]
    assert restored["baseline"]["ok"] is True and restored["bead"] == "square"
    events.clear()
    resume_run("kept-1", repo=sample_repo, decision="approve", on_event=events.append)
    history = events[1]["history"]
    assert [(h["stage"], bool(h.get("approved"))) for h in history] == [
        ("signature", False),
        ("signature", True),
        ("setup", False),
    ]
    assert events[1]["pending"]["stage"] == "setup"
