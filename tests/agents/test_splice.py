"""Putting a standalone program into its module: targets in place, setup merged by bound name."""

from __future__ import annotations

import ast

import pytest

from beadline.agents.splice import (
    SpliceError,
    TargetError,
    locate_target,
    merge_setup,
    splice,
    stub_kind,
)

MODULE = '''"""Accounts."""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

LIMIT = 3


def helper(x: int) -> int:
    """Twice x."""
    return 2 * x


class Account:
    """An account."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    @property
    def label(self) -> str:
        """The owner, upper-cased."""
        raise NotImplementedError

    @staticmethod
    def check(value: int) -> bool:
        pass

    class Ledger:
        """Entries."""

        def total(self, entries: Iterable[int]) -> int:
            """Sum of the entries."""
            ...


def last() -> None:
    """The end."""
'''


def _lines_other_than(text: str, first: int, last: int) -> list[str]:
    lines = text.splitlines()
    return lines[: first - 1] + lines[last:]


def test_a_method_stub_is_replaced_in_place_keeping_decorators_docstring_and_indentation() -> None:
    site = locate_target(MODULE, "Account.label")
    assert site.exists and site.indent == "    " and site.stub == "raise NotImplementedError"
    assert site.signature == '@property\ndef label(self) -> str:\n    """The owner, upper-cased."""'
    program = site.signature + "\n    return self.owner.upper()\n"
    out = splice(MODULE, site, program)
    expected_block = [
        "    @property",
        "    def label(self) -> str:",
        '        """The owner, upper-cased."""',
        "        return self.owner.upper()",
    ]
    lines = out.text.splitlines()
    first, last = out.function_lines
    assert lines[first - 1 : last] == expected_block
    # every other line of the module is unchanged, byte for byte
    assert _lines_other_than(out.text, first, last) == _lines_other_than(
        MODULE, site.start, site.end
    )
    namespace: dict[str, object] = {}
    exec(compile(out.text, "m", "exec"), namespace)
    assert namespace["Account"]("ann").label == "ANN"  # type: ignore[operator, attr-defined]
    # the line map points the module's lines back to the program's
    assert out.line_map[first] == 1 and out.line_map[last] == 4


def test_nested_class_method_and_stub_kinds() -> None:
    site = locate_target(MODULE, "Account.Ledger.total")
    assert site.indent == " " * 8 and site.stub == "..."
    out = splice(MODULE, site, site.signature + "\n    return sum(entries)\n")
    assert "            return sum(entries)\n" in out.text
    assert locate_target(MODULE, "Account.check").stub == "pass"
    assert locate_target(MODULE, "last").stub == "docstring only"
    assert locate_target(MODULE, "helper").stub == ""
    tree = ast.parse("def f():\n    raise NotImplementedError('later')\n")
    assert stub_kind(tree.body[0]) == "raise NotImplementedError"  # type: ignore[arg-type]


def test_a_new_method_goes_at_the_end_of_its_class() -> None:
    site = locate_target(MODULE, "Account.rename", create=True)
    assert not site.exists
    out = splice(MODULE, site, "def rename(self, owner):\n    self.owner = owner\n")
    tree = ast.parse(out.text)
    account = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert [n.name for n in account.body if isinstance(n, ast.FunctionDef)][-1] == "rename"
    assert out.text.splitlines()[out.function_lines[0] - 1] == "    def rename(self, owner):"


def test_a_new_function_and_a_new_module() -> None:
    site = locate_target(MODULE, "fresh", create=True)
    out = splice(MODULE, site, "def fresh():\n    return LIMIT\n")
    assert out.text.endswith('    """The end."""\n\n\ndef fresh():\n    return LIMIT\n')
    new = splice("", locate_target("", "f", create=True), "import re\n\ndef f():\n    return re\n")
    assert new.text == "import re\n\n\ndef f():\n    return re\n"


def test_unsupported_targets_fail_with_the_fix() -> None:
    with pytest.raises(TargetError, match=r"class Missing not found in m\.py; create the class"):
        locate_target(MODULE, "Missing.run", file="m.py")
    with pytest.raises(TargetError, match="is a function: a target inside a function"):
        locate_target(MODULE, "helper.inner")
    with pytest.raises(TargetError, match=r"method Account\.nope not found .* `create: true`"):
        locate_target(MODULE, "Account.nope")
    with pytest.raises(TargetError, match=r"LIMIT .* is an assignment, not a class"):
        locate_target(MODULE, "LIMIT.x")
    inner = "def outer():\n    def inner():\n        pass\n    return inner\n"
    with pytest.raises(TargetError, match="defined inside function outer"):
        locate_target(inner, "inner", create=True)
    twice = "class A:\n    @property\n    def x(self):\n        return 1\n\n    @x.setter\n    def x(self, v):\n        pass\n"
    with pytest.raises(TargetError, match="bound 2 times"):
        locate_target(twice, "A.x")
    with pytest.raises(TargetError, match=r"does not exist .* `create: true`"):
        locate_target("", "f")
    with pytest.raises(TargetError, match="does not parse"):
        locate_target("def broken(:\n", "f")


def test_setup_merges_by_bound_name() -> None:
    text = 'VOWELS = "aeiou"\n\n\ndef count(s):\n    return 0\n'
    merged = merge_setup(text, 'VOWELS = set("aeiou")', target="count")
    # replaced where it stands: bound once, and the new value is the one in force
    assert merged == 'VOWELS = set("aeiou")\n\n\ndef count(s):\n    return 0\n'
    # the same statement, an import of the same object: kept, nothing added
    assert merge_setup(MODULE, "import hashlib\nfrom typing import Any\nLIMIT = 3") == MODULE
    # a new import goes after the last import; a new constant above the target's statement
    merged = merge_setup(MODULE, "import math\nSCALE = 2", target="Account.label")
    lines = merged.splitlines()
    assert lines.index("import math") == lines.index("from typing import Any, Iterable") + 1
    assert lines.index("SCALE = 2") < lines.index("class Account:")
    assert lines.index("SCALE = 2") > lines.index("def helper(x: int) -> int:")
    # an import binding a name differently replaces only that alias of a shared import
    merged = merge_setup(MODULE, "from collections.abc import Iterable")
    assert "from typing import Any\n" in merged and "from collections.abc import Iterable" in merged
    imports = [n for n in ast.parse(merged).body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert sum(1 for n in imports if "Iterable" in ast.unparse(n)) == 1


def test_setup_that_cannot_be_merged_says_why() -> None:
    with pytest.raises(SpliceError, match="rebinds A, which line 1 of the module binds together"):
        merge_setup("A, B = 1, 2\n", "A = 3")
    with pytest.raises(SpliceError, match="rebinds count, the bead's own target"):
        merge_setup("def count():\n    pass\n", "count = 1", target="count")
    with pytest.raises(SpliceError, match="no top-level `def label"):
        splice(MODULE, locate_target(MODULE, "Account.label"), "x = 1\n")


def test_conditional_bindings_are_left_alone() -> None:
    text = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from m import Item\n"
    merged = merge_setup(text, "from m import Item")
    assert merged.count("from m import Item") == 2  # the runtime import is added


def test_line_endings_form_feeds_and_a_missing_final_newline_are_kept() -> None:
    crlf = "import os\r\n\r\n\r\nclass A:\r\n    def f(self):\r\n        pass\r\n\r\n\r\nX = 1\r\n"
    out = splice(crlf, locate_target(crlf, "A.f"), "import re\n\ndef f(self):\n    return re\n")
    assert out.text == (
        "import os\r\nimport re\r\n\r\n\r\nclass A:\r\n    def f(self):\r\n        return re\r\n"
        "\r\n\r\nX = 1\r\n"
    )
    # a form feed is no line break for Python: the lines after it keep their numbers
    feed = "# section one\x0c\ndef g():\n    ...\n\n\ndef h():\n    return 2"
    out = splice(feed, locate_target(feed, "g"), "def g():\n    return 1\n")
    assert out.text == "# section one\x0c\ndef g():\n    return 1\n\n\ndef h():\n    return 2"
    exec(compile(out.text, "m", "exec"), {})
