"""``make_executor``: ``auto`` picks docker when it is usable, else local, and says why."""

from __future__ import annotations

from typing import Any

import pytest

from beadline.validators.errors import SandboxUnavailableError, UserError
from beadline.validators.executor import RunRequest, TestCase
from beadline.validators.sandbox import factory
from beadline.validators.sandbox import probe as probe_module
from beadline.validators.sandbox.probe import Probe

_ONE = RunRequest(program="print('hi')", tests=(TestCase.script(),), trace=False)


def _no_engine(image: str = "", *, timeout: float = 3.0) -> tuple[Probe, Probe]:
    engine = Probe(
        ok=False,
        detail="no Docker engine answers (connection refused)",
        fix="start one: `beadline sandbox start-engine`",
    )
    return engine, Probe(ok=False, detail="not checked: no engine", fix="start the engine first")


def test_auto_falls_back_to_local_without_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "probe_docker", _no_engine)
    with factory.make_executor("auto", workers=1, image="ignored:tag", recycle_after=5) as ex:
        assert ex.name == "local"
        assert ex.reason == (
            "local: docker is not usable: no Docker engine answers (connection refused) "
            "(start one: `beadline sandbox start-engine`)"
        )
        assert ex.run(_ONE).results[0].stdout == "hi\n"


def test_auto_falls_back_when_the_docker_backend_fails_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready = Probe(ok=True, detail="ready")
    monkeypatch.setattr(probe_module, "probe_docker", lambda image, **kw: (ready, ready))

    class Broken:
        def __init__(self, **options: Any) -> None:
            raise SandboxUnavailableError("the sandbox image x is missing: build it")

    monkeypatch.setattr(factory, "_docker_class", lambda: Broken)
    with factory.make_executor("auto", workers=1) as ex:
        assert ex.name == "local"
        assert ex.reason == "local: docker is not usable: the sandbox image x is missing: build it"


def test_explicit_kinds_say_so() -> None:
    with factory.make_executor("local", workers=1) as ex:
        assert (ex.name, ex.reason) == ("local", "local: asked for")
    with pytest.raises(UserError, match="unknown sandbox kind 'podman'"):
        factory.make_executor("podman")


@pytest.mark.docker
def test_auto_picks_docker_when_engine_and_image_are_there() -> None:
    with factory.make_executor("auto", workers=1, drop_uid=None, cgroup=False) as ex:
        assert ex.name == "docker"
        assert ex.reason.startswith("docker: Docker engine ")
        assert "sandbox image beadline-sandbox:latest exists" in ex.reason
        assert ex.run(_ONE).results[0].stdout == "hi\n"


@pytest.mark.docker
def test_docker_with_a_missing_image_says_how_to_build_it() -> None:
    with pytest.raises(SandboxUnavailableError, match="beadline sandbox build-image"):
        factory.make_executor("docker", image="beadline-sandbox:does-not-exist")


@pytest.mark.docker
def test_bad_docker_option_is_a_user_error() -> None:
    with pytest.raises(UserError, match="bad option for the docker sandbox"):
        factory.make_executor("docker", no_such_option=1)


def test_the_sandbox_package_re_exports_make_executor() -> None:
    import beadline.validators.sandbox as sandbox

    assert sandbox.make_executor is factory.make_executor
    assert "make_executor" in sandbox.__all__
    assert "_worker.py" not in (sandbox.__doc__ or "")
