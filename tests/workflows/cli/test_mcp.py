"""``beadline mcp``: its options, bad input, and streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from beadline.workflows.cli import cli


def test_help_lists_the_tools_and_options() -> None:
    result = CliRunner().invoke(cli, ["mcp", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "implement_bead, resume_bead, bead_status" in result.output
    for option in ("--repo", "--model", "--backend", "--base-url", "--api-key-env", "--http"):
        assert option in result.output
    assert "mcp" in CliRunner().invoke(cli, ["--help"]).output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--base-url", "http://x/v1"], "--base-url is only for --backend openai"),
        (["--backend", "openai", "--base-url", "x"], "is not an http(s) URL"),
        (["--backend", "vllm"], "'vllm' is not one of 'llama_cpp', 'transformers', 'openai'"),
        (["--repo", "/no/such/dir"], "--repo '/no/such/dir' is not a directory"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["mcp", *args])
    assert result.exit_code != 0
    assert expected in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _list_over_http(url: str) -> list[str]:
    from mcp import Client

    async with Client(url) as client:
        return [tool.name for tool in (await client.list_tools()).tools]


@pytest.mark.slow  # a server process: ~3-5 s
def test_http_serves_the_tools_on_localhost(sample_repo: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "BEADLINE_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "beadline.workflows", "mcp", "--http", "--port", str(port)]
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            [*command, "--repo", str(sample_repo)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert server.poll() is None, (tmp_path / "server.log").read_text()
                    assert time.monotonic() < deadline, "the server did not start in 60 s"
                    time.sleep(0.2)
            names = anyio.run(_list_over_http, f"http://127.0.0.1:{port}/mcp")
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert "implement_bead" in names and "solve_task" in names
    assert f"http://127.0.0.1:{port}/mcp" in (tmp_path / "server.log").read_text()
