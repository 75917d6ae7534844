"""Where the target function is in code still being written."""

from __future__ import annotations

from beadline.agents._code import body_indent, body_statements, def_header_done, function_end


def test_header_is_done_once_its_line_ends() -> None:
    assert def_header_done("def f(x):", "f") is None
    assert def_header_done("def f(x):\n", "f") == len("def f(x):\n")
    multi = "def f(\n    x,\n):\n"
    assert def_header_done(multi, "f") == len(multi)
    assert def_header_done("def g(x):\n", "f") is None
    assert def_header_done("import os\nasync def f(x):  # c\n", "f") is not None


def test_function_ends_at_the_first_column_zero_line_after_the_body() -> None:
    code = "def f(x):\n    y = x\n\n    return y\nprint(f(1))\n"
    assert function_end(code, "f") == code.index("print")
    assert function_end("def f(x):\n    return x\n", "f") is None
    assert function_end("def f(x):\n    return x\nas", "f") == len("def f(x):\n    return x\n")
    assert function_end("def f(x):\n\n", "f") is None  # no body yet


def test_body_statements_and_indent() -> None:
    assert body_statements("def f(x):\n    y = 1\n    for i in x:\n        y += i\n", "f") == 2
    assert body_statements("def f(x):\n", "f") == 0  # parses only with a pass
    assert body_statements("def f(x):\n    return (", "f") is None
    assert body_indent('def f(x):\n  """Doc."""\n', "f") == "  "
    assert body_indent("def f(x):\n", "f") == "    "
    assert body_indent("def f(x):\n    return x\nprint(1)\n", "f") is None
    assert body_indent("x = 1\n", "f") is None
