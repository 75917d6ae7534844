"""Reading a tracker issue's prose: asserts in every Markdown form, integration lines, paths."""

from __future__ import annotations

import pytest

from beadline.workflows.bead._issue_text import (
    assert_lines,
    is_command,
    python_paths,
    read_issue_text,
    signature_from_prose,
)


def test_asserts_in_fences_bullets_inline_code_and_after_a_colon() -> None:
    text = "\n".join(
        [
            "Some prose; we assert it works.",
            "- assert f(1) == 2",
            "* [ ] assert f(2) == 4",
            "1. assert f(3) == 6",
            "Also `assert f(4) == 8` holds.",
            "Edge case: assert f(0) == 0",
            "assert f(5) == 10",
            "```python",
            "assert f(6) == 12",
            ">>> assert f(7) == 14",
            "x = 1",
            "```",
            "```text",
            "assert f(8) == 16",
            "```",
            "- assert not valid python ((",
            "- assert ready",
        ]
    )
    assert assert_lines(text) == [
        "assert f(6) == 12",
        "assert f(7) == 14",
        "assert f(1) == 2",
        "assert f(2) == 4",
        "assert f(3) == 6",
        "assert f(4) == 8",
        "assert f(0) == 0",
        "assert f(5) == 10",
        "assert ready",
    ]


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("pytest -q tests/test_slug.py", True),
        ("python -m unittest discover -s tests -t .", True),
        ("make test", True),
        ("npm test", True),
        ("tox -e py311", True),
        ("./run_tests.sh", True),
        ("`check everything`", True),
        ("run the tests", False),
        ("make sure the whole suite passes", False),
        ("ensure all tests pass", False),
        ("check that nothing breaks", False),
        ("the CLI's tests must stay green", False),
    ],
)
def test_integration_lines_are_commands_or_requirements(line: str, command: bool) -> None:
    assert is_command(line, which=lambda name: None) is command


def test_a_program_on_path_is_a_command() -> None:
    assert is_command("just-ci lint", which=lambda name: "/usr/bin/" + name)
    assert not is_command("just-ci lint", which=lambda name: None)


def test_read_issue_text_splits_commands_requirements_keys_and_paths() -> None:
    read = read_issue_text(
        {
            "description": "Add `slugify(text: str) -> str` to `textkit/slug.py`.\n- assert slugify('A') == 'a'",
            "design": "file: textkit/other.py\nSee tests/test_slug.py for more.",
            "acceptance_criteria": "Integration: run the tests\nIntegration: pytest -q tests",
            "notes": "beadline: body part 1 attempt 1 failed: assert slugify('B') == 'b'",
        },
        which=lambda name: None,
    )
    assert read.tests == ("assert slugify('A') == 'a'",)  # notes are never read as tests
    assert read.keys == {"file": "textkit/other.py"}
    assert read.commands == ("pytest -q tests",)
    assert read.requirements == ("run the tests",)
    assert read.paths == ("textkit/slug.py", "textkit/other.py", "tests/test_slug.py")


def test_paths_and_signatures_from_prose() -> None:
    assert python_paths(["in src/pkg/mod.py and `a.py`, not ```\nx.py\n```"]) == [
        "src/pkg/mod.py",
        "a.py",
    ]
    texts = ["Write `def total(items: list[Item]) -> float` now", "`slugify(text)`"]
    assert signature_from_prose(texts, "total") == "def total(items: list[Item]) -> float:"
    assert signature_from_prose(texts, "slugify") == "def slugify(text):"
    assert signature_from_prose(texts, "missing") is None
