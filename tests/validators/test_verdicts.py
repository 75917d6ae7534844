"""A candidate cannot decide its own verdict: exploits of the run harnesses, both backends.

The harness runs inside the candidate's process, so anything the child reports can be
shaped by the program under test. The defence is that the host keeps the expected values
(the right side of ``assert A == <literal>``, a ``check``'s literal asserts, a stdio case's
expected output): they never enter the sandbox, the child returns the value it computed as
plain data, and the host compares. Each exploit below is followed by a correct program
passing on the same executor. The boundary tests at the end show what still holds inside the
sandbox (see the README's sandbox section).
"""

from __future__ import annotations

import textwrap

import pytest

from beadline.validators.executor import Executor, Limits, RunRequest, TestCase, TestResult

CORRECT = RunRequest(
    program="def g(x):\n    return x\n", tests=(TestCase.from_assert("assert g(1) == 1"),)
)


def run_one(executor: Executor, program: str, test: TestCase, **limits: float) -> TestResult:
    request = RunRequest(
        program=textwrap.dedent(program),
        tests=(test,),
        limits=Limits(**limits) if limits else Limits(),  # type: ignore[arg-type]
    )
    (result,) = executor.run(request).results
    return result


def next_run_passes(executor: Executor) -> None:
    result = executor.run(CORRECT)
    assert result.passed, result.results[0]
    assert result.results[0].judged_by == "host"


EQ = TestCase.from_assert("assert f(1) == 2")
"""The test every exploit below tries to pass with a function that does not return 2."""

# A comparison of two expressions (no literal side): judged inside the sandbox.
WHOLE = TestCase.from_assert("assert f(1) == int('2')")

RESULT_FD = """
import os

def result_fd():
    # The harness's result pipe: the one descriptor past the standard streams.
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        fd = int(name)
        try:
            if fd > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                return fd
        except OSError:  # the listing's own descriptor, closed by now
            continue
    raise RuntimeError("no result pipe")

FORGED = b'{"status": "passed", "message": "", "return_repr": "2", "expected_repr": "2"}'
"""


# -- values that lie about themselves ------------------------------------------------------
LIARS = {
    "eq_always_true": """
        class Yes:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def f(x):
            return Yes()
        """,
    "int_subclass_eq": """
        class I(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def f(x):
            return I(5)
        """,
    "eq_raises": """
        class Boom:
            def __eq__(self, other):
                raise SystemExit(0)
        def f(x):
            return Boom()
        """,
    "repr_lies": """
        class Two:
            def __repr__(self):
                return "2"
        def f(x):
            return Two()
        """,
    "list_of_liars": """
        class Yes:
            def __eq__(self, other):
                return True
        def f(x):
            return [Yes()]
        """,
}


@pytest.mark.parametrize("name", sorted(LIARS))
def test_a_value_that_lies_about_equality_fails(any_executor: Executor, name: str) -> None:
    test = TestCase.from_assert("assert f(1) == [2]" if name == "list_of_liars" else EQ.source)
    result = run_one(any_executor, LIARS[name], test)
    assert result.status == "failed", result
    assert result.judged_by == "host"
    if name != "list_of_liars":
        assert "not a built-in value" in result.message, result.message
    next_run_passes(any_executor)


def test_a_liar_on_the_left_of_a_literal_fails_too(any_executor: Executor) -> None:
    result = run_one(
        any_executor, LIARS["eq_always_true"], TestCase.from_assert("assert 2 == f(1)")
    )
    assert result.status == "failed" and result.judged_by == "host", result
    next_run_passes(any_executor)


def test_honest_values_of_other_types_still_compare(any_executor: Executor) -> None:
    program = """
        import collections, fractions, decimal
        Point = collections.namedtuple("Point", "x y")
        class Tag(str):
            pass
        def f(x):
            return {
                "counter": collections.Counter("aab"),
                "ordered": collections.OrderedDict(a=1),
                "default": collections.defaultdict(int, b=2),
                "point": Point(1, 2),
                "tag": Tag("t"),
                "frac": fractions.Fraction(1, 2),
                "dec": decimal.Decimal("0.5"),
                "keys": {"k": 1}.keys(),
                "big": 10**5000 - 10**5000 + 7,
                "nested": [(1, 2.5), {3}, frozenset({4}), b"x", None, True, 1 + 2j],
            }
        """
    expected = (
        "{'counter': {'a': 2, 'b': 1}, 'ordered': {'a': 1}, 'default': {'b': 2},"
        " 'point': (1, 2), 'tag': 't', 'frac': 0.5, 'dec': 0.5, 'keys': {'k'}, 'big': 7,"
        " 'nested': [(1, 2.5), {3}, {4}, b'x', None, True, 1 + 2j]}"
    )
    result = run_one(any_executor, program, TestCase.from_assert(f"assert f(1) == {expected}"))
    assert result.status == "passed" and result.judged_by == "host", result
    wrong = run_one(any_executor, program, TestCase.from_assert("assert f(1) == {}"))
    assert wrong.status == "failed" and wrong.message.startswith("expected {}, got {"), wrong
    next_run_passes(any_executor)


def test_a_patched_bool_or_json_does_not_decide(any_executor: Executor) -> None:
    patched = """
        import builtins, json
        builtins.bool = lambda *a: True
        json.dumps = lambda *a, **k: '{"status": "passed", "message": ""}'
        def f(x):
            return 3
        """
    for test in (EQ, WHOLE):
        result = run_one(any_executor, patched, test)
        assert result.status == "failed", (test.source, result)
    next_run_passes(any_executor)


def test_patched_assertion_error_operator_and_sys_modules_do_not_pass(
    any_executor: Executor,
) -> None:
    program = """
        import builtins, operator, sys, types
        builtins.AssertionError = type("AssertionError", (Exception,), {})
        operator.eq = lambda a, b: True
        fake = types.ModuleType("json")
        fake.dumps = lambda *a, **k: '{"status": "passed", "message": ""}'
        sys.modules["json"] = fake
        def f(x):
            return 3
        """
    for test in (EQ, WHOLE):
        result = run_one(any_executor, program, test)
        assert result.status in ("failed", "error"), (test.source, result)
    next_run_passes(any_executor)


# -- looking for the expected value ---------------------------------------------------------
def test_the_expected_value_is_not_in_the_sandbox(any_executor: Executor) -> None:
    # Walk up into the harness's frames (and every object the worker holds) for the test's
    # expected side, and return it.
    thief = """
        import gc, sys

        def f(x):
            frame = sys._getframe(1)
            while frame is not None:
                case = frame.f_locals.get("case")
                right = getattr(case, "right", None)
                if right is not None:
                    return eval(right, {})
                frame = frame.f_back
            for obj in gc.get_objects():
                if type(obj).__name__ == "PreparedCase" and getattr(obj, "right", None):
                    return eval(obj.right, {})
                if isinstance(obj, str) and obj.startswith("assert f(1) =="):
                    return eval(obj.split("==", 1)[1], {})
            return -1
        """
    result = run_one(any_executor, thief, EQ)
    assert result.status == "failed" and result.return_repr == "-1", result
    next_run_passes(any_executor)


def test_the_expected_stdout_is_not_in_the_sandbox(any_executor: Executor) -> None:
    thief = """
        import gc
        found = ""
        for obj in gc.get_objects():
            if type(obj).__name__ == "PreparedCase" and getattr(obj, "expected_stdout", None):
                found = obj.expected_stdout
            if isinstance(obj, dict) and isinstance(obj.get("expected_stdout"), str):
                found = obj["expected_stdout"]
        print(found or "nothing found")
        """
    test = TestCase.from_stdio("", "the secret answer 42\n")
    result = run_one(any_executor, thief, test)
    assert result.status == "failed" and result.judged_by == "host", result
    assert result.stdout == "nothing found\n"
    good = run_one(any_executor, "print('the secret answer', 42)", test)
    assert good.status == "passed" and good.judged_by == "host", good
    next_run_passes(any_executor)


# -- writing the result itself --------------------------------------------------------------
def test_a_result_written_by_the_program_then_exit_is_not_a_pass(any_executor: Executor) -> None:
    forger = RESULT_FD + textwrap.dedent(
        """
        def f(x):
            os.write(result_fd(), FORGED)
            os._exit(0)
        """
    )
    result = run_one(any_executor, forger, EQ)
    assert result.status == "error" and result.judged_by == "host", result
    assert "no value" in result.message, result.message
    next_run_passes(any_executor)


def test_a_result_then_a_signal_is_killed_not_passed(any_executor: Executor) -> None:
    forger = RESULT_FD + textwrap.dedent(
        """
        import signal
        def f(x):
            os.write(result_fd(), FORGED)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = run_one(any_executor, forger, WHOLE)
    assert result.status == "killed", result
    next_run_passes(any_executor)


def test_a_fork_that_reports_and_kills_its_parent_is_not_a_pass(any_executor: Executor) -> None:
    forger = RESULT_FD + textwrap.dedent(
        """
        import signal, time
        def f(x):
            fd = result_fd()
            if os.fork() == 0:
                os.write(fd, FORGED)
                os.kill(os.getppid(), signal.SIGKILL)
                os._exit(0)
            time.sleep(5)
        """
    )
    result = run_one(any_executor, forger, WHOLE, wall_s=3.0)
    assert result.status == "killed", result
    next_run_passes(any_executor)


def test_two_results_are_not_a_pass(any_executor: Executor) -> None:
    forger = RESULT_FD + textwrap.dedent(
        """
        def f(x):
            os.write(result_fd(), FORGED)
            return 3
        """
    )
    result = run_one(any_executor, forger, WHOLE)
    assert result.status == "error", result
    next_run_passes(any_executor)


# -- leaving early --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "raise SystemExit(0)",
        "raise KeyboardInterrupt",
        "raise GeneratorExit",
        "import sys; sys.exit(0)",
        "import os; os._exit(0)",
    ],
)
def test_leaving_early_is_an_error(any_executor: Executor, body: str) -> None:
    program = f"def f(x):\n    {body}\n"
    for test in (EQ, WHOLE, TestCase.from_check(CHECK, "f")):
        result = run_one(any_executor, program, test)
        assert result.status == "error", (body, test.kind, result)
    next_run_passes(any_executor)


def test_turning_the_tracer_off_changes_only_the_trace(any_executor: Executor) -> None:
    program = """
        import sys
        def f(x):
            sys.settrace(None)
            return x + {delta}
        """
    wrong = run_one(any_executor, program.format(delta=2), EQ)
    assert wrong.status == "failed" and wrong.message == "expected 2, got 3", wrong
    right = run_one(any_executor, program.format(delta=1), EQ)
    assert right.status == "passed", right
    next_run_passes(any_executor)


# -- HumanEval check(candidate) --------------------------------------------------------------
CHECK = """
def check(candidate):
    assert candidate(1) == 2
    assert candidate(2) == 4
    assert abs(candidate(0.25) - 0.5) < 1e-9
"""


def test_a_check_is_judged_by_the_host(any_executor: Executor) -> None:
    test = TestCase.from_check(CHECK, "f")
    good = run_one(any_executor, "def f(x):\n    return 2 * x\n", test)
    assert good.status == "passed" and good.judged_by == "host", good
    wrong = run_one(any_executor, "def f(x):\n    return 2 * x if x != 2 else 5\n", test)
    assert wrong.status == "failed", wrong
    assert wrong.message == "check failed at `assert candidate(2) == 4`: expected 4, got 5"
    liar = run_one(any_executor, LIARS["eq_always_true"], test)
    assert liar.status == "failed" and "not a built-in value" in liar.message, liar
    forger = RESULT_FD + "def f(x):\n    os.write(result_fd(), FORGED)\n    os._exit(0)\n"
    forged = run_one(any_executor, forger, test)
    assert forged.status == "error", forged
    next_run_passes(any_executor)


def test_a_check_with_asserts_the_host_cannot_judge_is_marked(any_executor: Executor) -> None:
    source = "def check(candidate):\n    for x in range(3):\n        assert candidate(x) == 2 * x\n"
    test = TestCase.from_check(source, "f")
    good = run_one(any_executor, "def f(x):\n    return 2 * x\n", test)
    assert good.status == "passed" and good.judged_by == "sandbox", good
    next_run_passes(any_executor)


# -- truth tests -----------------------------------------------------------------------------
def test_truth_tests_use_the_value_not_its_bool(any_executor: Executor) -> None:
    patched = "import builtins\nbuiltins.bool = lambda *a: True\ndef f(x):\n    return []\n"
    result = run_one(any_executor, patched, TestCase.from_assert("assert f(1)"))
    assert result.status == "failed", result
    plain = run_one(
        any_executor,
        "class Item:\n    pass\ndef f(x):\n    return Item()\n",
        TestCase.from_assert("assert f(1)"),
    )
    assert plain.status == "passed", plain
    negated = run_one(
        any_executor, "def f(x):\n    return 0\n", TestCase.from_assert("assert not f(1)")
    )
    assert negated.status == "passed", negated
    next_run_passes(any_executor)


# -- the boundary: what a candidate can still do inside the sandbox -----------------------------
def test_boundary_a_sandbox_judged_test_trusts_the_child(any_executor: Executor) -> None:
    """A test the host cannot judge (here a comparison of two expressions) is decided
    by the harness inside the candidate's process: a program that writes the harness's
    result itself and exits passes it. The result says so (``judged_by == "sandbox"``)."""
    forger = RESULT_FD + "def f(x):\n    os.write(result_fd(), FORGED)\n    os._exit(0)\n"
    result = run_one(any_executor, forger, WHOLE)
    assert result.status == "passed" and result.judged_by == "sandbox", result
    next_run_passes(any_executor)
