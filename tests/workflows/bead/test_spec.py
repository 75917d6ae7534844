"""The bead model and its loaders (YAML files, bd tracker JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beadline.workflows.bead.spec import (
    entry_point_of_tests,
    load_bead,
    load_bead_file,
    load_bead_from_jsonl,
    parse_bead,
)
from beadline.workflows.errors import BeadError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GOOD = {
    "id": "x-1",
    "description": "Double n.",
    "target": {"file": "pkg/m.py", "function": "double"},
    "tests": ["assert double(2) == 4"],
}


def test_example_beads_load_and_resolve_their_repository() -> None:
    beads = [load_bead_file(p) for p in sorted((EXAMPLES / "beads").glob("*.yaml"))]
    assert [b.id for b in beads] == ["square", "count-vowels", "second-largest"]
    for bead in beads:
        assert bead.repo == str((EXAMPLES / "sample_repo").resolve())
        assert bead.integration is not None
        assert bead.integration.command[:3] == ("python", "-m", "unittest")
        assert all(t.kind == "assert" for t in bead.unit_tests())
    assert beads[2].target.signature is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"target": {"file": "/etc/passwd.py", "function": "f"}},
            "target.file: '/etc/passwd.py' must be a path inside",
        ),
        ({"target": {"file": "m.txt", "function": "f"}}, "is not a Python file"),
        (
            {"target": {"file": "m.py", "function": "not valid"}},
            "target.function: 'not valid' is not a Python identifier",
        ),
        (
            {"target": {"file": "m.py", "function": "f", "signature": "def g(x):"}},
            "does not define 'f'",
        ),
        ({"tests": ["double(2) == 4"]}, "must be one `assert ...` line"),
        ({"tests": ["assert double(2 =="]}, "does not parse"),
        ({"tests": []}, "the bead has no unit tests"),
        ({"description": "  "}, "description: say in words"),
        ({"colour": "red"}, "colour: is not a bead field"),
        ({"budgets": {"body_part": 0}}, "budgets.body_part"),
        ({"integration": {"command": ""}}, "integration.command"),
    ],
)
def test_invalid_beads_name_the_field_and_the_fix(change: dict[str, object], message: str) -> None:
    with pytest.raises(BeadError) as info:
        parse_bead({**GOOD, **change}, source="t.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("invalid bead t.yaml:")


def test_missing_fields_say_they_are_required() -> None:
    with pytest.raises(BeadError, match="target: is required; add it"):
        parse_bead({"id": "a", "description": "d", "tests": ["assert f(1) == 1"]})


def test_yaml_file_errors(tmp_path: Path) -> None:
    with pytest.raises(BeadError, match="not found"):
        load_bead_file(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(BeadError, match="not valid YAML"):
        load_bead_file(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(BeadError, match="must hold a mapping"):
        load_bead_file(listing)
    noid = tmp_path / "my-bead.yaml"
    noid.write_text(json.dumps({k: v for k, v in GOOD.items() if k != "id"}))
    assert load_bead_file(noid).id == "my-bead"


def test_jsonl_loader_reads_tests_target_and_command() -> None:
    path = EXAMPLES / "sample_repo" / ".beads" / "issues.jsonl"
    one = load_bead_from_jsonl(path, "sp-1")
    assert one.target.file == "sample_pkg/mathx.py" and one.target.function == "double"
    assert one.target.signature == "def double(n: int) -> int:"
    assert one.tests == ("assert double(2) == 4", "assert double(-3) == -6")
    assert one.integration is not None and one.integration.command[0] == "python"
    assert one.repo == str((EXAMPLES / "sample_repo").resolve())
    two = load_bead_from_jsonl(path, "sp-2")
    assert two.target.function == "count_words" and two.target.signature is None
    assert two.tests == ("assert count_words('a b  c') == 3", "assert count_words('') == 0")
    assert "Use str.split." in two.notes


def test_jsonl_function_defaults_to_what_the_tests_call(tmp_path: Path) -> None:
    issue = {
        "id": "q-9",
        "title": "Triple",
        "description": "",
        "design": "File: `pkg/m.py`\n\n```\nassert triple(1) == 3\n```",
        "acceptance_criteria": "",
    }
    path = tmp_path / "issues.jsonl"
    path.write_text(json.dumps(issue) + "\n\n")
    bead = load_bead_from_jsonl(path, "q-9")
    assert bead.target.function == "triple" and bead.description == "Triple"
    assert bead.tests == ("assert triple(1) == 3",)
    assert bead.integration is None


def test_jsonl_unknown_id_lists_known_ids(tmp_path: Path) -> None:
    path = EXAMPLES / "sample_repo" / ".beads" / "issues.jsonl"
    with pytest.raises(BeadError, match=r"no bead with id 'sp-404' .*known ids: sp-1, sp-2"):
        load_bead_from_jsonl(path, "sp-404")
    with pytest.raises(BeadError, match=r"beads file .* not found"):
        load_bead_from_jsonl(tmp_path / "none.jsonl", "x")


def test_jsonl_bad_issues_are_explained(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_text('{"id": "a", "description": "d"}\nnot json\n')
    with pytest.raises(BeadError, match=r"issues.jsonl:2 is not valid JSON"):
        load_bead_from_jsonl(path, "zzz")
    with pytest.raises(BeadError, match=r"no target file; add a line `file: path/to/module\.py`"):
        load_bead_from_jsonl(path, "a")
    path.write_text(json.dumps({"id": "b", "description": "d", "design": "file: m.py"}) + "\n")
    with pytest.raises(BeadError, match=r"no tests; put `assert \.\.\.` lines"):
        load_bead_from_jsonl(path, "b")


def test_load_bead_dispatches_on_path_or_id() -> None:
    assert load_bead(str(EXAMPLES / "beads" / "1-square.yaml")).id == "square"
    beads_file = EXAMPLES / "sample_repo" / ".beads" / "issues.jsonl"
    assert load_bead("sp-2", beads_file=beads_file).id == "sp-2"


def test_entry_point_of_tests() -> None:
    assert entry_point_of_tests(["assert len(f(1)) == 2", "assert f(2) == [1]"]) == "f"
    assert entry_point_of_tests(["assert True"]) is None
