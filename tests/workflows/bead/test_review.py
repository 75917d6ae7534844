"""Review payloads: answers, and what a question shows besides the stage's code (the function so
far, where it lands in its file, and at integration the diff that approving writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from beadline.workflows.bead.apply import apply_bead
from beadline.workflows.bead.loaders import load_bead_file
from beadline.workflows.bead.review import make_payload, parse_answer

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
VOWELS = load_bead_file(EXAMPLES / "beads" / "2-count-vowels.yaml")
SIGNATURE = VOWELS.target.signature or ""
PART_1 = "    count = 0"
PART_2 = "for ch in s:\n    if ch in 'aeiou':\n        count += 1"

PENDING = {
    "stage": "body",
    "part": 0,
    "attempt": 3,
    "ok": False,
    "code": "    return a",
    "summary": "1/2 unit tests passed",
    "evidence": ["test `assert bigger(1, 2) == 2` failed: expected 2, got 1"],
}


def _pending(stage: str, code: str, part: int = 0, **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "part": part, "attempt": 1, "ok": True, "code": code, **extra}


def _payload(repo: Path | None, pending: dict[str, Any], **state: Any) -> Any:
    full = {"repo": str(repo) if repo else None, "setup": "", "signature": SIGNATURE}
    return make_payload(
        bead_id=VOWELS.id,
        pending=pending,
        program="",
        exhausted=False,
        bead=VOWELS,
        state={**full, **state},
    )


def _merged_lines(repo: Path, function: str) -> list[str]:
    """The file as the write makes it when the function is new: appended after two blank
    lines."""
    original = (repo / VOWELS.target.file).read_text()
    return (original.rstrip("\n") + "\n\n\n" + function).splitlines()


def test_payload_and_answers() -> None:
    payload = make_payload(
        bead_id="b", pending=PENDING, program="def bigger(a, b):\n", exhausted=True
    )
    assert payload["kind"] == "budget" and payload["stage"] == "body" and payload["attempt"] == 3
    assert payload["actions"] == ["approve", "edit", "retry", "abort"]
    assert "diff" not in payload  # no bead and state given: no preview fields
    assert parse_answer("APPROVE").action == "approve"
    assert parse_answer({"action": "retry", "hint": "h"}).hint == "h"


def test_a_body_part_shows_the_function_so_far_and_its_lines_in_the_file(
    sample_repo: Path,
) -> None:
    payload = _payload(sample_repo, _pending("body", PART_2, part=1), parts=[PART_1])
    function = (
        SIGNATURE
        + "    count = 0\n    for ch in s:\n        if ch in 'aeiou':\n            count += 1\n"
    )
    assert payload["function"] == function
    assert payload["focus"] == [4, 6]  # under the def, its docstring and part 1
    assert payload["file"] == "sample_pkg/text.py" and payload["note"] == ""
    lines = _merged_lines(sample_repo, function)
    first = lines.index("    for ch in s:") + 1
    assert payload["focus_file"] == [[first, first + 2]]
    assert "+    count = 0\n" in payload["diff"] and "+            count += 1\n" in payload["diff"]
    assert payload["diff"].startswith("--- a/sample_pkg/text.py\n+++ b/sample_pkg/text.py\n")


def test_a_signature_without_a_body_ends_in_a_placeholder(sample_repo: Path) -> None:
    payload = _payload(sample_repo, _pending("signature", SIGNATURE.rstrip()), signature="")
    assert payload["function"] == SIGNATURE + "    ...\n"
    assert payload["focus"] == [1, 2]
    lines = _merged_lines(sample_repo, payload["function"])
    first = lines.index(SIGNATURE.splitlines()[0]) + 1
    assert payload["focus_file"] == [[first, first + 1]]


def test_the_setup_under_review_is_found_where_it_is_merged(sample_repo: Path) -> None:
    payload = _payload(sample_repo, _pending("setup", "import string"), parts=[PART_1])
    merged = payload["diff"].splitlines()
    assert "+import string" in merged
    # the module docstring is line 1; the import goes under it after a blank line
    assert payload["focus_file"] == [[3, 3]]
    assert merged[merged.index("+import string") - 1] == "+"
    assert payload["function"] == SIGNATURE + PART_1 + "\n" and payload["focus"] == []


def test_the_integration_diff_is_what_approving_writes(sample_repo: Path) -> None:
    function = SIGNATURE + "    return sum(ch in VOWELS for ch in s)\n"
    payload = _payload(
        sample_repo,
        _pending("integration", function, function=function),
        setup="import string",
        parts=["    return sum(ch in VOWELS for ch in s)"],
    )
    written = apply_bead(VOWELS, sample_repo, function, "import string")
    assert written.written and payload["diff"] == written.diff != ""
    assert "+import string\n" in payload["diff"]
    assert "+def count_vowels(s: str) -> int:\n" in payload["diff"]


def test_a_stub_the_function_replaces_shows_as_removed(sample_repo: Path) -> None:
    target = sample_repo / VOWELS.target.file
    target.write_text(
        target.read_text() + "\n\ndef count_vowels(s):\n    raise NotImplementedError\n"
    )
    payload = _payload(sample_repo, _pending("body", PART_1), parts=[])
    assert "-    raise NotImplementedError\n" in payload["diff"]
    assert "-def count_vowels(s):\n" in payload["diff"]


def test_without_a_repository_or_with_a_broken_file_the_note_says_why(sample_repo: Path) -> None:
    alone = _payload(None, _pending("body", PART_1))
    assert alone["diff"] == "" and alone["note"] == "no target repository: nothing will be written"
    assert alone["function"] == SIGNATURE + PART_1 + "\n"
    (sample_repo / VOWELS.target.file).write_text("def broken(:\n")
    broken = _payload(sample_repo, _pending("body", PART_1))
    assert broken["diff"] == ""
    assert broken["note"] == (
        "cannot place it: bead count-vowels: sample_pkg/text.py does not parse (line 1: "
        "invalid syntax); fix it first"
    )
