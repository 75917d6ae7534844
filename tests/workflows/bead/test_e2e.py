"""End to end: the packaged model on the local sandbox (slow), the integration stage in Docker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from beadline.workflows.bead.generation import ScriptedGenerator
from beadline.workflows.bead.graph import build_bead_graph
from beadline.workflows.bead.loaders import load_bead_file
from beadline.workflows.cli import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.slow
def test_easiest_example_bead_with_the_packaged_model(tmp_path: Path, sample_repo: Path) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(
        cli,
        [
            "bead",
            "run",
            str(EXAMPLES / "beads" / "1-square.yaml"),
            "--repo",
            str(sample_repo),
            "--sandbox",
            "local",
            "--model",
            "smollm2-135m",
            "--db",
            str(tmp_path / "db.sqlite"),
            "--report-dir",
            str(tmp_path / "reports"),
            "--thread",
            "e2e",
        ],
        catch_exceptions=False,
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    text = (sample_repo / "sample_pkg" / "mathx.py").read_text()
    assert "def square(n: int) -> int:" in text and "def clamp" in text
    namespace: dict[str, object] = {}
    exec(compile(text, "mathx.py", "exec"), namespace)
    assert namespace["square"](7) == 49  # type: ignore[operator]
    assert (tmp_path / "reports" / "e2e.md").is_file()
    assert elapsed < 90, f"took {elapsed:.0f} s"


@pytest.mark.docker
def test_integration_stage_runs_in_docker(sample_repo: Path) -> None:
    from beadline.validators.sandbox.factory import make_executor

    bead = load_bead_file(EXAMPLES / "beads" / "1-square.yaml")
    gen = ScriptedGenerator({"body[0]": ["return n + n", "return n * n"]})
    with make_executor("docker") as executor:
        assert executor.name == "docker"
        graph = build_bead_graph(gen, executor)
        out = graph.invoke(
            {"bead": bead.model_dump(mode="json"), "repo": str(sample_repo)},
            {"configurable": {"thread_id": "docker"}},
        )
    assert out["status"] == "passed", out["message"]
    assert out["baseline"]["ok"]
    integration = [h for h in out["history"] if h["stage"] == "integration"]
    assert [h["ok"] for h in integration] == [False, True]
    assert [v["validator"] for v in integration[-1]["validations"]] == ["unit", "integration"]
    assert "square" not in (sample_repo / "sample_pkg" / "mathx.py").read_text()
