"""``beadline bead run --backend openai`` against a real ``llama_cpp.server`` on 127.0.0.1, and a
resume from another directory that talks to the same server because the thread remembers it.

The server runs the tiny plumbing model (its text is gibberish), so the body stage fails its
validations: what is tested is that the requests go to the server the run was given, and that
the stored model choice brings the resume back to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.agents.models.registry import resolve_model_path
from beadline.workflows.bead import runtime
from beadline.workflows.bead.store import default_db, open_store
from beadline.workflows.cli import cli
from tests._servers import llama_cpp_server

from ..conftest import InProcessExecutor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SQUARE = str(Path(__file__).resolve().parents[3] / "examples" / "beads" / "1-square.yaml")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "server.log"
    with llama_cpp_server(resolve_model_path("tiny-test"), log_path, n_ctx=2048) as url:
        yield url, log_path


def _requests(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    return [ln for ln in lines if '"GET /v1/models' in ln or '"POST /v1/completions' in ln]


def _bead(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["bead", *args], catch_exceptions=False, input=input)


def test_bead_run_on_a_server_and_resume_it_from_elsewhere(
    server: tuple[str, Path],
    sample_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, log = server
    monkeypatch.setattr(runtime, "make_sandbox", lambda kind, **_: InProcessExecutor())
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    args = ["run", SQUARE, "--repo", str(sample_repo), "--backend", "openai", "--base-url", url]
    args += ["--review", "--decode-seconds", "2", "--thread", "api"]
    # approve the given signature and the empty setup; the tiny model then spends the body
    # part's budget and the review question finds no more input
    result = _bead(*args, input="approve\napprove\n")
    assert result.exit_code == 1, result.output
    assert f"model the server's model (openai at {url})" in result.output
    assert "interrupted; nothing was written. Continue with `beadline bead resume api`" in (
        result.output
    )
    first = _requests(log)
    assert any("POST /v1/completions" in ln for ln in first), first
    with open_store(default_db(sample_repo)) as store:
        record = store.get("api")
    assert record is not None
    assert record.options["model"] == {
        "model": None,
        "backend": "openai",
        "base_url": url,
        "api_key_env": None,
    }
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resumed = _bead("resume", "api", input="abort\n")
    assert resumed.exit_code == 1
    assert f"resuming square · thread api · model the server's model (openai at {url})" in (
        resumed.output
    )
    assert resumed.output.rstrip().endswith("Error: bead square: stopped by the reviewer")
    assert len(_requests(log)) > len(first)  # the resumed run opened the same server again
    listed = json.loads(_bead("threads", "--repo", str(sample_repo), "--json").output)
    assert (listed["thread_id"], listed["status"]) == ("api", "aborted")
