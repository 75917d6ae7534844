"""Fixtures of the execution-layer tests: ``any_executor`` runs a test on every backend.

The executors are session-scoped so their worker pools stay warm across test modules; the
docker parameter carries the ``docker`` marker (skipped without an engine, a failure under
``BEADLINE_REQUIRE_DOCKER=1``; see ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from beadline.validators.executor import Executor
from beadline.validators.sandbox.factory import make_executor


@pytest.fixture(scope="session", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def any_executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A warm executor of each backend (``local``, ``docker``)."""
    executor = make_executor(request.param)
    try:
        yield executor
    finally:
        executor.close()


@pytest.fixture(scope="session")
def local_executor() -> Iterator[Executor]:
    """A warm local executor (for local-only checks such as the hardening report)."""
    executor = make_executor("local")
    try:
        yield executor
    finally:
        executor.close()
