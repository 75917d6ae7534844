"""Test helpers for the servers some tests need: PostgreSQL, ``langgraph dev`` and
``llama_cpp.server``.

The fixtures built on these live in ``tests/conftest.py`` (``postgres_dsn``, ``langgraph_dev``);
these helpers are importable as ``tests._servers`` (the repository root is on ``sys.path``,
see ``pythonpath`` in pyproject.toml) for tests that need more control.

PostgreSQL: ``tools/postgres.sh start`` runs a throwaway server on 127.0.0.1:55432 (``.ci/run``
does this). The tests read its DSN from ``BEADLINE_TEST_POSTGRES_DSN`` (default: the one that
script prints) and give every test a database of its own, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:55432/beadline_test"
"""What ``tools/postgres.sh start`` serves; overridden by ``BEADLINE_TEST_POSTGRES_DSN``."""


def postgres_dsn_from_env() -> str:
    """The DSN of the test server's main database (``BEADLINE_TEST_POSTGRES_DSN`` or default)."""
    return os.environ.get("BEADLINE_TEST_POSTGRES_DSN", DEFAULT_POSTGRES_DSN)


def probe_postgres(dsn: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Connect once; return ``(True, "")`` or ``(False, one-line reason)``."""
    try:
        import psycopg
    except ImportError:
        return False, "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return False, f"no PostgreSQL server at {dsn}: {reason}"
    return True, ""


@contextlib.contextmanager
def scratch_database(dsn: str) -> Iterator[str]:
    """Create a fresh database on the server of ``dsn``; yield its DSN; drop it afterwards.

    Args:
        dsn: any database on the server (its credentials are reused).

    Yields:
        A libpq connection string for the new, empty database.
    """
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = f"beadline_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, dbname=name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _http_ok(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


LANGGRAPH_DEV_ENV = {
    # The CLI's usage analytics (a background HTTP post) off; LangSmith tracing off.
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
"""Environment for an offline ``langgraph dev``: nothing leaves the machine. Without a license
key the API server skips its metadata loop by itself ("No license key ... skipping")."""


@dataclass
class LangGraphDevServer:
    """A running ``langgraph dev`` (in-memory runtime) and how to reach it."""

    url: str
    """Base URL, e.g. ``http://127.0.0.1:38123``; pass to ``langgraph_sdk.get_client(url=...)``."""
    process: subprocess.Popen[bytes]
    log_path: Path
    """The server's stdout and stderr; shown when start-up fails."""
    startup_s: float
    """Seconds from spawning the process until ``/ok`` answered 200."""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` of the server log."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def run_langgraph_dev(
    workdir: Path,
    graphs: Mapping[str, str],
    *,
    dependencies: tuple[str, ...] = (".",),
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 60.0,
) -> Iterator[LangGraphDevServer]:
    """Start ``langgraph dev`` serving ``graphs`` from ``workdir``; stop it on exit.

    Writes ``workdir/langgraph.json`` (``{"dependencies": [...], "graphs": {...}}``), starts
    ``langgraph dev --port <free> --host 127.0.0.1 --no-browser --no-reload --config ...``
    in ``workdir`` (the in-memory runtime keeps its ``.langgraph_api/`` files there), waits
    until ``GET /ok`` answers, and on exit kills the server's process group.

    Args:
        workdir: a scratch directory (e.g. ``tmp_path``) holding the graph modules.
        graphs: graph id -> ``"./module.py:attribute"`` (a compiled graph or a factory).
        dependencies: the config's ``dependencies`` list.
        env: extra environment for the server.
        extra_args: more ``langgraph dev`` options, e.g. ``("--allow-blocking",)`` for graphs
            whose async paths do blocking I/O (the server raises on it otherwise).
        timeout: seconds to wait for the server to answer.

    Raises:
        RuntimeError: the server exited or did not answer in time (with its log's tail).
    """
    config = workdir / "langgraph.json"
    config.write_text(
        json.dumps({"dependencies": list(dependencies), "graphs": dict(graphs)}), encoding="utf-8"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "langgraph-dev.log"
    cli = Path(sys.executable).with_name("langgraph")
    command = [str(cli), "dev", "--port", str(port), "--host", "127.0.0.1", "--no-browser"]
    command += ["--no-reload", "--config", str(config), *extra_args]
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **LANGGRAPH_DEV_ENV, **(env or {})},
            start_new_session=True,
        )
    try:
        up = wait_until(
            lambda: process.poll() is not None or _http_ok(f"{url}/ok"), timeout=timeout
        )
        server = LangGraphDevServer(
            url=url, process=process, log_path=log_path, startup_s=time.monotonic() - started
        )
        if not up or process.poll() is not None:
            raise RuntimeError(
                f"langgraph dev did not answer on {url} within {timeout:.0f} s:\n{server.log_tail()}"
            )
        yield server
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


@contextlib.contextmanager
def llama_cpp_server(
    model: str | Path, log_path: Path, *, n_ctx: int, timeout: float = 60.0
) -> Iterator[str]:
    """A ``python -m llama_cpp.server`` on ``model`` (one thread) on a free port; yields its
    base URL once ``/models`` answers.

    Output goes to ``log_path`` (a file, not a pipe: the server logs ~200 kB while loading).

    Raises:
        AssertionError: the server exited, or did not answer within ``timeout`` seconds
            (the message holds the end of its log).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", "1"]
    url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        up = wait_until(
            lambda: process.poll() is not None or _http_ok(f"{url}/models"),
            timeout=timeout,
            interval=0.2,
        )
        tail = log_path.read_text(errors="replace")[-2000:]
        assert process.poll() is None, f"llama_cpp.server exited with {process.returncode}: {tail}"
        assert up, f"llama_cpp.server did not start within {timeout:.0f} s: {tail}"
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
