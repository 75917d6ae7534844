"""Beads in a real repository, through the graph with the scripted generator and real sandboxes.

The repository is a private copy of ``examples/inventory_repo`` (a package with a pytest suite).
Covered: stub signatures become the bead's (decorators and docstring kept), setup merged by
bound name, the working tree never written by a candidate (on both backends), integration
counting only new failures, body parts that do nothing rejected, retries that repeat the failed
code not run again, and the write landing the validated text or nothing.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from beadline.validators.executor import Executor
from beadline.validators.sandbox.factory import make_executor
from beadline.workflows.bead.apply import ApplyError
from beadline.workflows.bead.generation import ScriptedGenerator
from beadline.workflows.bead.graph import build_bead_graph
from beadline.workflows.bead.spec import Bead, parse_bead
from beadline.workflows.bead.write import write_result

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inventory_repo"

ORDER_TOTAL: dict[str, Any] = {
    "id": "total",
    "description": "The taxed total of the items, rounded to cents.",
    "target": {"file": "inventory/pricing.py", "function": "order_total"},
    "tests": [
        "assert order_total([]) == 0.0",
        'assert order_total([Item("pen", 2.5, 2), Item("pad", 5.0)]) == 12.0',
    ],
    "integration": {"command": "python -m pytest -q tests"},
}
RIGHT_TOTAL = {
    "body[0]": "subtotal = sum(item.subtotal() for item in items)",
    "body[1]": "return round_money(subtotal * (1 + TAX_RATE))",
}


@pytest.fixture(scope="module")
def local() -> Iterator[Executor]:
    with make_executor("local", workers=1) as executor:
        yield executor


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "inventory_repo"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _bead(base: dict[str, Any] = ORDER_TOTAL, **changes: Any) -> Bead:
    return parse_bead({**base, **changes})


def _run(gen: ScriptedGenerator, executor: Executor, bead: Bead, repo: Path) -> dict[str, Any]:
    graph = build_bead_graph(gen, executor)
    out = graph.invoke(
        {"bead": bead.model_dump(mode="json"), "repo": str(repo)},
        {"configurable": {"thread_id": "t"}},
    )
    return dict(out)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_a_stub_keeps_its_signature_and_docstring_and_lands_byte_for_byte(
    local: Executor, repo: Path
) -> None:
    gen = ScriptedGenerator(RIGHT_TOTAL)
    out = _run(gen, local, _bead(), repo)
    assert out["status"] == "passed", out["message"]
    assert out["signature"] == (
        "def order_total(items: list[Item]) -> float:\n"
        '    """The order\'s total: the items\' subtotals plus tax at TAX_RATE, rounded to cents."""'
    )
    assert out["target"]["stub"] == "raise NotImplementedError"
    pricing = repo / "inventory" / "pricing.py"
    before = pricing.read_text()
    written = write_result(out, _bead(), local, dry_run=False)
    assert pricing.read_text() == out["module_text"]
    assert written.recheck is not None and written.recheck.ok
    # only the stub's body changed: every line before it is the file's own
    old, new = before.splitlines(), pricing.read_text().splitlines()
    assert new[: len(old) - 1] == old[:-1]
    assert new[len(old) - 1 :] == [
        "    subtotal = sum(item.subtotal() for item in items)",
        "    return round_money(subtotal * (1 + TAX_RATE))",
    ]


def test_the_write_refuses_a_file_changed_since_it_was_validated(
    local: Executor, repo: Path
) -> None:
    out = _run(ScriptedGenerator(RIGHT_TOTAL), local, _bead(), repo)
    pricing = repo / "inventory" / "pricing.py"
    pricing.write_text(pricing.read_text() + "\n# edited while the bead ran\n")
    edited = pricing.read_text()
    with pytest.raises(ApplyError, match="changed since the bead validated its new text"):
        write_result(out, _bead(), local, dry_run=False)
    assert pricing.read_text() == edited


def test_a_failed_recheck_restores_the_previous_file(
    local: Executor, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from beadline.validators.stages import StageVerdict
    from beadline.workflows.bead import write

    out = _run(ScriptedGenerator(RIGHT_TOTAL), local, _bead(), repo)
    pricing = repo / "inventory" / "pricing.py"
    before = pricing.read_text()
    failed = StageVerdict(stage="unit", ok=False, summary="1/2 unit tests passed")
    monkeypatch.setattr(write, "recheck_written", lambda *a: failed)
    with pytest.raises(
        ApplyError,
        match=r"failed its re-check \(1/2 unit tests passed\); the previous file was restored",
    ):
        write_result(out, _bead(), local, dry_run=False)
    assert pricing.read_text() == before


def test_setup_is_merged_by_bound_name(local: Executor, repo: Path) -> None:
    bead = _bead(
        target={
            "file": "inventory/pricing.py",
            "function": "order_total",
            "setup": "from .models import TAX_RATE, Item\nimport math\nTAX_RATE = 0.25",
        },
        tests=['assert order_total([Item("pen", 4.0)]) == 5.0'],
        integration=None,
    )
    gen = ScriptedGenerator(
        {"body[0]": "return round_money(math.fsum(i.subtotal() for i in items) * (1 + TAX_RATE))"}
    )
    out = _run(gen, local, bead, repo)
    assert out["status"] == "passed", out["message"]
    tree = ast.parse(out["module_text"])
    bindings = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom | ast.Assign)]
    texts = [ast.unparse(n) for n in bindings]
    # TAX_RATE is bound once, by the setup's value; Item is still imported once; math is added
    assert sum("TAX_RATE" in t for t in texts) == 1 and "TAX_RATE = 0.25" in texts
    assert "from .models import Item" in texts and "import math" in texts


@pytest.mark.parametrize("sandbox", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_hostile_candidate_never_writes_the_working_tree(sandbox: str, repo: Path) -> None:
    victim = repo / "inventory" / "pricing.py"
    hostile = "\n".join(
        [
            "import os, shutil",
            "for path, action in (",
            f"    ({str(victim)!r}, 'write'), ({str(repo / 'tests')!r}, 'rmtree'),",
            f"    ({str(repo / 'pwned.txt')!r}, 'write'), (__file__, 'write'),",
            "):",
            "    try:",
            "        if action == 'write':",
            "            open(path, 'w').write('pwned')",
            "        else:",
            "            shutil.rmtree(path)",
            "    except OSError:",
            "        pass",
        ]
    )
    before = _digest(repo)
    bead = _bead(budgets={"body_part": 1, "integration": 1})
    gen = ScriptedGenerator({"body[0]": [hostile], "body[1]": "return 0.0"})
    with make_executor(sandbox, workers=1) as executor:
        out = _run(gen, executor, bead, repo)
    assert out["status"] == "failed"  # the hostile code also returns the wrong total
    assert any(h["stage"] == "body" and h["ok"] for h in out["history"])  # it did run
    assert _digest(repo) == before


def test_a_pre_existing_failure_does_not_block_and_a_new_one_does(
    local: Executor, repo: Path
) -> None:
    (repo / "tests" / "test_known_bug.py").write_text(
        "def test_known_bug() -> None:\n    assert 1 + 1 == 3\n"
    )
    out = _run(ScriptedGenerator(RIGHT_TOTAL), local, _bead(), repo)
    assert out["status"] == "passed", out["message"]
    baseline = out["baseline"]
    assert "tests.test_known_bug::test_known_bug" in baseline["pre_existing"]
    assert "tests.test_auth::test_known_user_with_the_right_password" in baseline["pre_existing"]
    assert baseline["must_pass"] == [
        "tests.test_pricing::test_order_total_adds_tax",
        "tests.test_pricing::test_empty_order_costs_nothing",
    ]
    integration = [h for h in out["history"] if h["stage"] == "integration"][-1]
    assert "no new failures" in integration["summary"]

    # replacing round_money (an implemented function) breaks its test: a new failure
    bead = _bead(
        id="round",
        description="Round to cents.",
        target={"file": "inventory/pricing.py", "function": "round_money"},
        tests=["assert round_money(2.0) == 2.0"],
        budgets={"body_part": 1, "integration": 1},
    )
    out = _run(ScriptedGenerator({"body[0]": "return amount"}), local, bead, repo)
    assert out["status"] == "failed"
    assert "1 new failing test(s): tests.test_pricing::test_round_money" in out["message"]


def test_a_test_of_the_target_failing_before_must_pass(local: Executor, repo: Path) -> None:
    # the unit asserts pass, the repository's own test of the stub does not
    bead = _bead(
        tests=["assert order_total([]) == 0.0"], budgets={"body_part": 1, "integration": 1}
    )
    out = _run(ScriptedGenerator({"body[0]": "return 0.0"}), local, bead, repo)
    assert out["status"] == "failed"
    assert (
        "test(s) of the target still failing: tests.test_pricing::test_order_total_adds_tax"
        in (out["message"])
    )


def test_body_parts_that_do_nothing_are_rejected_and_say_why(local: Executor, repo: Path) -> None:
    chain = "def order_total(items):\n    def order_total(items):\n        def order_total(items):\n            pass"
    helper = "def unused(item):\n    return item.price"
    gen = ScriptedGenerator(
        {
            "body[0]": [chain, helper, "pass", "total = 0.0"],
            "body[1]": RIGHT_TOTAL["body[1]"].replace(
                "subtotal", "sum(i.subtotal() for i in items)"
            ),
        }
    )
    out = _run(gen, local, _bead(integration=None), repo)
    assert out["status"] == "passed", out["message"]
    failures = [h["summary"] for h in out["history"] if not h["ok"]]
    assert "body part 1 re-defines `order_total` inside itself" in failures[0]
    assert "body part 1 never runs on any test" in failures[1]  # its definition is never used
    assert "its definition is never used" in failures[1]
    assert "body part 1 does nothing (lines 15-15: only `pass`" in failures[2]
    chain2 = "def a():\n    def b():\n        pass"
    gen = ScriptedGenerator({"body[0]": [chain2]})
    out = _run(gen, local, _bead(integration=None, budgets={"body_part": 1}), repo)
    assert out["status"] == "failed"
    assert "only defines a, whose body does nothing but define more functions" in out["message"]


def test_a_retry_that_repeats_the_failed_code_is_not_run_again(local: Executor, repo: Path) -> None:
    gen = ScriptedGenerator(
        {
            "body[0]": [
                "return undefined_name",
                "return undefined_name",
                "return 0.0 if not items else round_money(sum(i.subtotal() for i in items) * (1 + TAX_RATE))",
            ]
        }
    )
    out = _run(gen, local, _bead(integration=None), repo)
    assert out["status"] == "passed", out["message"]
    summaries = [h["summary"] for h in out["history"] if h["stage"] == "body"]
    assert "NameError" in summaries[0]
    assert summaries[1].startswith("the generator returned the code that just failed (")
    assert "NameError" in summaries[1] and summaries[1].endswith("it was not run again")
    # the feedback the retries saw showed the rejected code
    assert gen.calls[-1].feedback is not None
    assert gen.calls[-1].feedback.code == "    return undefined_name"


def test_a_package_name_the_code_needs_routes_to_the_setup(local: Executor, repo: Path) -> None:
    from beadline.workflows.bead.generation import imports_missing
    from beadline.workflows.bead.in_repo import open_target

    bead = parse_bead(
        {
            "id": "value",
            "description": "The items' value.",
            "target": {
                "file": "inventory/reports.py",
                "function": "inventory_value",
                "create": True,
                "signature": "def inventory_value(items):",
            },
            "tests": ['assert inventory_value([Item("a", 2.5, 2)]) == "5.00 EUR"'],
        }
    )
    gen = ScriptedGenerator(
        {
            "setup": ["", "from .pricing import round_money"],
            "body[0]": "return format_money(round_money(sum(i.subtotal() for i in items)))",
        }
    )
    out = _run(gen, local, bead, repo)
    assert out["status"] == "passed", out["message"]
    first_body = next(h for h in out["history"] if h["stage"] == "body")
    assert "round_money" in first_body["summary"] and first_body["retry"]["stage"] == "setup"
    assert "from .pricing import round_money" in out["module_text"]
    # what the EG-CFG generator adds to the setup for that evidence
    target = open_target(bead, repo)
    evidence = ["NameError: name 'round_money' is not defined", "name 'math' is not defined"]
    assert imports_missing(evidence, target) == ["from .pricing import round_money", "import math"]
    assert imports_missing(["name 'Item' is not defined"], target) == []  # reports imports it


def test_a_crlf_module_keeps_its_line_endings(local: Executor, repo: Path) -> None:
    pricing = repo / "inventory" / "pricing.py"
    crlf = pricing.read_text().replace("\n", "\r\n").encode()
    pricing.write_bytes(crlf)
    out = _run(ScriptedGenerator(RIGHT_TOTAL), local, _bead(integration=None), repo)
    assert out["status"] == "passed", out["message"]
    write_result(out, _bead(), local, dry_run=False)
    written = pricing.read_bytes()
    assert written.count(b"\n") == written.count(b"\r\n")  # every line still ends in CRLF
    assert written.startswith(crlf[: crlf.index(b"    raise NotImplementedError")])
    assert written.endswith(b"    return round_money(subtotal * (1 + TAX_RATE))\r\n")


def test_a_part_no_test_reaches_reopens_the_part_where_the_tests_leave(
    local: Executor, repo: Path
) -> None:
    gen = ScriptedGenerator(
        {
            "body[0]": ["if items is not None:\n    return 0.0", RIGHT_TOTAL["body[0]"]],
            "body[1]": RIGHT_TOTAL["body[1]"],
        }
    )
    out = _run(gen, local, _bead(integration=None), repo)
    assert out["status"] == "passed", out["message"]
    unreachable = next(h for h in out["history"] if not h["ok"])
    assert unreachable["part"] == 1 and unreachable["retry"] == {"stage": "body", "part": 0}
    assert "every test leaves the function in body part 1" in unreachable["summary"]
    assert [gen.key(c) for c in gen.calls][2:] == ["body[0]", "body[1]", "body[0]", "body[1]"]
    assert out["parts"][0] == "    " + RIGHT_TOTAL["body[0]"]
