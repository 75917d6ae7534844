"""Shared test configuration: markers, the Docker and PostgreSQL requirement switches, GPU
skipping, and fixtures for the servers some tests need (``postgres_dsn``, ``langgraph_dev``)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests._servers import (
    LangGraphDevServer,
    postgres_dsn_from_env,
    probe_postgres,
    run_langgraph_dev,
    scratch_database,
)


def _docker_ready() -> tuple[bool, str]:
    from beadline.validators.sandbox.probe import probe_docker

    engine, image = probe_docker(timeout=3.0)
    if not engine.ok:
        return False, engine.detail
    if not image.ok:
        return False, image.detail
    return True, ""


def _gpu_present() -> bool:
    return shutil.which("nvidia-smi") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests without a GPU; skip ``docker`` tests without an engine, or fail
    them when ``BEADLINE_REQUIRE_DOCKER=1`` (set by ``.ci/run`` once it started an engine);
    the same for ``postgres`` tests and ``BEADLINE_REQUIRE_POSTGRES=1``."""
    if any(item.get_closest_marker("gpu") for item in items) and not _gpu_present():
        skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (nvidia-smi not found)")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip_gpu)
    _require_postgres(items)
    if not any(item.get_closest_marker("docker") for item in items):
        return
    ready, why = _docker_ready()
    if ready:
        return
    if os.environ.get("BEADLINE_REQUIRE_DOCKER") == "1":
        raise pytest.UsageError(
            f"BEADLINE_REQUIRE_DOCKER=1 but Docker is not usable: {why}. "
            "Start the engine and build the image (see .ci/run), or unset the variable."
        )
    skip_docker = pytest.mark.skip(reason=f"Docker not usable: {why}")
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(skip_docker)


def _require_postgres(items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("postgres") for item in items):
        return
    ready, why = probe_postgres(postgres_dsn_from_env())
    if ready:
        return
    if os.environ.get("BEADLINE_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError(
            f"BEADLINE_REQUIRE_POSTGRES=1 but PostgreSQL is not usable: {why}. "
            "Start the test server (tools/postgres.sh start), or unset the variable."
        )
    skip = pytest.mark.skip(reason=f"PostgreSQL not usable: {why} (tools/postgres.sh start)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture
def postgres_dsn() -> Iterator[str]:
    """A fresh, empty database on the test PostgreSQL server (dropped after the test).

    Mark the test ``@pytest.mark.postgres``: without a server it is skipped, or fails under
    ``BEADLINE_REQUIRE_POSTGRES=1`` (``.ci/run``).
    """
    with scratch_database(postgres_dsn_from_env()) as dsn:
        yield dsn


@pytest.fixture
def langgraph_dev(tmp_path: Path) -> Iterator[Callable[..., LangGraphDevServer]]:
    """Start ``langgraph dev`` servers for this test: ``server = langgraph_dev(graphs)``.

    ``graphs`` maps graph ids to ``"./module.py:attribute"`` paths relative to the working
    directory (default ``tmp_path``; put the graph modules there, or pass ``workdir=``). Other
    keywords go to :func:`tests._servers.run_langgraph_dev`. Every server is stopped when the
    test ends. Start-up takes ~2-4 s here: mark such tests ``slow``.
    """
    with contextlib.ExitStack() as stack:

        def start(
            graphs: Mapping[str, str], *, workdir: Path | None = None, **kwargs: object
        ) -> LangGraphDevServer:
            return stack.enter_context(
                run_langgraph_dev(workdir or tmp_path, graphs, **kwargs)  # type: ignore[arg-type]
            )

        yield start


@pytest.fixture(autouse=True)
def _beadline_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own per-user beadline directory (the thread index lives there), so
    no test reads or writes the real ``~/.local/state/beadline``."""
    home = tmp_path_factory.mktemp("beadline-home")
    monkeypatch.setenv("BEADLINE_HOME", str(home))
    monkeypatch.delenv("BEADLINE_DB", raising=False)
    monkeypatch.delenv("BEADLINE_MODEL", raising=False)
    monkeypatch.delenv("BEADLINE_BACKEND", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return home
