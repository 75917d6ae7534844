"""Fixtures of the execution-layer tests: ``any_executor`` runs a test on every backend.

The executors are session-scoped so their worker pools stay warm across test modules; the
docker parameter carries the ``docker`` marker (skipped without an engine, a failure under
``BEADLINE_REQUIRE_DOCKER=1``; see ``tests/conftest.py``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


collect_ignore = ["repo_fixture"]
"""The fixture repository's own tests run inside the sandbox, not in this suite."""

FIXTURE_REPO = Path(__file__).resolve().parent / "repo_fixture" / "shop_repo"
"""A small package with a pytest suite (see its README)."""


def copy_fixture(base: Path, *, src_layout: bool = False) -> Path:
    """A fresh copy of the fixture repository under ``base`` (``src/shop`` when asked)."""
    repo = base / "shop_repo"
    shutil.copytree(FIXTURE_REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    if src_layout:
        (repo / "src").mkdir()
        (repo / "shop").rename(repo / "src" / "shop")
    return repo


def tree_digest(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` with its mode and a digest of its content (or link target)."""
    found: dict[str, tuple[int, str]] = {}
    for parent, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(parent) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                content = "link:" + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                content = "dir"
            found[str(path.relative_to(root))] = (info.st_mode, content)
    return found


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary directory any uid can enter (``tmp_path`` is private to its owner), so a
    sandbox child can reach what is inside and only permissions and mounts protect it."""
    path = Path(tempfile.mkdtemp(prefix="beadline-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
