"""Trackers: bd through its CLI (the stand-in, checked against recorded outputs), the JSONL
export read-only, and which beads a run must refuse."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from beadline.workflows.bead.tracker import (
    BdTracker,
    ClaimError,
    JsonlTracker,
    TrackerError,
    open_tracker,
    ready_beads,
    refusal,
)
from beadline.workflows.errors import BeadError, UserError

BD = Path(__file__).resolve().parents[2] / "data" / "bd"


def _bd(repo: Path, *args: str, actor: str = "beadline") -> Any:
    done = subprocess.run(
        ["bd", *args, "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BEADS_ACTOR": actor},
    )
    return json.loads(done.stdout)


def test_open_tracker_picks_bd_when_installed(fake_bd: Path, textkit_repo: Path) -> None:
    tracker = open_tracker(textkit_repo)
    assert isinstance(tracker, BdTracker) and tracker.writes_back
    assert tracker.describe() == f"bd in {textkit_repo} (written back as beadline)"
    export = textkit_repo / ".beads" / "issues.jsonl"
    explicit = open_tracker(textkit_repo, beads_file=export)
    assert isinstance(explicit, JsonlTracker) and not explicit.writes_back


def test_without_bd_the_export_is_read_only(textkit_repo: Path, tmp_path: Path) -> None:
    tracker = open_tracker(textkit_repo, which=lambda name: None)
    assert isinstance(tracker, JsonlTracker)
    assert tracker.describe().endswith("issues.jsonl (read-only: nothing is written back)")
    with pytest.raises(TrackerError, match="it is read-only"):
        tracker.claim("bd-k3x")
    with pytest.raises(BeadError) as caught:
        open_tracker(tmp_path, which=lambda name: None)
    assert str(caught.value) == (
        f"no tracker in {tmp_path}: bd is not on PATH and there is no .beads/issues.jsonl; pass "
        "--repo DIR (the repository holding .beads/), --beads-file PATH, or a YAML bead file"
    )


@pytest.mark.parametrize("kind", ["bd", "jsonl"])
def test_both_trackers_agree_on_show_and_ready(
    kind: str, fake_bd: Path, textkit_repo: Path
) -> None:
    tracker = (
        open_tracker(textkit_repo)
        if kind == "bd"
        else JsonlTracker(textkit_repo / ".beads" / "issues.jsonl")
    )
    assert [i.id for i in tracker.ready()] == ["bd-k3x.1", "bd-k3x", "bd-7qm"]
    blocked = tracker.show("bd-a9w")
    assert blocked.blockers == ("bd-7qm (open)",) and blocked.priority == 0
    child = tracker.show("bd-k3x.1")
    assert child.parent is not None and child.parent["id"] == "bd-k3x"
    assert child.bead().target.file == "textkit/slug.py"
    with pytest.raises(BeadError, match="no bead with id 'bd-zzz'"):
        tracker.show("bd-zzz")
    listed = ready_beads(tracker)
    assert [(r.issue.id, r.bead is not None) for r in listed] == [
        ("bd-k3x.1", True),
        ("bd-k3x", True),
        ("bd-7qm", False),
    ]
    assert listed[2].problem.startswith("no target file")


def test_bd_writes_claim_notes_close_and_block(fake_bd: Path, textkit_repo: Path) -> None:
    tracker = open_tracker(textkit_repo)
    tracker.claim("bd-k3x.1")
    tracker.claim("bd-k3x.1")  # idempotent for the same actor
    tracker.append_notes("bd-k3x.1", "beadline: body part 1 attempt 1 failed: x")
    tracker.close("bd-k3x.1", "beadline: built; report .beadline/reports/t.md")
    [closed] = _bd(textkit_repo, "show", "bd-k3x.1")
    assert closed["status"] == "closed" and closed["assignee"] == "beadline"
    assert closed["notes"] == "beadline: body part 1 attempt 1 failed: x"
    assert closed["close_reason"] == "beadline: built; report .beadline/reports/t.md"
    tracker.block("bd-7qm", "beadline: failed: no luck")
    [blocked] = _bd(textkit_repo, "show", "bd-7qm")
    assert blocked["status"] == "blocked" and blocked["notes"] == "beadline: failed: no luck"
    with pytest.raises(ClaimError) as caught:
        tracker.claim("bd-k3x.1")
    assert (
        str(caught.value) == "bead bd-k3x.1 cannot be claimed: issue not claimable: status closed"
    )


def test_a_bead_claimed_by_someone_else_is_refused(fake_bd: Path, textkit_repo: Path) -> None:
    _bd(textkit_repo, "update", "bd-k3x", "--claim", actor="alice")
    tracker = open_tracker(textkit_repo)
    issue = tracker.show("bd-k3x")
    assert refusal(issue) == (
        "bead bd-k3x is claimed by alice; leave it to them, or ask them to release it"
    )
    assert refusal(issue, force=True) == refusal(issue)  # --force does not take others' work
    with pytest.raises(ClaimError) as caught:
        tracker.claim("bd-k3x")
    assert str(caught.value) == "bead bd-k3x cannot be claimed: issue already claimed by alice"
    assert refusal(issue, actor="alice") is None


def test_refusals_for_closed_blocked_and_waiting_beads(fake_bd: Path, textkit_repo: Path) -> None:
    tracker = open_tracker(textkit_repo)
    assert refusal(tracker.show("bd-a9w")) == (
        "bead bd-a9w waits for bd-7qm (open); finish those first, or pass --force to build it "
        "anyway"
    )
    tracker.close("bd-k3x.1", "done")
    assert refusal(tracker.show("bd-k3x.1")) == (
        "bead bd-k3x.1 is closed; reopen it in the tracker, or pass --force to build it anyway"
    )
    tracker.block("bd-7qm", "stuck")
    assert refusal(tracker.show("bd-7qm")) == (
        "bead bd-7qm is blocked; unblock it in the tracker, or pass --force to build it anyway"
    )
    # a blocked blocker still blocks; --force builds anyway
    assert refusal(tracker.show("bd-a9w")) is not None
    assert refusal(tracker.show("bd-a9w"), force=True) is None
    assert [i.id for i in tracker.ready()] == ["bd-k3x"]
    assert [i.id for i in JsonlTracker(textkit_repo / ".beads" / "issues.jsonl").ready()] == [
        "bd-k3x"
    ]


def _runner(stdout: str, stderr: str = "", code: int = 0) -> Any:
    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, code, stdout, stderr)

    return run


def test_bd_json_envelope_and_errors(tmp_path: Path) -> None:
    recorded = (BD / "show_feature.json").read_text(encoding="utf-8")
    envelope = json.dumps({"schema_version": 1, "data": json.loads(recorded)})
    tracker = BdTracker(tmp_path, runner=_runner(envelope))
    assert tracker.show("bd-k3x").title == "Add a slugify helper"
    missing = (BD / "show_missing.json").read_text(encoding="utf-8")
    stderr = 'Error fetching bd-zzz: no issue found matching "bd-zzz"\n'
    tracker = BdTracker(tmp_path, runner=_runner(missing, stderr, 1))
    with pytest.raises(BeadError) as caught:
        tracker.show("bd-zzz")
    assert str(caught.value) == (
        f"no bead with id 'bd-zzz' in bd ({tmp_path}): Error fetching bd-zzz: no issue found "
        'matching "bd-zzz"; list them with `beadline bead ready` or `bd list`'
    )
    broken = BdTracker(tmp_path, runner=_runner("not json"))
    with pytest.raises(TrackerError, match="printed no JSON"):
        broken.ready()
    assert isinstance(caught.value, UserError)
