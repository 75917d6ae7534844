"""Starting a Docker engine by hand, and building/checking the sandbox image."""

from __future__ import annotations

import contextlib
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from beadline.validators.errors import SandboxUnavailableError, UserError
from beadline.validators.sandbox import engine as engine_module
from beadline.validators.sandbox import image as image_module
from beadline.validators.sandbox.engine import (
    EngineConfig,
    engine_status,
    start_engine,
    stop_engine,
)
from beadline.validators.sandbox.image import apt_mirror, build_image, check_image, choose_method
from beadline.validators.sandbox.probe import DEFAULT_IMAGE


def _config(tmp_path: Path) -> EngineConfig:
    return EngineConfig(
        data_root=tmp_path / "data",
        exec_root=tmp_path / "exec",
        pidfile=tmp_path / "dockerd.pid",
        log_file=tmp_path / "log" / "dockerd.log",
        socket=str(tmp_path / "docker.sock"),
    )


def _fake_dockerd(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bin" / "dockerd"
    path.parent.mkdir(parents=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_missing_dockerd_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(engine_module.os, "access", lambda path, mode: False)
    with pytest.raises(SandboxUnavailableError, match=r"apt-get install -y docker\.io"):
        start_engine(_config(tmp_path), timeout_s=1)


def test_not_root_says_sudo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        engine_module.shutil, "which", lambda name: _fake_dockerd(tmp_path, "exit 0")
    )
    monkeypatch.setattr(engine_module.os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailableError, match="needs root"):
        start_engine(_config(tmp_path), timeout_s=1)


def test_daemon_that_dies_reports_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_dockerd(tmp_path, 'echo "failed to start daemon: iptables not found"; exit 1')
    monkeypatch.setattr(engine_module.shutil, "which", lambda name: fake)
    monkeypatch.setattr(engine_module.os, "geteuid", lambda: 0)
    config = _config(tmp_path)
    with pytest.raises(SandboxUnavailableError) as caught:
        start_engine(config, timeout_s=20)
    message = str(caught.value)
    assert "exited with code 1" in message
    assert "iptables not found" in message  # the end of the daemon's own log
    assert config.log_file.exists()


def test_daemon_that_never_answers_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_dockerd(tmp_path, "echo starting; exec sleep 30")
    monkeypatch.setattr(engine_module.shutil, "which", lambda name: fake)
    monkeypatch.setattr(engine_module.os, "geteuid", lambda: 0)
    started: list[Any] = []
    real_popen = engine_module.subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> Any:
        process = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(engine_module.subprocess, "Popen", recording_popen)
    try:
        with pytest.raises(SandboxUnavailableError, match="did not answer"):
            start_engine(_config(tmp_path), timeout_s=1.5)
    finally:
        for process in started:
            process.kill()
            process.wait()
    assert started, "the fake dockerd was not started"
    assert "--data-root" in started[0].args and "--pidfile" in started[0].args


def test_status_without_engine(tmp_path: Path) -> None:
    status = engine_status(_config(tmp_path), timeout=1)
    assert not status.running
    assert status.pid is None
    assert "no Docker engine answers" in status.detail


@pytest.mark.docker
def test_start_engine_is_idempotent_when_one_answers() -> None:
    status = start_engine(timeout_s=5)
    assert status.running and not status.started
    assert status.version


def test_apt_mirror_reads_deb822_and_classic_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert apt_mirror("bookworm", apt_dir=tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "# old style\ndeb [arch=amd64] http://classic.example/debian bookworm main\n"
    )
    assert apt_mirror("bookworm", apt_dir=tmp_path) == "http://classic.example/debian"
    assert apt_mirror("trixie", apt_dir=tmp_path) == image_module.DEFAULT_MIRROR


class _FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> object:
        from docker.errors import ImageNotFound

        if name not in self.present:
            raise ImageNotFound(name)
        return object()


class _FakeApi:
    def __init__(self, registry: bool) -> None:
        self.registry = registry

    def inspect_distribution(self, name: str) -> dict[str, Any]:
        from docker.errors import DockerException

        if not self.registry:
            raise DockerException("dial tcp: lookup registry-1.docker.io: no such host")
        return {"Descriptor": {}}


class _FakeClient:
    def __init__(self, *, present: set[str], registry: bool) -> None:
        self.images = _FakeImages(present)
        self.api = _FakeApi(registry)


def test_auto_method_follows_the_registry() -> None:
    offline: Any = _FakeClient(present=set(), registry=False)
    method, reason = choose_method(offline, python_version="3.12")
    assert method == "debootstrap" and "no registry answers" in reason
    online: Any = _FakeClient(present=set(), registry=True)
    assert choose_method(online, python_version="3.12")[0] == "dockerfile"
    cached: Any = _FakeClient(present={"python:3.12-slim"}, registry=False)
    assert choose_method(cached, python_version="3.12") == (
        "dockerfile",
        "the base image python:3.12-slim is present",
    )


def test_unknown_build_method_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown image build method 'podman'"):
        build_image(method="podman")  # type: ignore[arg-type]


def test_packaged_dockerfile_is_shipped() -> None:
    text = image_module.DOCKERFILE.read_text()
    assert "FROM python:${PYTHON_VERSION}-slim" in text
    assert "pytest" in text


@pytest.mark.docker
def test_existing_image_is_kept_and_checked() -> None:
    report = build_image(DEFAULT_IMAGE, method="debootstrap")
    assert report.method == "existing" and not report.built
    assert report.python_version.startswith("3.")
    python, pytest_version = check_image(DEFAULT_IMAGE)
    assert (python, pytest_version) == (report.python_version, report.pytest_version)
    assert int(pytest_version.split(".")[0]) >= 7


def test_debootstrap_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_module.shutil, "which", lambda name: "/usr/sbin/debootstrap")
    monkeypatch.setattr(image_module.os, "geteuid", lambda: 1000)
    client: Any = _FakeClient(present=set(), registry=False)
    with pytest.raises(SandboxUnavailableError, match="needs root"):
        image_module._build_debootstrap(client, "x:y", "bookworm", "http://m", None, None)


def test_stop_engine_stops_the_daemon_named_by_the_pidfile(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert stop_engine(config) is False  # nothing to stop
    process = subprocess.Popen(["sleep", "30"])
    try:
        config.pidfile.write_text(f"{process.pid}\n")
        assert engine_status(config, timeout=1).pid == process.pid
        assert stop_engine(config, timeout_s=5) is True
        assert process.poll() is not None or process.wait(timeout=5) is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.docker
def test_dockerfile_method_builds_from_a_local_base(tmp_path: Path) -> None:
    """The packaged Dockerfile, on a stand-in ``python:X-slim`` base made from the sandbox image
    (no registry here): a fake ``pip`` lets its ``RUN pip install pytest`` pass offline."""
    import docker

    client = docker.from_env()
    base, tag = "python:0.0-slim", "beadline-sandbox:dockerfile-test"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {DEFAULT_IMAGE}\n"
        "RUN printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/pip && chmod 755 /usr/local/bin/pip\n"
    )
    client.images.build(path=str(tmp_path), tag=base, rm=True, forcerm=True)
    lines: list[str] = []
    try:
        assert choose_method(client, python_version="0.0")[0] == "dockerfile"
        report = build_image(
            tag, method="auto", force=True, python_version="0.0", client=client, log=lines.append
        )
        assert report.method == "dockerfile" and report.built
        assert report.python_version.startswith("3.")
        labels = client.images.get(tag).labels
        assert labels.get("org.beadline.sandbox") == "1"
        assert any("pip install" in line for line in lines)
    finally:
        for name in (tag, base):
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(name, force=True)
        client.close()
