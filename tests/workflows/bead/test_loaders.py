"""The bead loaders: YAML files, bd tracker JSONL, by path or id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from beadline.workflows.bead.loaders import (
    bead_from_issue,
    is_bead_file,
    load_bead,
    load_bead_file,
    load_bead_from_jsonl,
)
from beadline.workflows.errors import BeadError

from .test_spec import GOOD

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_example_beads_load_and_resolve_their_repository() -> None:
    beads = [load_bead_file(p) for p in sorted((EXAMPLES / "beads").glob("[0-9]-*.yaml"))]
    assert [b.id for b in beads] == ["square", "count-vowels", "second-largest"]
    for bead in beads:
        assert bead.repo == str((EXAMPLES / "sample_repo").resolve())
        assert bead.integration is not None
        assert bead.integration.command[:3] == ("python", "-m", "unittest")
        assert all(t.kind == "assert" for t in bead.unit_tests())
        assert bead.target.create
    assert beads[2].target.signature is None
    repo_beads = [load_bead_file(p) for p in sorted((EXAMPLES / "beads").glob("inventory-*.yaml"))]
    assert [b.target.function for b in repo_beads] == [
        "AuthService.authenticate",
        "order_total",
        "inventory_value",
    ]
    for bead in repo_beads:
        assert bead.repo == str((EXAMPLES / "inventory_repo").resolve())
        assert bead.integration is not None and bead.integration.command[2] == "pytest"


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
    # an issue asks for work: a target the module lacks is written new
    assert bead.integration is None and bead.target.create


def test_jsonl_method_targets_and_create(tmp_path: Path) -> None:
    issue = {
        "id": "q-10",
        "title": "Log in",
        "description": "Check a login.",
        "design": "file: inv/auth.py\nfunction: AuthService.authenticate\ncreate: true",
        "acceptance_criteria": "```python\nassert AuthService(None).authenticate('a', 'b') is False\n```",
    }
    path = tmp_path / "issues.jsonl"
    path.write_text(json.dumps(issue) + "\n")
    bead = load_bead_from_jsonl(path, "q-10")
    assert bead.target.function == "AuthService.authenticate" and bead.target.create
    assert bead.target.name == "authenticate" and bead.target.is_method


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


BD = Path(__file__).resolve().parents[2] / "data" / "bd"


def _recorded(name: str) -> dict[str, Any]:
    data = json.loads((BD / name).read_text(encoding="utf-8"))
    return dict(data[0] if isinstance(data, list) else data)


def test_a_recorded_bd_issue_in_prose_becomes_a_bead() -> None:
    bead = bead_from_issue(_recorded("show_feature.json"))
    assert bead.id == "bd-k3x"
    assert bead.target.file == "textkit/slug.py" and bead.target.function == "slugify"
    assert bead.target.signature == "def slugify(text: str) -> str:"
    assert bead.tests == (
        "assert slugify('Hello World') == 'hello-world'",
        "assert slugify('  a  b ') == 'a-b'",
        "assert slugify('Déjà vu') == 'deja-vu'",
    )
    # "Integration: pytest -q tests/test_slug.py" is run; "Integration: run the tests" is a
    # requirement the model is shown, never a command
    assert bead.integration is not None
    assert bead.integration.command == ("pytest", "-q", "tests/test_slug.py")
    assert bead.description.endswith(
        "Integration requirements (stated in the issue; not run as commands):\n- run the tests"
    )


def test_a_child_issue_takes_its_parent_s_target_and_command() -> None:
    child = _recorded("show_child.json")
    bead = bead_from_issue(child, parent=child["dependencies"][0])
    assert bead.id == "bd-k3x.1"
    assert bead.tests == ("assert slugify('Ça va') == 'ca-va'",)
    assert bead.target.file == "textkit/slug.py"
    assert bead.target.signature == "def slugify(text: str) -> str:"
    assert bead.integration is not None and bead.integration.command[0] == "pytest"
    assert "From the parent issue bd-k3x: target file textkit/slug.py" in bead.notes
    with pytest.raises(BeadError, match="no target file"):
        bead_from_issue(child)


def test_child_ids_load_from_the_export_with_the_parent(tmp_path: Path) -> None:
    beads = tmp_path / ".beads"
    beads.mkdir()
    (beads / "issues.jsonl").write_text((BD / "issues.jsonl").read_text(encoding="utf-8"))
    bead = load_bead("bd-k3x.1", beads_file=beads / "issues.jsonl")
    assert bead.target.file == "textkit/slug.py"
    assert bead.repo == str(tmp_path.resolve())
    assert is_bead_file("bd-k3x.1") is False and is_bead_file("b.yaml") is True


def test_two_integration_commands_are_refused(tmp_path: Path) -> None:
    issue = {
        "id": "x-1",
        "description": "file: m.py\n- assert f(1) == 1",
        "acceptance_criteria": "Integration: pytest -q\nIntegration: make lint",
    }
    with pytest.raises(BeadError) as caught:
        bead_from_issue(issue)
    assert str(caught.value) == (
        "issue 'x-1': the issue gives 2 integration commands (pytest -q; make lint); keep one "
        "`Integration:` command (others can be prose)"
    )
    issue["acceptance_criteria"] = "Integration: pytest -q\nIntegration: `make lint` also"
    issue["description"] = "Touch a.py and b/c.py.\n- assert f(1) == 1"
    with pytest.raises(BeadError, match=r"mentions several Python files \(a\.py, b/c\.py\)"):
        bead_from_issue(issue)
