"""The docker backend: hardening, recycling, recovery, clean-up and commands on a mounted repo."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from beadline.validators.errors import SandboxError, UserError
from beadline.validators.executor import CommandRequest, Limits, RunRequest, TestCase
from beadline.validators.sandbox._container import CONTAINER_LABEL
from beadline.validators.sandbox.docker import DockerExecutor
from beadline.validators.sandbox.probe import DEFAULT_IMAGE

pytestmark = pytest.mark.docker

_ADD = "def f(x):\n    y = x + 1\n    return y\n"
_FAST = Limits(wall_s=1.0, cpu_s=1.0)


def _client() -> Any:
    import docker

    return docker.from_env()


def _ours() -> list[Any]:
    """Containers whose owner is this test process."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return _client().containers.list(all=True, filters={"label": f"{CONTAINER_LABEL}={owner}"})


def _script(program: str, *, limits: Limits = _FAST) -> RunRequest:
    return RunRequest(program=program, tests=(TestCase.script(),), limits=limits, trace=False)


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture(scope="module")
def docker_one() -> Iterator[DockerExecutor]:
    with DockerExecutor(workers=1) as executor:
        yield executor


def test_bad_options_are_user_errors() -> None:
    with pytest.raises(UserError, match=r"workers=\.\.\.\) must be a positive integer, got 0"):
        DockerExecutor(workers=0, prestart=False)
    with pytest.raises(UserError, match="memory_mb"):
        DockerExecutor(memory_mb=16, prestart=False)


def test_hardening_flags_are_applied(docker_one: DockerExecutor) -> None:
    (container_id,) = docker_one.containers
    attrs = _client().containers.get(container_id).attrs
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert "/tmp" in host["Tmpfs"]
    assert host["Memory"] == 1024 * 1024 * 1024
    assert host["MemorySwap"] == host["Memory"]  # no swap
    assert host["PidsLimit"] == 64
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
    ] or sorted(host["CapAdd"]) == ["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert attrs["Config"]["User"] == "0:0"  # the worker; its children drop to their own uid
    (child_uid,) = docker_one.child_uids()
    assert attrs["Config"]["Cmd"][-2:] == ["--drop-uid", str(child_uid)]
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/opt/beadline/runtime"]["RW"] is False
    assert mounts["/opt/beadline/entry.py"]["RW"] is False
    assert attrs["Config"]["Labels"][CONTAINER_LABEL].endswith(f":{os.getpid()}")
    (worker_pid,) = docker_one.worker_pids()
    assert worker_pid == attrs["State"]["Pid"]
    assert b"/opt/beadline/entry.py" in Path(f"/proc/{worker_pid}/cmdline").read_bytes().split(
        b"\0"
    )
    assert docker_one.hardening.summary().startswith(
        "no network, read-only rootfs, worker uid 0 with CHOWN+DAC_OVERRIDE+KILL+SETGID+SETUID "
        f"only, children uid {child_uid} (one per container), cap-drop ALL, no-new-privileges, "
        "pids 64"
    )


def test_inside_the_container_nothing_is_reachable(docker_one: DockerExecutor) -> None:
    program = (
        "import os, socket\n"
        "print('uid', os.getuid())\n"
        "for path in ('/etc/x', '/opt/beadline/runtime/x', '/usr/x'):\n"
        "    try:\n"
        "        open(path, 'w')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "    print('network reached')\n"
        "except OSError as exc:\n"
        "    print('no network', type(exc).__name__)\n"
        "print('interfaces', sorted(name for _, name in socket.if_nameindex()))\n"
    )
    result = docker_one.run(_script(program))
    (test,) = result.results
    assert test.status == "passed", test.message
    assert f"uid {docker_one.child_uids()[0]}" in test.stdout
    assert "wrote" not in test.stdout
    assert test.stdout.count("refused") == 3
    assert "no network" in test.stdout and "network reached" not in test.stdout
    assert "interfaces ['lo']" in test.stdout
    assert result.backend == "docker"


def test_traced_assert_runs(docker_one: DockerExecutor) -> None:
    request = RunRequest(
        program=_ADD,
        tests=(TestCase.from_assert("assert f(1) == 2"), TestCase.from_assert("assert f(2) == 4")),
    )
    ok, wrong = docker_one.run(request).results
    assert ok.status == "passed" and ok.return_repr == "2"
    assert ok.trace.events[0].kind == "call"
    assert any(e.kind == "line" and e.source == "y = x + 1" for e in ok.trace.events)
    assert wrong.status == "failed"
    assert (wrong.return_repr, wrong.expected_repr) == ("3", "4")


def test_scratch_is_wiped_between_runs(docker_one: DockerExecutor) -> None:
    litter = (
        "import os\n"
        "open('/tmp/left-over', 'w').write('x')\n"
        "os.makedirs('/tmp/d/e', exist_ok=True)\n"
        "os.chmod('/tmp/d', 0o500)\n"
        "open('/dev/shm/left-over', 'w').write('x')\n"
        "try:\n"
        "    open(os.path.join(os.path.dirname(os.getcwd()), 'sibling'), 'w').write('x')\n"
        "except PermissionError:\n"
        "    print('the scratch root is not writable')\n"
        "print(sorted(os.listdir('/tmp')))\n"
    )
    first = docker_one.run(_script(litter)).results[0]
    assert first.status == "passed", first.message
    assert "left-over" in first.stdout
    assert "the scratch root is not writable" in first.stdout  # it belongs to the worker
    look = (
        "import os\n"
        "print(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))\n"
        "print('sibling', os.path.exists(os.path.join(os.path.dirname(os.getcwd()), 'sibling')))\n"
    )
    second = docker_one.run(_script(look)).results[0]
    assert second.status == "passed", second.message
    assert "left-over" not in second.stdout
    assert "'d'" not in second.stdout and "sibling False" in second.stdout


def test_recycled_after_n_requests_and_after_a_kill() -> None:
    with DockerExecutor(workers=1, recycle_after=3) as executor:
        (first,) = executor.containers
        for _ in range(2):
            assert executor.run(_script("print(1)")).passed
        assert executor.containers == [first]
        assert executor.run(_script("print(1)")).passed  # the third request: recycled
        _wait_for(lambda: executor.containers and executor.containers != [first])
        assert executor.recycled == 1
        (second,) = executor.containers
        hung = executor.run(_script("while True:\n    pass\n", limits=Limits(wall_s=0.5)))
        assert hung.results[0].status == "timeout"
        _wait_for(lambda: executor.containers and executor.containers != [second])
        assert executor.recycled == 2
        assert executor.run(_script("print('after')")).results[0].stdout == "after\n"
        assert first not in {c.id for c in _ours()}


def test_hung_worker_is_replaced_and_the_pool_recovers() -> None:
    with DockerExecutor(workers=1, grace_s=0.5) as executor:
        (container_id,) = executor.containers
        _client().containers.get(container_id).pause()  # the worker stops answering
        start = time.monotonic()
        result = executor.run(_script("print(1)", limits=Limits(wall_s=0.5)))
        assert time.monotonic() - start < 5
        assert result.results[0].status == "timeout"
        assert "did not answer" in result.results[0].message
        after = executor.run(_script("print('fine')"))
        assert after.results[0].stdout == "fine\n"
        assert container_id not in executor.containers
        assert container_id not in {c.id for c in _ours()}


def test_container_killed_while_idle_is_replaced_before_use() -> None:
    with DockerExecutor(workers=1) as executor:
        (container_id,) = executor.containers
        _client().containers.get(container_id).kill()
        _wait_for(lambda: _client().containers.get(container_id).status != "running")
        result = executor.run(_script("print('fresh')"))
        assert result.results[0].stdout == "fresh\n"
        assert executor.recycled == 1


def test_no_containers_leak_after_close() -> None:
    executor = DockerExecutor(workers=2)
    held = set(executor.containers)
    assert len(held) == 2
    assert held <= {c.id for c in _ours()}
    executor.run_many([_script("print(1)"), _script("print(2)"), _script("print(3)")])
    executor.close()
    executor.close()  # idempotent
    assert not held & {c.id for c in _ours()}
    assert executor.containers == []


def test_containers_of_dead_owners_are_removed_at_start() -> None:
    client = _client()
    stale = client.containers.create(
        DEFAULT_IMAGE,
        ["sleep", "60"],
        labels={CONTAINER_LABEL: f"{socket.gethostname()}:999999999"},
        network_mode="none",
    )
    try:
        with DockerExecutor(workers=1, prestart=False):
            pass
        names = {c.id for c in client.containers.list(all=True)}
        assert stale.id not in names
    finally:
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            stale.remove(force=True)


def test_run_command_on_a_read_only_mounted_repo(
    docker_one: DockerExecutor, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "calc.py").write_text("def double(x):\n    return 2 * x\n")
    (repo / "test_calc.py").write_text(
        "import os\n"
        "from pkg.calc import double\n"
        "from extra import triple\n"
        "def test_double():\n    assert double(2) == 4\n"
        "def test_triple():\n    assert triple(2) == 6\n"
        "def test_wrong():\n    assert double(2) == 5\n"
        "def test_original_is_read_only():\n"
        "    try:\n"
        "        open('/mnt/repo/hacked', 'w')\n"
        "    except OSError:\n"
        "        return\n"
        "    raise AssertionError('the mounted repository was writable')\n"
    )
    before = sorted(p.name for p in repo.rglob("*"))
    result = docker_one.run_command(
        CommandRequest(
            argv=("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=r.xml"),
            directory=repo,
            files={"extra.py": "def triple(x):\n    return 3 * x\n"},
            junit_xml="r.xml",
            limits=Limits(wall_s=60, cpu_s=60, memory_mb=512),
        )
    )
    assert result.status == "failed" and result.exit_code == 1, result.message
    cases = {c.name: c.status for c in result.junit}
    assert cases == {
        "test_double": "passed",
        "test_triple": "passed",
        "test_wrong": "failed",
        "test_original_is_read_only": "passed",
    }
    assert sorted(p.name for p in repo.rglob("*")) == before  # the original is untouched


def test_run_command_stages_a_private_repo(docker_one: DockerExecutor, tmp_path: Path) -> None:
    repo = tmp_path / "private"
    repo.mkdir(mode=0o700)
    (repo / "secret.txt").write_text("42\n")
    (repo / "secret.txt").chmod(0o600)
    result = docker_one.run_command(
        CommandRequest(argv=("cat", "secret.txt"), directory=repo, limits=Limits(wall_s=20))
    )
    assert result.passed, result.message
    assert result.stdout == "42\n"


def test_run_command_timeout(docker_one: DockerExecutor) -> None:
    result = docker_one.run_command(
        CommandRequest(
            argv=("python", "-c", "while True: pass"), limits=Limits(wall_s=1.0, cpu_s=5.0)
        )
    )
    assert result.status == "timeout", result.message
    assert result.exit_code is None


def test_a_run_longer_than_the_sdk_timeout_is_not_cut_off() -> None:
    import docker

    client = docker.from_env(timeout=1)
    try:
        with DockerExecutor(workers=1, client=client) as executor:
            program = "import time\ntime.sleep(2)\nprint('slept')\n"
            result = executor.run(_script(program, limits=Limits(wall_s=5, cpu_s=5)))
            assert result.results[0].stdout == "slept\n", result.results[0].message
            assert executor.recycled == 0
    finally:
        client.close()


def test_a_closed_executor_says_so() -> None:
    executor = DockerExecutor(workers=1)
    executor.close()
    with pytest.raises(SandboxError, match="closed; create a new one"):
        executor.run(_script("print(1)"))
    with pytest.raises(SandboxError, match="closed; create a new one"):
        executor.run_command(CommandRequest(argv=("true",)))
