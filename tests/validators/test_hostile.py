"""Hostile and broken programs on every backend: contained, reported, and the pool stays usable.

Each test runs one misbehaving program through ``any_executor``, checks the status and the
message, checks that nothing happened outside the sandbox where that applies, and then checks
that the *next* run on the same executor passes.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.executor import Executor, Limits, RunRequest, TestCase, TestResult

GRACE_S = 3.0
"""What a run may take beyond its wall limit (host overhead, a restarted worker)."""

HEALTHY = RunRequest(
    program="def ok(x):\n    return x + 1\n", tests=(TestCase.from_assert("assert ok(1) == 2"),)
)


def run_one(
    executor: Executor,
    program: str,
    test: TestCase | None = None,
    *,
    limits: Limits | None = None,
) -> tuple[TestResult, float]:
    """Run ``program`` on one test; return the result and the elapsed wall time."""
    limits = limits or Limits(wall_s=2.0, cpu_s=2.0)
    request = RunRequest(
        program=textwrap.dedent(program), tests=(test or TestCase.script(),), limits=limits
    )
    start = time.monotonic()
    result = executor.run(request)
    elapsed = time.monotonic() - start
    assert len(result.results) == 1
    assert elapsed < limits.wall_s + GRACE_S, f"took {elapsed:.2f} s"
    return result.results[0], elapsed


def assert_next_run_passes(executor: Executor) -> None:
    result = executor.run(HEALTHY)
    assert result.passed, result.results[0]


def _hardening(executor: Executor) -> object | None:
    return getattr(executor, "hardening", None) if executor.name == "local" else None


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A root-owned-style directory on the host that others may enter but not write (0755)."""
    directory = Path(tempfile.mkdtemp(prefix="beadline-host-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_infinite_loop_times_out(any_executor: Executor) -> None:
    result, elapsed = run_one(
        any_executor,
        "def f(x):\n    while True:\n        pass\n",
        TestCase.from_assert("assert f(1) == 1"),
        limits=Limits(wall_s=0.5, cpu_s=5.0),
    )
    assert result.status == "timeout"
    assert "timed out after 0.5 s" in result.message
    assert elapsed >= 0.5
    assert_next_run_passes(any_executor)


def test_sleeping_program_times_out(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor, "import time\ntime.sleep(100)\n", limits=Limits(wall_s=0.5, cpu_s=1.0)
    )
    assert result.status == "timeout"
    assert "timed out" in result.message
    assert_next_run_passes(any_executor)


def test_cpu_limit_is_a_timeout(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor, "while True:\n    pass\n", limits=Limits(wall_s=5.0, cpu_s=0.5)
    )
    assert result.status == "timeout"
    assert "CPU time limit" in result.message or "timed out" in result.message
    assert_next_run_passes(any_executor)


def test_fork_bomb_is_contained(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "import os\ndef f():\n    while True:\n        os.fork()\n",
        TestCase.from_assert("assert f() == 1"),
        limits=Limits(wall_s=3.0, cpu_s=3.0),
    )
    assert result.status in ("error", "timeout", "killed")
    if result.status == "error":
        assert result.exc_type == "BlockingIOError"
        assert "Resource temporarily unavailable" in result.message
    assert_next_run_passes(any_executor)


def test_allocating_10_gb_is_killed(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "def f():\n    data = bytearray(10 * 1024 ** 3)\n    return len(data)\n",
        TestCase.from_assert("assert f() == 1"),
    )
    assert result.status == "killed"
    assert "memory limit of 512 MiB exceeded" in result.message
    assert_next_run_passes(any_executor)


def test_writing_1_gb_to_stdout_is_cut_off(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
    )
    assert result.status == "killed"
    assert "output limit exceeded" in result.message
    assert result.output_truncated
    assert len(result.stdout) == Limits().output_bytes
    assert_next_run_passes(any_executor)


def test_deep_recursion_is_an_error(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "def f(n):\n    return f(n + 1)\n",
        TestCase.from_assert("assert f(0) == 1"),
    )
    assert result.status == "error"
    assert result.exc_type == "RecursionError"
    assert "maximum recursion depth exceeded" in result.message
    assert result.line == 2
    assert result.trace.truncated
    assert_next_run_passes(any_executor)


def test_sys_exit_in_the_function_is_an_error(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "import sys\ndef f():\n    sys.exit(3)\n",
        TestCase.from_assert("assert f() == 1"),
    )
    assert result.status == "error"
    assert result.exc_type == "SystemExit"
    assert "sys.exit(3)" in result.message
    assert_next_run_passes(any_executor)


def test_os_exit_is_an_error(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "import os\ndef f():\n    os._exit(0)\n",
        TestCase.from_assert("assert f() == 1"),
    )
    assert result.status == "error"
    assert "ended the process (exit status 0) before the test finished" in result.message
    assert_next_run_passes(any_executor)


def test_killing_the_parent_does_not_break_the_pool(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor,
        "import os\ndef f():\n    os.kill(os.getppid(), 9)\n    return 1\n",
        TestCase.from_assert("assert f() == 1"),
    )
    # As an unprivileged uid the child may not signal the worker (error); a worker that is a
    # namespace's init ignores the signal (passed); where it may be killed (same uid), it
    # dies and is restarted (killed): either way the run is reported, not lost.
    assert result.status in ("error", "killed", "passed")
    if result.status == "error":
        assert result.exc_type == "PermissionError"
    elif result.status == "killed":
        assert "worker died" in result.message
    assert_next_run_passes(any_executor)


def test_sigalrm_handler_does_not_escape_the_wall_limit(any_executor: Executor) -> None:
    program = """
        import signal
        def f():
            signal.signal(signal.SIGALRM, lambda *args: None)
            signal.alarm(1)
            while True:
                pass
    """
    result, _ = run_one(
        any_executor,
        program,
        TestCase.from_assert("assert f() == 1"),
        limits=Limits(wall_s=0.8, cpu_s=5.0),
    )
    assert result.status == "timeout"
    assert "timed out after 0.8 s" in result.message
    assert_next_run_passes(any_executor)


def test_ignoring_sigterm_does_not_escape_the_wall_limit(any_executor: Executor) -> None:
    program = (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    )
    result, _ = run_one(any_executor, program, limits=Limits(wall_s=0.5, cpu_s=5.0))
    assert result.status == "timeout"
    assert_next_run_passes(any_executor)


def test_thread_outliving_the_run_does_not_delay_it(any_executor: Executor) -> None:
    program = """
        import threading, time
        threading.Thread(target=time.sleep, args=(60,)).start()
        print("started")
    """
    result, elapsed = run_one(any_executor, program)
    assert result.status == "passed", result.message
    assert result.stdout == "started\n"
    assert elapsed < 1.5
    assert_next_run_passes(any_executor)


def test_daemon_child_outliving_the_run_is_killed(any_executor: Executor) -> None:
    program = """
        import os, time
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(write_end, str(os.getpid()).encode())
                time.sleep(60)
            os._exit(0)
        os.close(write_end)
        print(os.read(read_end, 32).decode())
    """
    result, elapsed = run_one(any_executor, program)
    assert result.status == "passed", result.message
    assert elapsed < 1.5
    assert int(result.stdout.strip()) > 0
    child_uids = set(getattr(any_executor, "child_uids", list)())
    if child_uids:  # the daemon (in the worker's PID namespace) must be gone, not even a zombie
        deadline = time.monotonic() + 2.0
        while _processes_of(child_uids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _processes_of(child_uids) == [], "the daemon survived the run"
    assert_next_run_passes(any_executor)


def _processes_of(uids: set[int]) -> list[int]:
    """Host pids of the processes (zombies included) whose real uid is in ``uids``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uid_line.split()[1]) in uids:
                found.append(int(entry.name))
    return found


def test_connecting_to_a_host_listener_fails(any_executor: Executor) -> None:
    hardening = _hardening(any_executor)
    if hardening is not None and not getattr(hardening, "net_isolated", False):
        pytest.skip("network isolation is not available to the local sandbox on this machine")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    try:
        program = f"""
            import socket
            def probe():
                conn = socket.create_connection(("127.0.0.1", {port}), timeout=1)
                conn.sendall(b"leak")
                return "connected"
        """
        result, _ = run_one(any_executor, program, TestCase.from_assert("assert probe() == 1"))
        assert result.status == "error"
        assert result.exc_type in ("OSError", "ConnectionRefusedError", "TimeoutError")
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing reached the host
    finally:
        listener.close()
    assert_next_run_passes(any_executor)


def test_reading_a_root_only_file_fails(any_executor: Executor, host_dir: Path) -> None:
    hardening = _hardening(any_executor)
    if hardening is not None and not getattr(hardening, "uid_dropped", False):
        pytest.skip("the local sandbox does not drop privileges here (not root)")
    secret = host_dir / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    secret.chmod(0o600)
    result, _ = run_one(
        any_executor,
        f"def f():\n    return open({str(secret)!r}).read()\n",
        TestCase.from_assert("assert f() == ''"),
    )
    assert result.status == "error"
    assert result.exc_type in ("PermissionError", "FileNotFoundError")
    assert "TOP-SECRET-VALUE" not in result.message + result.stdout + str(result.return_repr)
    assert_next_run_passes(any_executor)


def test_writing_outside_the_temp_dir_has_no_effect(any_executor: Executor, host_dir: Path) -> None:
    hardening = _hardening(any_executor)
    if hardening is not None and not getattr(hardening, "uid_dropped", False):
        pytest.skip("the local sandbox does not drop privileges here (not root)")
    inside_host = host_dir / "escape.txt"
    shared_tmp = Path(tempfile.gettempdir()) / f"beadline-escape-{uuid.uuid4().hex}.txt"
    program = f"""
        for path in ({str(inside_host)!r}, {str(shared_tmp)!r}, "local.txt"):
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                print(path, "written")
            except OSError as exc:
                print(path, type(exc).__name__)
    """
    result, _ = run_one(any_executor, program)
    assert result.status == "passed", result.message
    assert "local.txt written" in result.stdout  # its own working directory is writable
    assert f"{inside_host} written" not in result.stdout
    assert not inside_host.exists()
    assert not shared_tmp.exists()
    assert_next_run_passes(any_executor)


def test_deleting_host_files_fails(any_executor: Executor, host_dir: Path) -> None:
    hardening = _hardening(any_executor)
    if hardening is not None and not getattr(hardening, "uid_dropped", False):
        pytest.skip("the local sandbox does not drop privileges here (not root)")
    victim = host_dir / "keep.txt"
    victim.write_text("keep me")
    victim.chmod(0o644)
    result, _ = run_one(
        any_executor,
        f"import os\ndef f():\n    os.remove({str(victim)!r})\n    return 1\n",
        TestCase.from_assert("assert f() == 1"),
    )
    assert result.status == "error"
    assert result.exc_type in ("PermissionError", "FileNotFoundError")
    assert victim.read_text() == "keep me"
    assert_next_run_passes(any_executor)


def test_deleting_its_own_working_directory_is_harmless(any_executor: Executor) -> None:
    program = "import os, shutil\nopen('f.txt', 'w').write('x')\nshutil.rmtree(os.getcwd(), ignore_errors=True)\nprint('done')\n"
    result, _ = run_one(any_executor, program)
    assert result.status == "passed", result.message
    assert_next_run_passes(any_executor)


def test_syntax_error_is_reported_with_its_line(any_executor: Executor) -> None:
    result, _ = run_one(
        any_executor, "def f(x):\n    return (x\n", TestCase.from_assert("assert f(1) == 1")
    )
    assert result.duration_s == 0.0  # found by compiling in the worker: no child was forked
    assert result.status == "error"
    assert result.exc_type == "SyntaxError"
    assert "the program does not compile" in result.message
    assert result.line in (2, 3)
    assert_next_run_passes(any_executor)


def test_non_utf8_output_is_replaced(any_executor: Executor) -> None:
    program = "import sys\nsys.stdout.buffer.write(b'caf\\xe9 \\xff\\n')\nsys.stdout.flush()\nprint('done')\n"
    result, _ = run_one(any_executor, program)
    assert result.status == "passed", result.message
    assert result.stdout == "caf\ufffd \ufffd\ndone\n"
    assert_next_run_passes(any_executor)


def test_closing_stdout_is_harmless(any_executor: Executor) -> None:
    program = "import os, sys\ndef f():\n    sys.stdout.close()\n    os.close(1)\n    os.close(2)\n    return 1\n"
    result, _ = run_one(any_executor, program, TestCase.from_assert("assert f() == 1"))
    assert result.status == "passed", result.message
    assert_next_run_passes(any_executor)


def test_closing_every_descriptor_is_reported(any_executor: Executor) -> None:
    program = "import os\ndef f():\n    os.closerange(0, 65536)\n    return 1\n"
    result, _ = run_one(any_executor, program, TestCase.from_assert("assert f() == 1"))
    assert result.status == "error"
    assert "before the test finished" in result.message
    assert_next_run_passes(any_executor)


def test_many_requests_concurrently_after_hostile_ones(any_executor: Executor) -> None:
    requests = [
        RunRequest(
            program=f"def f(x):\n    return x * {i}\n",
            tests=(TestCase.from_assert(f"assert f(3) == {3 * i}"),),
        )
        for i in range(12)
    ]
    results = any_executor.run_many(requests)
    assert [r.passed for r in results] == [True] * 12
    assert all(r.backend == any_executor.name for r in results)
