"""The bead model: validation errors name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from beadline.workflows.bead.spec import entry_point_of_tests, parse_bead
from beadline.workflows.errors import BeadError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GOOD = {
    "id": "x-1",
    "description": "Double n.",
    "target": {"file": "pkg/m.py", "function": "double"},
    "tests": ["assert double(2) == 4"],
}


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


def test_entry_point_of_tests() -> None:
    assert entry_point_of_tests(["assert len(f(1)) == 2", "assert f(2) == [1]"]) == "f"
    assert entry_point_of_tests(["assert True"]) is None
