"""Executable partial programs (DESIGN.md §1)."""

from __future__ import annotations

import ast

import pytest

from beadline.validators.partial import make_executable


def test_complete_code_is_kept() -> None:
    result = make_executable("def f(x):\n    return x + 1\n")
    assert result.kind == "complete"
    assert result.code == "def f(x):\n    return x + 1\n"
    assert result.ok and result.program == result.code


def test_partial_last_line_is_dropped() -> None:
    result = make_executable("def f(x):\n    y = x * 2\n    return y +")
    assert result.kind == "dropped_last_line"
    assert result.code == "def f(x):\n    y = x * 2\n"
    assert result.kept_lines == 2


def test_open_block_gets_pass_at_the_dropped_lines_indentation() -> None:
    result = make_executable("def f(x):\n    if x > 1:\n        return x +")
    assert result.kind == "added_pass"
    assert result.code == "def f(x):\n    if x > 1:\n        pass\n"


def test_header_as_last_line_gets_a_pass_body() -> None:
    result = make_executable("def f(xs):\n    for x in xs:")
    assert result.kind == "added_pass"
    assert result.code == "def f(xs):\n    for x in xs:\n        pass\n"


def test_only_the_signature_written() -> None:
    result = make_executable("def f(x):\n")
    assert result.kind == "added_pass"
    assert result.code == "def f(x):\n    pass\n"


def test_comments_and_docstrings_are_stripped() -> None:
    code = 'def f(x):\n    """Add one.\n\n    Long.\n    """\n    # comment\n    return x + 1  # trailing\n'
    result = make_executable(code)
    assert result.kind == "complete"
    assert result.code == "def f(x):\n    return x + 1\n"


def test_docstring_only_body_becomes_pass() -> None:
    result = make_executable('def f(x):\n    """Only a docstring."""\n')
    assert result.code == "def f(x):\n    pass\n"


def test_unterminated_docstring_is_dropped() -> None:
    result = make_executable('def f(x):\n    """Return the\n    sum of')
    assert result.kind == "added_pass"
    assert result.code == "def f(x):\n    pass\n"


def test_unclosed_bracket_is_dropped() -> None:
    result = make_executable("import math\ndef f(x):\n    y = [1,\n         2,")
    assert result.kind == "added_pass"
    assert result.code == "import math\ndef f(x):\n    pass\n"


def test_signature_fallback() -> None:
    result = make_executable("    return (", signature="def f(x)")
    assert result.kind == "signature_pass"
    assert result.code == "def f(x):\n    pass\n"


def test_nothing_executable() -> None:
    result = make_executable("    return (")
    assert result.kind == "nothing"
    assert result.code is None and not result.ok
    assert "nothing executable" in result.reason
    bad = make_executable("", signature="def (")
    assert bad.kind == "nothing"
    assert "does not parse" in bad.reason


@pytest.mark.parametrize(
    "code",
    [
        "def f(x):\n    while x:\n        x -= 1\n        if x == 3:\n            break\n        el",
        "class A:\n    def m(self):\n        return [i for i in",
        "def f(s):\n    return s.replace('#', '') + \"",
        "def f(x):\n\tif x:\n\t\treturn 1\n\telse",
        "x = 1\n\n\n",
    ],
)
def test_result_always_parses(code: str) -> None:
    result = make_executable(code)
    assert result.code is not None
    ast.parse(result.code)
    assert result.code.endswith("\n")


def test_hash_inside_string_is_not_a_comment() -> None:
    result = make_executable("def f(s):\n    return s.count('#')\n")
    assert result.code == "def f(s):\n    return s.count('#')\n"
