"""Shared test configuration: markers, the Docker requirement switch, GPU skipping."""

from __future__ import annotations

import os
import shutil

import pytest


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
    them when ``BEADLINE_REQUIRE_DOCKER=1`` (set by ``.ci/run`` once it started an engine)."""
    if any(item.get_closest_marker("gpu") for item in items) and not _gpu_present():
        skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (nvidia-smi not found)")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip_gpu)
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
