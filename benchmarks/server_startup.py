"""Start-up times of the servers the agent/tracker tests use: prints medians, no assertions.

    .venv/bin/python benchmarks/server_startup.py [--runs 3]

- ``langgraph dev``: spawn to the first 200 from ``/ok`` (trivial graph, in-memory runtime).
- MCP over stdio: spawn the throwaway server to ``initialize()`` done (tests/data/mcp).
- PostgreSQL: ``tools/postgres.sh status`` must pass first; a scratch database create + drop.

Run on a quiet machine; the figures include Python imports, which dominate.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._servers import (  # noqa: E402
    postgres_dsn_from_env,
    probe_postgres,
    run_langgraph_dev,
    scratch_database,
)


def langgraph_dev_once() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "tests" / "data" / "langgraph" / "dev_graph.py", tmp)
        with run_langgraph_dev(Path(tmp), {"counter": "./dev_graph.py:graph"}) as server:
            return server.startup_s


async def _mcp_once() -> float:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    server = ROOT / "tests" / "data" / "mcp" / "progress_server.py"
    params = StdioServerParameters(command=sys.executable, args=[str(server)])
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return time.perf_counter() - started


def postgres_db_once(dsn: str) -> float:
    started = time.perf_counter()
    with scratch_database(dsn):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    rows = [
        ("langgraph dev: spawn -> /ok", [langgraph_dev_once() for _ in range(runs)]),
        ("MCP stdio: spawn -> initialized", [anyio.run(_mcp_once) for _ in range(runs)]),
    ]
    dsn = postgres_dsn_from_env()
    ready, why = probe_postgres(dsn)
    if ready:
        rows.append(("PostgreSQL: scratch database", [postgres_db_once(dsn) for _ in range(runs)]))
    else:
        print(f"(PostgreSQL skipped: {why})")
    for name, times in rows:
        spread = ", ".join(f"{t:.2f}" for t in times)
        print(f"{name:36s} median {statistics.median(times):6.2f} s   runs: {spread}")


if __name__ == "__main__":
    main()
