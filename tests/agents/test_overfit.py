"""The overfit guard on real overfit programs from the benchmarks and on correct programs that
return constants legitimately (which must not be flagged)."""

from __future__ import annotations

from textwrap import dedent

import pytest

from beadline.agents.overfit import OverfitFinding, distinctive, examples_of, find_overfit
from beadline.validators.executor import TestCase
from beadline.workflows.bench.datasets import load_humaneval, load_mbpp

# HumanEval/8's docstring examples, as the HumanEval loader turns them into visible tests.
SUM_PRODUCT_TESTS = (
    TestCase.from_assert("assert sum_product([]) == (0, 1)"),
    TestCase.from_assert("assert sum_product([1, 2, 3, 4]) == (10, 24)"),
)
# MBPP 20's test_list.
WOODALL_TESTS = tuple(
    TestCase.from_assert(line)
    for line in (
        "assert is_woodall(383) == True",
        "assert is_woodall(254) == False",
        "assert is_woodall(200) == False",
    )
)


def _asserts(*lines: str) -> tuple[TestCase, ...]:
    return tuple(TestCase.from_assert(line) for line in lines)


def _find(program: str, entry_point: str | None, tests: tuple[TestCase, ...]) -> list[str]:
    return [f.kind for f in find_overfit(dedent(program), entry_point=entry_point, tests=tests)]


# ------------------------------------------------------------------ real overfit programs


def test_humaneval_8_overfit_program_is_flagged_on_the_copied_line() -> None:
    # egcfg's visible "pass" on HumanEval/8 (issue 14): the base case is right, the rest is
    # the docstring example's output.
    program = '''\
        from typing import List, Tuple


        def sum_product(numbers: List[int]) -> Tuple[int, int]:
            """ For a given list of integers, return a tuple of their sum and product."""
            if len(numbers) == 0:
                return (0, 1)
            return (10, 24)
        '''
    (finding,) = find_overfit(dedent(program), entry_point="sum_product", tests=SUM_PRODUCT_TESTS)
    assert finding == OverfitFinding(
        kind="returns_expected",
        line=8,
        test="assert sum_product([1, 2, 3, 4]) == (10, 24)",
        detail="returns (10, 24), the expected output",
    )
    assert finding.reason == (
        "line 8: returns (10, 24), the expected output of test "
        "`assert sum_product([1, 2, 3, 4]) == (10, 24)`"
    )


def test_mbpp_20_returned_comparison_with_the_true_input_is_flagged() -> None:
    (finding,) = find_overfit(
        "def is_woodall(n):\n    return n == 383\n", entry_point="is_woodall", tests=WOODALL_TESTS
    )
    assert finding.kind == "branch_on_input"
    assert finding.line == 2
    assert finding.test == "assert is_woodall(383) == True"
    assert "383" in finding.detail


def test_mbpp_20_variant_inside_a_boolean_expression_is_flagged() -> None:
    # what the packaged model wrote on mbpp/20 under EG-CFG (accepted by the decoder today)
    program = "def is_woodall(num):\n    return isinstance(num, int) and num == 383\n"
    assert _find(program, "is_woodall", WOODALL_TESTS) == ["branch_on_input"]


def test_the_real_tasks_give_the_same_findings() -> None:
    # the guard reads the tests exactly as the dataset loaders build them
    (he8,) = load_humaneval(ids=[8])
    (mbpp20,) = load_mbpp(ids=[20])
    overfit_8 = "def sum_product(numbers):\n    if not numbers:\n        return (0, 1)\n    return (10, 24)\n"
    assert _find(overfit_8, he8.entry_point, he8.tests) == ["returns_expected"]
    assert _find("def is_woodall(x):\n    return x == 383\n", "is_woodall", mbpp20.tests) == [
        "branch_on_input"
    ]


def test_programs_that_ignore_their_input_and_return_the_one_visible_answer_are_flagged() -> None:
    # kept by egcfg and sample-filter on MBPP 11-70 guided by the first assert (issue 14): each
    # passes the one visible test and fails every held-out one
    for number, program in (
        (16, 'def text_lowercase_underscore(text):\n    return "Found a match!"\n'),
        (19, "def test_duplicate(arr):\n    return False\n"),
        (20, "def is_woodall(n):\n    if not n:\n        return False\n    return True\n"),
        (35, "def find_rect_num(n):\n    return 20\n"),
    ):
        (task,) = load_mbpp(ids=[number], guide_tests="first")
        findings = find_overfit(program, entry_point=task.entry_point, tests=task.tests)
        assert [f.kind for f in findings] == ["ignores_input"], number
        assert "uses none of its parameters" in findings[0].reason
        # with all three asserts visible, only the copy of a distinctive value is evidence
        (judged,) = load_mbpp(ids=[number], guide_tests="all")
        assert "ignores_input" not in _find(program, judged.entry_point, judged.tests)


@pytest.mark.parametrize(
    ("program", "tests"),
    [
        pytest.param(
            "def five_times(n):\n    return n * 5\n",
            _asserts("assert five_times(4) == 20"),
            id="computes-from-its-input",
        ),
        pytest.param(
            "def answer():\n    return 42\n",
            _asserts("assert answer() == 42"),
            id="no-parameters",
        ),
        pytest.param(
            "def log(message):\n    return None\n",
            _asserts("assert log('x') is None"),
            id="returns-none",
        ),
        pytest.param(
            "def is_positive(n):\n    if n <= 0:\n        return False\n    return True\n",
            _asserts("assert is_positive(5) == True"),
            id="a-real-condition-on-the-input",
        ),
        pytest.param(
            'def Check_Solution(a, b, c):\n    if b == 0:\n        return "Yes"\n    return "No"\n',
            _asserts('assert Check_Solution(2,0,-1) == "Yes"'),
            id="mbpp-840-reference-a-condition-on-zero",
        ),
        pytest.param(
            'def Check_Solution(a, b, c):\n    if b == 0:\n        return "Yes"\n    return "No"\n',
            _asserts(
                'assert Check_Solution(2,0,-1) == "Yes"',
                'assert Check_Solution(1,-5,6) == "No"',
                'assert Check_Solution(2,0,2) == "Yes"',
            ),
            id="mbpp-840-reference-labels-chosen-by-a-condition",
        ),
        pytest.param(
            "def is_even(n):\n    return n % 2 == 0\n",
            _asserts("assert is_even(4) == True"),
            id="returns-a-computed-bool",
        ),
    ],
)
def test_one_visible_test_and_a_program_that_uses_its_input_is_not_flagged(
    program: str, tests: tuple[TestCase, ...]
) -> None:
    entry_point = program.split("(")[0].removeprefix("def ")
    assert _find(program, entry_point, tests) == []


@pytest.mark.parametrize(
    ("program", "entry_point", "tests", "kind"),
    [
        pytest.param(
            """\
            def sum_product(numbers):
                if numbers == [1, 2, 3, 4]:
                    return (10, 24)
                return (0, 1)
            """,
            "sum_product",
            SUM_PRODUCT_TESTS,
            "branch_on_input",
            id="branch-on-list-input",
        ),
        pytest.param(
            """\
            def is_woodall(n):
                if n == 383:
                    return True
                return False
            """,
            "is_woodall",
            WOODALL_TESTS,
            "branch_on_input",
            id="if-on-the-input",
        ),
        pytest.param(
            """\
            def is_woodall(n):
                return True if n == 383 else False
            """,
            "is_woodall",
            WOODALL_TESTS,
            "branch_on_input",
            id="conditional-expression",
        ),
        pytest.param(
            """\
            def is_woodall(n):
                return n in (383,)
            """,
            "is_woodall",
            WOODALL_TESTS,
            "branch_on_input",
            id="membership",
        ),
        pytest.param(
            """\
            def binary_to_decimal(n):
                answers = {100: 4, 1011: 11, 1101101: 109}
                return answers[n]
            """,
            "binary_to_decimal",
            _asserts(
                "assert binary_to_decimal(100) == 4",
                "assert binary_to_decimal(1011) == 11",
                "assert binary_to_decimal(1101101) == 109",
            ),
            "lookup_table",
            id="lookup-table-mbpp-24",
        ),
        pytest.param(
            """\
            ANSWERS = {(4, 3): [3, 6, 9, 12], (2, 5): [5, 10]}

            def multiples_of_num(m, n):
                return ANSWERS.get((m, n), [])
            """,
            "multiples_of_num",
            _asserts(
                "assert multiples_of_num(4,3)== [3,6,9,12]",
                "assert multiples_of_num(2,5)== [5,10]",
            ),
            "lookup_table",
            id="module-level-table-of-pairs",
        ),
        pytest.param(
            """\
            def binary_to_decimal(n):
                if n == 0:
                    return 0
                return 109
            """,
            "binary_to_decimal",
            _asserts(
                "assert binary_to_decimal(0) == 0", "assert binary_to_decimal(1101101) == 109"
            ),
            "returns_expected",
            id="scalar-when-nothing-is-computed",
        ),
        pytest.param(
            """\
            def add(a, b):
                if a == 2 and b == 3:
                    return 5
                return 0
            """,
            "add",
            _asserts("assert add(2, 3) == 5", "assert add(0, 0) == 0"),
            "branch_on_input",
            id="every-argument-pinned",
        ),
        pytest.param(
            """\
            def remove_Occ(s, ch):
                if s == "hello":
                    return "heo"
                return s.replace(ch, "")
            """,
            "remove_Occ",
            _asserts(
                'assert remove_Occ("hello","l") == "heo"',
                'assert remove_Occ("abcda","a") == "bcd"',
            ),
            "branch_on_input",
            id="string-input-mbpp-11",
        ),
        pytest.param(
            """\
            def is_odd(n):
                match n:
                    case 383:
                        return True
                return False
            """,
            "is_odd",
            _asserts("assert is_odd(383) == True", "assert is_odd(254) == False"),
            "branch_on_input",
            id="match-case",
        ),
    ],
)
def test_overfit_patterns_are_flagged(
    program: str, entry_point: str, tests: tuple[TestCase, ...], kind: str
) -> None:
    assert kind in _find(program, entry_point, tests)


# ------------------------------------------------------------------ correct programs


@pytest.mark.parametrize(
    ("program", "entry_point", "tests"),
    [
        pytest.param(
            """\
            def factorial(n):
                if n == 0:
                    return 1
                return n * factorial(n - 1)
            """,
            "factorial",
            _asserts("assert factorial(0) == 1", "assert factorial(5) == 120"),
            id="factorial-base-case",
        ),
        pytest.param(
            """\
            def sum_product(numbers):
                if len(numbers) == 0:
                    return (0, 1)
                product = 1
                for n in numbers:
                    product *= n
                return (sum(numbers), product)
            """,
            "sum_product",
            SUM_PRODUCT_TESTS,
            id="humaneval-8-correct",
        ),
        pytest.param(
            """\
            def evens(xs):
                if not xs:
                    return []
                return [x for x in xs if x % 2 == 0]
            """,
            "evens",
            _asserts("assert evens([]) == []", "assert evens([1, 2, 3, 4]) == [2, 4]"),
            id="empty-list-base-case",
        ),
        pytest.param(
            """\
            def is_woodall(x):
                if x % 2 == 0:
                    return False
                if x == 1:
                    return True
                x = x + 1
                p = 0
                while x % 2 == 0:
                    x = x / 2
                    p = p + 1
                    if p == x:
                        return True
                return False
            """,
            "is_woodall",
            WOODALL_TESTS,
            id="mbpp-20-reference",
        ),
        pytest.param(
            """\
            import re

            def text_match_two_three(text):
                if re.search("ab{2,3}", text):
                    return "Found a match!"
                return "Not matched!"
            """,
            "text_match_two_three",
            _asserts(
                "assert text_match_two_three(\"ac\")==('Not matched!')",
                "assert text_match_two_three(\"dc\")==('Not matched!')",
                "assert text_match_two_three(\"abbbba\")==('Found a match!')",
            ),
            id="label-strings-mbpp-285",
        ),
        pytest.param(
            """\
            def days_in_month(month):
                if month == 2:
                    return 28
                if month in (4, 6, 9, 11):
                    return 30
                return 31
            """,
            "days_in_month",
            _asserts(
                "assert days_in_month(2) == 28",
                "assert days_in_month(4) == 30",
                "assert days_in_month(12) == 31",
            ),
            id="domain-constants",
        ),
        pytest.param(
            """\
            def is_prime(n):
                if n < 2:
                    return False
                if n == 2 or n == 3:
                    return True
                return all(n % d for d in range(2, int(n ** 0.5) + 1))
            """,
            "is_prime",
            _asserts(
                "assert is_prime(3) == True",
                "assert is_prime(383) == True",
                "assert not is_prime(254)",
            ),
            id="bool-from-a-computation",
        ),
        pytest.param(
            """\
            def roman_to_int(s):
                values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
                total = 0
                for a, b in zip(s, s[1:] + " "):
                    v = values[a]
                    total += -v if b != " " and values[b] > v else v
                return total
            """,
            "roman_to_int",
            _asserts("assert roman_to_int('V') == 5", "assert roman_to_int('MMXIV') == 2014"),
            id="a-real-lookup-table",
        ),
        pytest.param(
            """\
            def answer():
                return 42
            """,
            "answer",
            _asserts("assert answer() == 42", "assert answer() == 42"),
            id="constant-function",
        ),
        pytest.param(
            """\
            def gcd(a, b):
                if a == 0 and b == 0:
                    return 0
                while b:
                    a, b = b, a % b
                return a
            """,
            "gcd",
            _asserts("assert gcd(0, 0) == 0", "assert gcd(25, 15) == 5"),
            id="every-argument-a-base-value",
        ),
    ],
)
def test_correct_programs_are_not_flagged(
    program: str, entry_point: str, tests: tuple[TestCase, ...]
) -> None:
    assert _find(program, entry_point, tests) == []


# ------------------------------------------------------------------ stdin/stdout programs

STDIO_TESTS = (
    TestCase.from_stdio("4\n1 2 3 4\n", "10 24\n", name="case 1"),
    TestCase.from_stdio("0\n\n", "0 1\n", name="case 2"),
)


def test_stdio_program_printing_the_expected_output_is_flagged() -> None:
    program = "n = int(input())\nif n == 0:\n    print('0 1')\nelse:\n    print('10 24')\n"
    findings = find_overfit(program, entry_point=None, tests=STDIO_TESTS)
    assert [(f.kind, f.line, f.test) for f in findings] == [("returns_expected", 5, "case 1")]


def test_stdio_program_branching_on_an_input_line_is_flagged() -> None:
    program = (
        "n = int(input())\nline = input()\n"
        "if line == '1 2 3 4':\n    print('10 24')\nelse:\n    print(0, 1)\n"
    )
    assert "branch_on_input" in _find(program, None, STDIO_TESTS)


def test_stdio_program_that_computes_is_not_flagged() -> None:
    program = (
        "n = int(input())\nxs = list(map(int, input().split()))\np = 1\n"
        "for x in xs:\n    p *= x\nprint(sum(xs), p)\n"
    )
    assert _find(program, None, STDIO_TESTS) == []


def test_stdio_labels_are_not_flagged() -> None:
    tests = (
        TestCase.from_stdio("4\n", "YES\n", name="a"),
        TestCase.from_stdio("7\n", "NO\n", name="b"),
    )
    program = "n = int(input())\nprint('YES' if n % 2 == 0 else 'NO')\n"
    assert _find(program, None, tests) == []


# ------------------------------------------------------------------ reading the tests


def test_examples_read_every_assert_form() -> None:
    tests = (
        *_asserts(
            "assert f(1) == 2",
            "assert 3 == f(2)",
            "assert f(3)",
            "assert not f(4)",
            "assert f(5) is None",
            "assert f(6) == 7, 'message'",
            "assert g(f(1)) == 2",  # a computed argument: skipped
            "assert f(x) == 1",  # not a literal: skipped
        ),
        TestCase.from_check(
            "def check(candidate):\n    assert candidate(8) == 9\n    assert candidate([1]) == [2]\n",
            "f",
        ),
    )
    got = [(e.args, e.expected) for e in examples_of(tests, "f")]
    assert got == [
        ((1,), 2),
        ((2,), 3),
        ((3,), True),
        ((4,), False),
        ((5,), None),
        ((6,), 7),
        ((8,), 9),
        (([1],), [2]),
    ]


def test_distinctive_values() -> None:
    assert not any(distinctive(v) for v in (0, 1, -1, 10, True, None, "", "a", [], (0, 1), 0.5))
    assert all(distinctive(v) for v in (11, 383, -42, 3.14, "ab", (10, 24), [1, 2, 3], {"a": 20}))


def test_unreadable_input_gives_no_findings() -> None:
    assert find_overfit("def f(:\n", entry_point="f", tests=WOODALL_TESTS) == ()
    assert find_overfit("def f(n):\n    return 383\n", entry_point="f", tests=()) == ()
    script = (TestCase.script(),)
    assert find_overfit("def f(n):\n    return 383\n", entry_point="f", tests=script) == ()
