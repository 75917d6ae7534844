"""The local backend: hardening report, worker restarts, commands, the factory."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.errors import SandboxError, UserError
from beadline.validators.executor import CommandRequest, Executor, Limits, RunRequest, TestCase
from beadline.validators.sandbox._uids import LOCAL_BASE
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.sandbox.local import Hardening, LocalExecutor

OK = RunRequest(
    program="def f():\n    return 1\n", tests=(TestCase.from_assert("assert f() == 1"),)
)


@pytest.fixture
def single() -> Iterator[LocalExecutor]:
    """A fresh one-worker pool (tests here kill and stop its worker)."""
    executor = LocalExecutor(workers=1, grace_s=0.5)
    try:
        yield executor
    finally:
        executor.close()


def test_hardening_is_reported(local_executor: Executor) -> None:
    assert isinstance(local_executor, LocalExecutor)
    hardening = local_executor.hardening
    assert isinstance(hardening, Hardening)
    names = [name for name, *_ in hardening.checks()]
    assert names == [
        "local sandbox: network cut off",
        "local sandbox: unprivileged uid",
        "local sandbox: cgroup limits",
        "local sandbox: verdict channel",
        "local sandbox: runs isolated from each other",
    ]
    for _name, active, detail, fix in hardening.checks():
        assert detail
        assert active or fix  # whatever is missing says how to get it
    assert hardening.signed
    if os.geteuid() == 0:  # what this (root) machine offers
        assert hardening.uid_dropped and hardening.per_slot_uids
        assert hardening.uid is not None and hardening.uid >= LOCAL_BASE
        assert hardening.worker_uid == 0 and hardening.channel_out_of_reach
        assert hardening.pid_ns and hardening.proc_hidden
        assert all(active for _name, active, _detail, _fix in hardening.checks())
    assert hardening.summary().count(",") == 5


def test_a_stopped_worker_is_restarted_within_the_deadline(single: LocalExecutor) -> None:
    assert single.run(OK).passed
    (pid,) = single.worker_pids()
    os.kill(pid, signal.SIGSTOP)
    request = RunRequest(program=OK.program, tests=OK.tests, limits=Limits(wall_s=0.3))
    start = time.monotonic()
    result = single.run(request)
    assert time.monotonic() - start < 0.3 + 0.5 + 0.5 + 1.0
    assert result.results[0].status == "timeout"
    assert "did not answer" in result.results[0].message
    assert single.run(OK).passed
    assert single.restarts == 1
    assert single.worker_pids() != [pid]


def test_a_worker_killed_between_runs_is_replaced(single: LocalExecutor) -> None:
    assert single.run(OK).passed
    (pid,) = single.worker_pids()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.05)
    assert single.run(OK).passed


def test_close_stops_workers_and_refuses_work() -> None:
    executor = LocalExecutor(workers=2)
    executor.warm()
    pids = executor.worker_pids()
    assert len(pids) == 2
    executor.close()
    executor.close()  # idempotent
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or ") Z " in Path(f"/proc/{pid}/stat").read_text()
    with pytest.raises(SandboxError, match="closed"):
        executor.run(OK)


def test_host_environment_does_not_reach_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with LocalExecutor(workers=1) as executor:
        result = executor.run(
            RunRequest(
                program="import os\nprint(os.environ.get('OPENAI_API_KEY'), os.environ['HOME'] == os.getcwd())\n",
                tests=(TestCase.script(),),
            )
        )
    assert result.results[0].stdout == "None True\n"


def test_empty_request_and_bad_options(local_executor: Executor) -> None:
    assert local_executor.run(RunRequest(program="x = 1\n", tests=())).results == ()
    with pytest.raises(UserError, match="positive integer"):
        LocalExecutor(workers=0)


def test_command_in_a_copy_of_a_directory(local_executor: Executor, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "data.txt").write_text("original\n")
    command = (
        "import pathlib; p = pathlib.Path('data.txt'); "
        "print(p.read_text().strip(), pathlib.Path('extra/new.txt').read_text()); "
        "p.write_text('changed')"
    )
    result = local_executor.run_command(
        CommandRequest(
            argv=("python", "-c", command),
            directory=repo,
            files={"extra/new.txt": "added"},
            limits=Limits(wall_s=10.0, cpu_s=10.0),
        )
    )
    assert result.status == "passed", result.message + result.stderr
    assert result.exit_code == 0
    assert result.stdout == "original added\n"
    assert (repo / "data.txt").read_text() == "original\n"  # the original is never written


def test_command_failures_are_reported(local_executor: Executor) -> None:
    missing = local_executor.run_command(CommandRequest(argv=("no-such-tool-xyz",)))
    assert missing.status == "error"
    assert missing.message == "command not found: no-such-tool-xyz"
    failing = local_executor.run_command(
        CommandRequest(argv=("python", "-c", "import sys; sys.exit(3)"), junit_xml="r.xml")
    )
    assert (failing.status, failing.exit_code) == ("failed", 3)
    assert "no JUnit report was written" in failing.message
    slow = local_executor.run_command(
        CommandRequest(argv=("sleep", "30"), limits=Limits(wall_s=0.5, cpu_s=1.0))
    )
    assert slow.status == "timeout"
    escaping = local_executor.run_command(
        CommandRequest(argv=("true",), files={"../escape.txt": "x"})
    )
    assert escaping.status == "error"
    assert "leaves the working directory" in escaping.message
    absent = local_executor.run_command(
        CommandRequest(argv=("true",), directory=Path("/nonexistent/repo"))
    )
    assert absent.status == "error" and "does not exist" in absent.message


def test_factory() -> None:
    with pytest.raises(UserError, match="unknown sandbox kind 'podman'"):
        make_executor("podman")
    with make_executor("local", workers=1) as executor:
        assert executor.name == "local"
        assert executor.run(OK).passed
    with make_executor("auto", workers=1) as executor:
        assert executor.name in ("local", "docker")
