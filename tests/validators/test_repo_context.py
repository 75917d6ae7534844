"""Candidates run as their module inside a snapshot of the repository, on both backends.

The fixture (``repo_fixture/shop_repo``) is a package whose stubs a bead would fill: a function
using a dataclass and a constant of a sibling module through a relative import, and a method
using ``self.db`` and a module-level helper. Each test runs the whole target module with the
stub replaced, imported as part of the package from a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.errors import UserError
from beadline.validators.executor import (
    CommandRequest,
    Executor,
    Limits,
    ModuleContext,
    RunRequest,
    TestCase,
)
from beadline.validators.snapshot import (
    RepoSnapshot,
    SnapshotError,
    SnapshotStore,
    default_store,
    module_context,
)
from beadline.validators.stages import (
    check_imports,
    check_integration,
    check_module_imports,
    check_smoke,
    check_unit,
    render_trace,
)

from .conftest import copy_fixture

STUB = "        raise NotImplementedError"

PRICING = '''    """The order's total with tax, rounded to cents."""
    subtotal = sum(item.subtotal() for item in items)
    return round_money(subtotal * (1 + TAX_RATE))
'''

AUTHENTICATE = """        stored = self.db.lookup(username)
        if stored is None:
            return False
        return stored == hash_password(password)"""

ALLOWS = """            if self.admin:
                return True
            return action == "read\""""

PRICING_TESTS = (
    TestCase.from_assert('assert order_total([Item("pen", 2.0, 3), Item("pad", 4.0)]) == 12.5'),
    TestCase.from_assert("assert order_total([]) == 0.0"),
)
AUTH_TESTS = (
    TestCase.from_assert('assert AuthService(UserDB({"ann": "pw"})).authenticate("ann", "pw")'),
    TestCase.from_assert(
        'assert not AuthService(UserDB({"ann": "pw"})).authenticate("ann", "nope")'
    ),
    TestCase.from_assert('assert not AuthService(UserDB({"ann": "pw"})).authenticate("bob", "pw")'),
)


def pricing_module(repo: Path, body: str = PRICING) -> str:
    """shop/pricing.py with ``order_total``'s stub replaced by ``body``."""
    text = (repo / "shop" / "pricing.py").read_text()
    head, _stub = text.split('    """The order\'s total with tax, rounded to cents."""\n')
    return head + body


def auth_module(repo: Path, authenticate: str = AUTHENTICATE, allows: str | None = None) -> str:
    """shop/auth.py with the stub of ``authenticate`` (and of ``Policy.allows``) replaced."""
    text = (repo / "shop" / "auth.py").read_text()
    first, rest = text.split(STUB, 1)
    text = first + authenticate + rest
    if allows is not None:
        text = text.replace("    " + STUB, allows)
    return text


@pytest.fixture
def store(open_tmp: Path) -> Iterator[SnapshotStore]:
    made = SnapshotStore(open_tmp / "store")
    yield made
    made.close()


@pytest.fixture
def repo(open_tmp: Path) -> Path:
    return copy_fixture(open_tmp)


@pytest.fixture
def any_store() -> SnapshotStore:
    """The store both backends can see: the default one (docker mounts it in its containers)."""
    return default_store()


def _snapshot(any_store: SnapshotStore, repo: Path) -> RepoSnapshot:
    return any_store.snapshot(repo)


def test_a_function_using_sibling_names_and_relative_imports_passes(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py", target="order_total")
    result = any_executor.run(
        RunRequest(program=pricing_module(repo), tests=PRICING_TESTS, context=context)
    )
    assert result.passed, [r.message for r in result.results]
    # The package's __init__ imports the target: it got the candidate, not the stub.
    check = TestCase.from_assert("assert __import__('shop').order_total is order_total")
    assert any_executor.run(
        RunRequest(program=pricing_module(repo), tests=(check,), context=context)
    ).passed


def test_a_wrong_candidate_fails_with_expected_and_actual(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py", target="order_total")
    wrong = pricing_module(repo, "    return sum(i.subtotal() for i in items)\n")
    (first, second) = any_executor.run(
        RunRequest(program=wrong, tests=PRICING_TESTS, context=context)
    ).results
    assert first.status == "failed" and first.message == "expected 12.5, got 10.0"
    assert second.passed


def test_a_method_using_self_and_a_module_helper_passes(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(
        _snapshot(any_store, repo), "shop/auth.py", target="AuthService.authenticate"
    )
    result = any_executor.run(
        RunRequest(program=auth_module(repo), tests=AUTH_TESTS, context=context)
    )
    assert result.passed, [r.message for r in result.results]
    # The stub alone fails: it really is the candidate that ran.
    stub = any_executor.run(
        RunRequest(program=auth_module(repo, STUB), tests=AUTH_TESTS[:1], context=context)
    )
    assert stub.results[0].exc_type == "NotImplementedError"


def test_a_method_of_a_nested_class(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(
        _snapshot(any_store, repo), "shop/auth.py", target="AuthService.Policy.allows"
    )
    tests = (
        TestCase.from_assert('assert AuthService.Policy(admin=True).allows("delete")'),
        TestCase.from_assert('assert not AuthService.Policy(admin=False).allows("delete")'),
    )
    result = any_executor.run(
        RunRequest(program=auth_module(repo, STUB, ALLOWS), tests=tests, context=context)
    )
    assert result.passed, [r.message for r in result.results]
    events = result.results[0].trace.events
    assert events[0].kind == "call" and events[0].function == "AuthService.Policy.allows"
    assert [e.source for e in events if e.kind == "line"] == ["if self.admin:", "return True"]


def test_the_trace_shows_the_target_and_one_level_of_package_calls(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(
        _snapshot(any_store, repo), "shop/auth.py", target="AuthService.authenticate"
    )
    result = any_executor.run(
        RunRequest(program=auth_module(repo), tests=AUTH_TESTS[:1], context=context)
    )
    trace = result.results[0].trace
    rows = [(e.kind, e.function, e.depth) for e in trace.events]
    assert rows == [
        ("call", "AuthService.authenticate", 0),
        ("line", "AuthService.authenticate", 0),
        ("call", "UserDB.lookup", 1),
        ("return", "UserDB.lookup", 1),
        ("line", "AuthService.authenticate", 0),
        ("line", "AuthService.authenticate", 0),
        ("call", "hash_password", 1),
        ("return", "hash_password", 1),
        ("return", "AuthService.authenticate", 0),
    ]
    # Calls into the package are shown at the target's calling line, with arguments and value;
    # UserDB(...) built by the test and the internals of hash_password are not traced.
    lookup = trace.events[2]
    assert lookup.source == "stored = self.db.lookup(username)"
    assert lookup.locals["username"] == "'ann'"
    assert "return AuthService.authenticate -> True" in render_trace(trace)


def test_the_trace_of_a_call_into_a_sibling_module_names_it(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py", target="order_total")
    body = "    total = 0.0\n    for item in items:\n        total += item.subtotal()\n    return round_money(total * (1 + TAX_RATE))\n"
    result = any_executor.run(
        RunRequest(program=pricing_module(repo, body), tests=PRICING_TESTS[:1], context=context)
    )
    assert result.passed
    calls = [e for e in result.results[0].trace.events if e.kind == "call" and e.depth == 1]
    assert [e.function for e in calls] == [
        "shop.models.Item.subtotal",
        "shop.models.Item.subtotal",
        "round_money",
    ]
    assert not [e for e in result.results[0].trace.events if e.depth > 1]


def test_stage_validators_run_in_the_module(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py", target="order_total")
    assert check_imports(pricing_module(repo), any_executor, context=context).ok
    bad_setup = pricing_module(repo).replace("from .models import", "from .modles import")
    verdict = check_imports(bad_setup, any_executor, context=context)
    assert not verdict.ok and "No module named 'shop.modles'" in verdict.summary

    partial = pricing_module(repo, "    subtotal = sum(item.subtotal() for item in items)\n")
    smoke = check_smoke(
        partial, PRICING_TESTS, any_executor, entry_point="order_total", context=context
    )
    assert smoke.ok, smoke.summary
    crash = pricing_module(repo, "    subtotal = sum(item.total() for item in items)\n")
    smoke = check_smoke(
        crash, PRICING_TESTS[:1], any_executor, entry_point="order_total", context=context
    )
    assert not smoke.ok and "AttributeError" in smoke.summary

    unit = check_unit(
        pricing_module(repo),
        PRICING_TESTS,
        any_executor,
        entry_point="order_total",
        context=context,
    )
    assert unit.ok and unit.summary == "2/2 unit tests passed"


def test_preflight_reports_a_module_that_does_not_import(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    (repo / "shop" / "models.py").write_text("import requests_not_installed\n")
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py", target="order_total")
    verdict = check_module_imports(context, any_executor)
    assert not verdict.ok
    assert "\n" not in verdict.summary
    assert verdict.summary.startswith(
        "module shop.pricing (shop/pricing.py) does not import before the bead starts: "
        "ModuleNotFoundError"
    )
    assert "No module named 'requests_not_installed' (at shop/models.py line 1)" in verdict.summary
    assert "site_packages" in verdict.summary


def test_preflight_of_a_new_module_imports_its_package(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/coupons.py", target="apply")
    verdict = check_module_imports(context, any_executor)
    assert verdict.ok, verdict.summary
    assert verdict.summary == "module shop.coupons imports"


def test_a_src_layout(any_executor: Executor, any_store: SnapshotStore, open_tmp: Path) -> None:
    base = open_tmp / "src-layout"
    base.mkdir()
    repo = copy_fixture(base, src_layout=True)
    snapshot = any_store.snapshot(repo)
    assert snapshot.import_roots == ("src", ".")
    context = module_context(snapshot, "src/shop/pricing.py", target="order_total")
    text = (repo / "src/shop/pricing.py").read_text().split('    """The order')[0] + PRICING
    assert any_executor.run(RunRequest(program=text, tests=PRICING_TESTS, context=context)).passed


def test_run_as_main_and_script(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py")
    program = pricing_module(repo) + (
        '\n\nif __name__ == "__main__":\n    print(order_total([Item("x", float(input()))]))\n'
    )
    stdio = TestCase.from_stdio("4\n", "5.0\n")
    script = TestCase.script()
    result = any_executor.run(RunRequest(program=program, tests=(stdio, script), context=context))
    assert result.passed, [r.message for r in result.results]
    assert result.results[1].stdout == ""  # imported, not run as __main__


def test_integration_runs_the_repositorys_tests_on_the_snapshot(
    any_executor: Executor, any_store: SnapshotStore, repo: Path
) -> None:
    snapshot = _snapshot(any_store, repo)
    context = module_context(snapshot, "shop/pricing.py", target="order_total")
    command = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_pricing.py")
    good = check_integration(
        repo, {"shop/pricing.py": pricing_module(repo)}, command, any_executor, context=context
    )
    assert good.ok, good.evidence
    stub = check_integration(
        repo,
        {},
        (*command, "--junitxml=report.xml"),
        any_executor,
        context=context,
        junit_xml="report.xml",
    )
    assert not stub.ok and "NotImplementedError" in "\n".join(stub.evidence)
    assert stub.command is not None
    assert {(c.name, c.status) for c in stub.command.junit} == {
        ("test_total_with_tax", "failed"),
        ("test_empty_order", "failed"),
    }


def test_integration_of_a_src_layout_puts_its_roots_on_pythonpath(
    any_executor: Executor, any_store: SnapshotStore, open_tmp: Path
) -> None:
    base = open_tmp / "src-layout"
    base.mkdir()
    repo = copy_fixture(base, src_layout=True)
    context = module_context(any_store.snapshot(repo), "src/shop/auth.py")
    text = auth_module_src(repo)
    command = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_auth.py")
    verdict = check_integration(
        repo, {"src/shop/auth.py": text}, command, any_executor, context=context
    )
    assert verdict.ok, verdict.evidence
    bare = any_executor.run_command(
        CommandRequest(
            argv=command, directory=context.snapshot.path, limits=Limits(wall_s=60, cpu_s=60)
        )
    )
    assert not bare.passed  # without the roots on PYTHONPATH, `shop` is not importable


def auth_module_src(repo: Path) -> str:
    text = (repo / "src" / "shop" / "auth.py").read_text()
    first, rest = text.split(STUB, 1)
    return first + AUTHENTICATE + rest


def test_a_context_of_another_repository_is_refused(
    any_executor: Executor, any_store: SnapshotStore, repo: Path, open_tmp: Path
) -> None:
    context = module_context(_snapshot(any_store, repo), "shop/pricing.py")
    other = open_tmp / "other"
    other.mkdir()
    with pytest.raises(UserError, match=r"is a snapshot of .*, not of"):
        check_integration(other, {}, ("true",), any_executor, context=context)


def test_a_released_snapshot_is_an_error_not_a_failing_candidate(
    any_executor: Executor, store: SnapshotStore, repo: Path
) -> None:
    snapshot = store.snapshot(repo)
    context = module_context(snapshot, "shop/pricing.py")
    store.release(snapshot)
    with pytest.raises(SnapshotError, match="no longer exists"):
        any_executor.run(RunRequest(program="", tests=PRICING_TESTS, context=context))


def test_the_context_target_wins_over_trace_function(repo: Path, store: SnapshotStore) -> None:
    context = module_context(
        store.snapshot(repo), "shop/auth.py", target="AuthService.authenticate"
    )
    request = RunRequest(
        program="", tests=AUTH_TESTS, trace_function="authenticate", context=context
    )
    assert request.traced == "AuthService.authenticate"
    assert RunRequest(program="", tests=AUTH_TESTS, trace_function="f").traced == "f"
    assert isinstance(context, ModuleContext)
