"""The bead graph with the scripted generator: stage order, routing of failures, budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from beadline.validators.testing import FakeExecutor
from beadline.workflows.bead.generation import GeneratedStage, ScriptedGenerator
from beadline.workflows.bead.graph import build_bead_graph
from beadline.workflows.bead.spec import Bead, parse_bead

from ..conftest import InProcessExecutor


def _bead(**overrides: Any) -> Bead:
    data: dict[str, Any] = {
        "id": "b1",
        "description": "Return the sum of the squares of the numbers in xs.",
        "target": {
            "file": "sample_pkg/mathx.py",
            "function": "sum_squares",
            "signature": "def sum_squares(xs):",
        },
        "tests": [
            "assert sum_squares([1, 2]) == 5",
            "assert sum_squares([]) == 0",
            "assert sum_squares([3]) == 9",
        ],
    }
    data.update(overrides)
    return parse_bead(data)


def _run(graph: Any, bead: Bead, repo: Path | None = None, thread: str = "t") -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    inp: dict[str, Any] = {"bead": bead.model_dump(mode="json")}
    if repo is not None:
        inp["repo"] = str(repo)
    return dict(graph.invoke(inp, config))


def _stages(gen: ScriptedGenerator) -> list[str]:
    return [gen.key(c) for c in gen.calls]


def test_happy_path_builds_stage_by_stage(inproc: InProcessExecutor) -> None:
    gen = ScriptedGenerator(
        {
            "body[0]": "total = 0",
            "body[1]": "for x in xs:\n    total += x * x",
            "body[2]": "return total",
        }
    )
    out = _run(build_bead_graph(gen, inproc), _bead())
    assert out["status"] == "passed", out["message"]
    assert _stages(gen) == ["signature", "setup", "body[0]", "body[1]", "body[2]"]
    assert out["parts"] == [
        "    total = 0",
        "    for x in xs:\n        total += x * x",
        "    return total",
    ]
    assert "def sum_squares(xs):\n    total = 0\n" in out["program"]
    stages = [(h["stage"], h["part"], h["ok"]) for h in out["history"]]
    assert stages == [
        ("signature", 0, True),
        ("setup", 0, True),
        ("body", 0, True),
        ("body", 1, True),
        ("body", 2, True),
        ("integration", 0, True),
    ]


def test_failing_body_part_reruns_only_that_part_with_evidence(inproc: InProcessExecutor) -> None:
    gen = ScriptedGenerator(
        {
            "body[0]": "total = 0",
            "body[1]": ["for x in xs:\n    total += y * x", "for x in xs:\n    total += x * x"],
            "body[2]": "return total",
        }
    )
    out = _run(build_bead_graph(gen, inproc), _bead())
    assert out["status"] == "passed"
    assert _stages(gen) == ["signature", "setup", "body[0]", "body[1]", "body[1]", "body[2]"]
    retry = gen.calls[4]
    assert retry.attempt == 2
    assert retry.parts == ("    total = 0",)  # the accepted part is kept
    assert retry.feedback is not None
    assert "NameError" in retry.feedback.summary
    assert "y" in retry.feedback.code


def test_failing_integration_reopens_the_part_holding_the_wrong_line(
    inproc: InProcessExecutor,
) -> None:
    gen = ScriptedGenerator(
        {
            "body[0]": "total = 0",
            "body[1]": [
                "for x in xs:\n    total += x / 0 if x > 2 else x * x",
                "for x in xs:\n    total += x * x",
            ],
            "body[2]": "return total",
        }
    )
    out = _run(build_bead_graph(gen, inproc), _bead())
    assert out["status"] == "passed", out["message"]
    # smoke passes (no crash on [1, 2] ... but [3] crashes): the part fails at smoke already
    assert _stages(gen).count("body[1]") == 2


def test_wrong_value_at_integration_reopens_the_last_part_only(inproc: InProcessExecutor) -> None:
    gen = ScriptedGenerator(
        {
            "body[0]": "total = 0",
            "body[1]": "for x in xs:\n    total += x * x",
            "body[2]": ["return total + 1", "return total"],
        }
    )
    out = _run(build_bead_graph(gen, inproc), _bead())
    assert out["status"] == "passed"
    assert _stages(gen) == ["signature", "setup", "body[0]", "body[1]", "body[2]", "body[2]"]
    feedback = gen.calls[-1].feedback
    assert feedback is not None and feedback.stage == "integration"
    assert "expected 5, got 6" in "\n".join([feedback.summary, *feedback.evidence])
    integration = [h for h in out["history"] if h["stage"] == "integration"]
    assert [h["ok"] for h in integration] == [False, True]


def test_missing_import_routes_to_setup(inproc: InProcessExecutor) -> None:
    bead = _bead(
        description="Return the square root of x, rounded down.",
        target={"file": "m.py", "function": "isqrt_", "signature": "def isqrt_(x):"},
        tests=["assert isqrt_(10) == 3", "assert isqrt_(16) == 4"],
    )
    gen = ScriptedGenerator({"setup": ["", "import math"], "body[0]": "return math.isqrt(x)"})
    out = _run(build_bead_graph(gen, inproc), bead)
    assert out["status"] == "passed", out["message"]
    assert _stages(gen) == ["signature", "setup", "body[0]", "setup", "body[0]"]
    assert out["setup"] == "import math"
    assert gen.calls[3].feedback is not None and "math" in gen.calls[3].feedback.summary


def test_budget_exhausted_ends_failed_with_what_was_learned(inproc: InProcessExecutor) -> None:
    bead = _bead(budgets={"body_part": 2})
    gen = ScriptedGenerator({"body[0]": "total = 0", "body[1]": "return undefined_name"})
    out = _run(build_bead_graph(gen, inproc), bead)
    assert out["status"] == "failed"
    assert "body[1]" in out["message"] and "2 attempt" in out["message"]
    assert _stages(gen).count("body[1]") == 2
    assert out["parts"] == ["    total = 0"]  # accepted work is kept
    assert out["feedback"] is not None and "NameError" in out["feedback"]["summary"]
    assert sum(1 for h in out["history"] if not h["ok"]) == 2


def test_integration_budget_bounds_the_repair_loop(inproc: InProcessExecutor) -> None:
    bead = _bead(budgets={"integration": 2, "body_part": 5})
    gen = ScriptedGenerator({"body[0]": ["return 42", "return 43", "return 44"]})
    out = _run(build_bead_graph(gen, inproc), bead)
    assert out["status"] == "failed"
    assert "integration" in out["message"]
    assert _stages(gen).count("body[0]") == 2


def test_signature_is_checked(inproc: InProcessExecutor) -> None:
    bead = _bead(target={"file": "m.py", "function": "sum_squares"}, budgets={"signature": 2})
    gen = ScriptedGenerator({"signature": ["def other(xs):", "def sum_squares(xs)"]})
    out = _run(build_bead_graph(gen, inproc), bead)
    assert out["status"] == "failed"
    summaries = [h["summary"] for h in out["history"]]
    assert "exactly one `def sum_squares" in summaries[0]
    assert "SyntaxError" in summaries[1]


def test_wrong_arguments_reopen_a_generated_signature(inproc: InProcessExecutor) -> None:
    bead = _bead(target={"file": "m.py", "function": "sum_squares"})
    gen = ScriptedGenerator(
        {
            "signature": ["def sum_squares():", "def sum_squares(xs):"],
            "body[0]": ["return 0", "return sum(x * x for x in xs)"],
        }
    )
    out = _run(build_bead_graph(gen, inproc), bead)
    assert out["status"] == "passed", out["message"]
    assert _stages(gen)[:4] == ["signature", "setup", "body[0]", "signature"]


def test_progress_events_stream_in_custom_mode(inproc: InProcessExecutor) -> None:
    gen = ScriptedGenerator({"body[0]": ["return 1", "return sum(x * x for x in xs)"]})
    graph = build_bead_graph(gen, inproc)
    events = [
        e
        for e in graph.stream(
            {"bead": _bead().model_dump(mode="json")},
            {"configurable": {"thread_id": "s"}},
            stream_mode="custom",
        )
    ]
    kinds = [(e["event"], e.get("stage")) for e in events]
    assert kinds[0] == ("stage_started", "preflight")
    assert ("stage_failed", "integration") in kinds
    assert ("stage_validated", "integration") in kinds
    assert kinds[-1] == ("finished", None)
    assert events[-1]["status"] == "passed"


def test_graph_has_typed_input_and_output(inproc: InProcessExecutor) -> None:
    graph = build_bead_graph(ScriptedGenerator(), inproc, name="my-bead")
    assert graph.name == "my-bead"
    assert set(graph.get_input_jsonschema()["properties"]) == {"bead", "repo"}
    out_props = set(graph.get_output_jsonschema()["properties"])
    assert {"status", "program", "history", "cost"} <= out_props


def test_interrupt_before_passes_through(inproc: InProcessExecutor) -> None:
    gen = ScriptedGenerator({"body[0]": "return sum(x * x for x in xs)"})
    graph = build_bead_graph(
        gen, inproc, checkpointer=InMemorySaver(), interrupt_before=["integration"]
    )
    config = {"configurable": {"thread_id": "ib"}}
    graph.invoke({"bead": _bead().model_dump(mode="json")}, config)
    assert graph.get_state(config).next == ("integration",)
    out = graph.invoke(None, config)
    assert out["status"] == "passed"


def test_generator_errors_become_failed_attempts() -> None:
    from beadline.workflows.errors import UserError

    def boom(request: Any) -> GeneratedStage:
        if request.stage == "body":
            raise UserError("model exploded")
        return GeneratedStage(
            code=request.bead.target.signature if request.stage == "signature" else ""
        )

    bead = _bead(budgets={"body_part": 1})
    out = _run(build_bead_graph(ScriptedGenerator(fn=boom), FakeExecutor()), bead)
    assert out["status"] == "failed"
    assert "model exploded" in out["message"]


@pytest.mark.slow  # two pytest subprocesses: ~3-5 s
def test_a_pytest_test_file_is_the_unit_stage_in_a_scratch_repo(
    inproc: InProcessExecutor, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "m.py").write_text('"""m."""\n')
    (repo / "test_m.py").write_text(
        "from pkg.m import sum_squares\n\n\ndef test_it():\n    assert sum_squares([1, 2, 3]) == 14\n"
    )
    bead = _bead(
        target={
            "file": "pkg/m.py",
            "function": "sum_squares",
            "signature": "def sum_squares(xs):",
            "create": True,
        },
        tests=[],
        test_file="test_m.py",
        budgets={"integration": 2},
    )
    gen = ScriptedGenerator({"body[0]": ["return sum(xs)", "return sum(x * x for x in xs)"]})
    out = _run(build_bead_graph(gen, inproc), bead, repo=repo)
    assert out["status"] == "passed", out["message"]
    runs = [c.argv[:5] for c in inproc.commands]
    # once on the unchanged repository (the baseline of failing tests), then per attempt
    assert runs == [("python", "-m", "pytest", "-q", "test_m.py")] * 3
    assert "def sum_squares" not in inproc.commands[0].files.get("pkg/m.py", "")
    # the stage asks pytest for a fresh JUnit report: an exit status alone is not a pass
    assert all(c.argv[5].startswith("--junitxml=") for c in inproc.commands)
    assert "def sum_squares(xs):" in inproc.commands[-1].files["pkg/m.py"]
    assert (repo / "pkg" / "m.py").read_text() == '"""m."""\n'  # the scratch copy, not the repo
    failed = [h for h in out["history"] if h["stage"] == "integration" and not h["ok"]]
    assert "exited 1" in failed[0]["summary"]
