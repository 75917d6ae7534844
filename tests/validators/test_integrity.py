"""Sandbox integrity (issue 10): a program cannot forge a verdict, harm another run, or break
clean-up; every text it makes is capped. Each test runs on both backends and ends with a
correct program passing on the same executor.

The executors here have two slots, so one slot can attack a run in the other. Host-side
checks (which processes run as a slot's uid, what is in a worker's memory) need root, as the
protections they check do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from beadline.validators.executor import Executor, Limits, RunRequest, TestCase, TestResult
from beadline.validators.runtime.cleanup import remove_tree
from beadline.validators.runtime.outcomes import MESSAGE_CHARS, TRUNCATED
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.sandbox.local import LocalExecutor

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="per-slot uids and namespaces need root")

CORRECT = RunRequest(
    program="def g(x):\n    return x\n", tests=(TestCase.from_assert("assert g(1) == 1"),)
)

FORGERY = textwrap.dedent(
    """
    import json, os, sys

    def f(x):
        # Find the worker's request id in its frames, then write a "passed" answer for it
        # straight into the worker's protocol stdout.
        frame, request_id, count = sys._getframe(), None, 1
        while frame is not None:
            local = frame.f_locals
            if isinstance(local.get("request_id"), int):
                request_id = local["request_id"]
                count = len((local.get("request") or {}).get("tests") or [1])
                break
            frame = frame.f_back
        answer = {"id": request_id, "ok": True,
                  "results": [{"status": "passed", "message": "forged"}] * count}
        try:
            fd = os.open(f"/proc/{os.getppid()}/fd/1", os.O_WRONLY)
            os.write(fd, json.dumps(answer).encode() + b"\\n")
            os.close(fd)
            print("forged line written")
        except OSError as exc:
            print("forge failed:", type(exc).__name__)
        return x + 100
    """
)


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def pair(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A two-slot executor of each backend."""
    executor = make_executor(request.param, workers=2)
    try:
        yield executor
    finally:
        executor.close()


def _run(
    executor: Executor, program: str, test: TestCase | None = None, **limits: Any
) -> TestResult:
    request = RunRequest(
        program=program,
        tests=(test or TestCase.script(),),
        limits=Limits(**limits) if limits else Limits(),
    )
    (result,) = executor.run(request).results
    return result


def assert_next_run_passes(executor: Executor) -> None:
    result = executor.run(CORRECT)
    assert result.passed, result.results[0]


def _uid_and_state(pid: str) -> tuple[int, str] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields["Uid"].split()[0]), fields["State"].split()[0]


def processes_of(uids: set[int]) -> list[tuple[int, str]]:
    """Host ``(pid, state)`` of every process (zombies included) running as one of ``uids``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _uid_and_state(entry)
            if info is not None and info[0] in uids:
                found.append((int(entry), info[1]))
    return found


def _child_uids(executor: Executor) -> set[int]:
    return set(executor.child_uids())


def _start_victim(
    executor: Executor, seconds: float
) -> tuple[threading.Thread, dict[str, Any], list[int]]:
    """Run a correct but slow program in one slot; return once it runs, with its host pids."""
    victim = RunRequest(
        program=f"import time\ndef slow(x):\n    time.sleep({seconds})\n    return x\n",
        tests=(TestCase.from_assert("assert slow(1) == 1"),),
        limits=Limits(wall_s=seconds + 3, cpu_s=seconds + 3),
    )
    outcome: dict[str, Any] = {}
    before = {pid for pid, _ in processes_of(_child_uids(executor))}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", executor.run(victim)))
    thread.start()
    deadline = time.monotonic() + 5
    pids: list[int] = []
    while time.monotonic() < deadline and not pids:
        pids = [p for p, _ in processes_of(_child_uids(executor)) if p not in before]
        time.sleep(0.02)
    assert pids, "the victim never started"
    return thread, outcome, pids


# -- 1. the verdict cannot be forged -------------------------------------------------------
def test_a_forged_answer_is_not_believed(pair: Executor) -> None:
    result = _run(pair, FORGERY, TestCase.from_assert("assert f(1) == 1"))
    assert result.status == "failed", result
    assert result.message == "expected 1, got 101"
    if ROOT:  # the channel is another uid's, out of reach
        assert "forge failed" in result.stdout
    assert_next_run_passes(pair)


@needs_root
def test_a_forged_line_that_reaches_the_channel_is_dropped() -> None:
    # Children that keep root can open the worker's stdout: the signature is what stops them.
    with LocalExecutor(workers=1, drop_uid=None) as executor:
        result = _run(executor, FORGERY, TestCase.from_assert("assert f(1) == 1"))
        assert result.status == "failed", result
        assert result.message == "expected 1, got 101"
        assert "forged line written" in result.stdout
        assert executor.protocol_violations == 1
        assert_next_run_passes(executor)
        assert executor.restarts == 1  # the worker that received a forgery was replaced


def _memory_holds(pid: int, needle: bytes) -> bool:
    """Whether ``needle`` is anywhere in the readable memory of process ``pid`` (root only)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, OverflowError, ValueError):
                continue
            if data and needle in data:
                return True
    return False


def _workers_and_keys(executor: Executor) -> list[tuple[int, bytes]]:
    """(host pid of the worker, its channel key) per live slot (both backends' internals)."""
    pairs = []
    if isinstance(executor, LocalExecutor):
        for slot in executor._slots:
            if slot.channel is not None:
                pairs.append((slot.worker_pid, slot.channel.key))
        return pairs
    client = executor._client  # type: ignore[attr-defined]
    for slot in list(executor._live):  # type: ignore[attr-defined]
        state = client.api.inspect_container(slot.container.container.id)["State"]
        pairs.append((int(state["Pid"]), slot.channel.key))
    return pairs


def _children_of(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


@needs_root
def test_the_key_is_never_in_the_memory_children_are_forked_from(pair: Executor) -> None:
    assert_next_run_passes(pair)
    checked = 0
    for worker_pid, key in _workers_and_keys(pair):
        assert not _memory_holds(worker_pid, key), "the forking worker holds its key"
        # Positive control: the search does find the key in the signer (the worker's only
        # child between runs), the one process that holds it.
        assert any(_memory_holds(child, key) for child in _children_of(worker_pid))
        checked += 1
    assert checked
    # What a child can still reach: its standard streams and its own result pipe, no socket.
    probe = (
        "import os\n"
        "fds = sorted(int(n) for n in os.listdir('/proc/self/fd'))\n"
        "kinds = [os.readlink(f'/proc/self/fd/{n}') for n in fds if os.path.exists(f'/proc/self/fd/{n}')]\n"
        "print(len(fds), any(k.startswith('socket:') for k in kinds))\n"
    )
    result = _run(pair, probe)
    assert result.status == "passed", result.message
    count, socket_seen = result.stdout.split()
    assert int(count) <= 5 and socket_seen == "False"  # 0, 1, 2, the result pipe, listdir's
    assert_next_run_passes(pair)


# -- 2. runs cannot see or signal each other ----------------------------------------------
@needs_root
def test_signalling_every_visible_pid_spares_a_run_in_another_slot(pair: Executor) -> None:
    thread, outcome, victim_pids = _start_victim(pair, 1.5)
    targets = sorted(set(victim_pids) | set(pair.worker_pids()))  # type: ignore[attr-defined]
    killer = textwrap.dedent(
        f"""
        import os, signal
        def k():
            me, hits, seen = os.getpid(), [], []
            pids = {{int(e) for e in os.listdir("/proc") if e.isdigit()}} | set({targets!r})
            pids |= set(range(1, 64)) | {{os.getppid()}}
            for pid in sorted(pids - {{me}}):
                seen.append(pid)
                for number in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
                    try:
                        os.kill(pid, number)
                        hits.append(pid)
                    except OSError:
                        pass
            print("tried", len(seen), "hit", sorted(set(hits)))
            return 1
        """
    )
    result = _run(pair, killer, TestCase.from_assert("assert k() == 1"))
    thread.join(timeout=10)
    assert result.status == "passed", result.message
    assert "hit []" in result.stdout, result.stdout
    victim = outcome["result"].results[0]
    assert victim.status == "passed", victim.message
    assert_next_run_passes(pair)


@needs_root
def test_another_slots_proc_entries_cannot_be_read(pair: Executor) -> None:
    thread, outcome, victim_pids = _start_victim(pair, 1.2)
    targets = sorted(set(victim_pids) | set(pair.worker_pids()))  # type: ignore[attr-defined]
    prober = textwrap.dedent(
        f"""
        import os
        opened = []
        for pid in {targets!r} + [1, os.getppid()]:
            if pid == os.getpid():
                continue
            for what in ("environ", "root", "fd", "mem", "cwd"):
                path = f"/proc/{{pid}}/{{what}}"
                try:
                    if what in ("root", "fd", "cwd"):
                        os.listdir(path)
                    else:
                        with open(path, "rb") as handle:
                            handle.read(1)
                    opened.append(path)
                except OSError:
                    pass
        print("opened", opened)
        print("visible", sorted(int(e) for e in os.listdir("/proc") if e.isdigit()), os.getpid())
        """
    )
    result = _run(pair, prober)
    thread.join(timeout=10)
    assert result.status == "passed", result.message
    assert "opened []" in result.stdout, result.stdout
    visible_line = result.stdout.splitlines()[1]
    if pair.name == "local":  # a private /proc (hidepid=2) shows a child only its own uid
        visible, own = visible_line.split(" ", 1)[1].rsplit(" ", 1)
        assert visible == f"[{own}]", result.stdout
    assert outcome["result"].results[0].status == "passed"
    assert_next_run_passes(pair)


@pytest.mark.docker
@needs_root
def test_local_and_docker_children_never_share_a_uid_or_reach_each_other() -> None:
    with make_executor("local", workers=1) as local, make_executor("docker", workers=1) as docker:
        assert_next_run_passes(local)
        assert_next_run_passes(docker)
        assert not _child_uids(local) & _child_uids(docker)
        thread, outcome, victim_pids = _start_victim(docker, 1.2)
        targets = sorted(set(victim_pids) | set(docker.worker_pids()))  # type: ignore[attr-defined]
        program = textwrap.dedent(
            f"""
            import os, signal
            reached = []
            for pid in {targets!r}:
                try:
                    os.kill(pid, signal.SIGKILL)
                    reached.append(("kill", pid))
                except OSError:
                    pass
                try:
                    os.listdir(f"/proc/{{pid}}/root/tmp")
                    reached.append(("root", pid))
                except OSError:
                    pass
            print("reached", reached)
            """
        )
        result = _run(local, program)
        thread.join(timeout=10)
        assert result.status == "passed", result.message
        assert "reached []" in result.stdout, result.stdout
        assert outcome["result"].results[0].status == "passed"
        assert_next_run_passes(docker)
        assert_next_run_passes(local)


def test_a_setsid_double_fork_leaves_nothing_behind(pair: Executor) -> None:
    program = textwrap.dedent(
        """
        import os, time
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(write_end, b"x")
                time.sleep(60)
            os._exit(0)
        os.close(write_end)
        print(os.read(read_end, 1).decode())
        """
    )
    result = _run(pair, program)
    assert result.status == "passed", result.message
    if ROOT:  # neither the daemon nor a zombie of it is left under any slot's uid
        deadline = time.monotonic() + 2
        while (left := processes_of(_child_uids(pair))) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == []
    assert_next_run_passes(pair)


# -- 3. clean-up never fails a request -----------------------------------------------------
def test_a_3000_deep_directory_tree_is_a_normal_result(pair: Executor) -> None:
    program = (
        "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nprint('deep')\n"
    )
    result = _run(pair, program, wall_s=10.0, cpu_s=10.0)
    assert result.status == "passed", result.message
    assert result.stdout == "deep\n"
    assert_next_run_passes(pair)


def test_mode_000_and_read_only_litter_is_a_normal_result(pair: Executor) -> None:
    program = textwrap.dedent(
        """
        import os
        os.makedirs("a/b/c")
        open("a/b/c/f", "w").write("x")
        os.chmod("a/b/c/f", 0)
        os.chmod("a/b", 0)
        os.chmod("a", 0)
        os.makedirs("ro/x")
        open("ro/x/y", "w").write("y")
        os.chmod("ro/x", 0o500)
        os.chmod("ro", 0o500)
        os.mkfifo("fifo")
        os.symlink("/etc/passwd", "link")
        open(b"\\xff\\xfe-not-utf8", "w").write("z")
        print("littered")
        """
    )
    result = _run(pair, program)
    assert result.status == "passed", result.message
    assert_next_run_passes(pair)


_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def _set_immutable(path: str, on: bool) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]
        flags = flags | _FS_IMMUTABLE_FL if on else flags & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags))
    finally:
        os.close(fd)


def _replacements(executor: Executor) -> int:
    """Workers restarted (local) or containers recycled (docker) so far."""
    return int(getattr(executor, "restarts", 0)) + int(getattr(executor, "recycled", 0))


@needs_root
def test_litter_nobody_can_remove_recycles_the_slot_and_the_result_returns(pair: Executor) -> None:
    # No sandbox child may set the immutable flag; the host (root) does, mid-run, to make a
    # file the worker cannot remove.
    program = "import time\nopen('stuck', 'w').write('x')\ntime.sleep(1.0)\nprint('done')\n"
    request = RunRequest(program=program, tests=(TestCase.script(),), limits=Limits(wall_s=5))
    replaced = _replacements(pair)
    outcome: dict[str, Any] = {}
    before = {pid for pid, _ in processes_of(_child_uids(pair))}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", pair.run(request)))
    thread.start()
    stuck = plain = ""
    deadline = time.monotonic() + 5
    while not stuck and time.monotonic() < deadline:
        for pid, _ in processes_of(_child_uids(pair)):
            if pid not in before:
                with contextlib.suppress(OSError):
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                    if os.path.exists(f"/proc/{pid}/root{cwd}/stuck"):
                        stuck, plain = f"/proc/{pid}/root{cwd}/stuck", f"{cwd}/stuck"
        time.sleep(0.02)
    assert stuck, "the program never wrote its file"
    _set_immutable(stuck, True)
    try:
        thread.join(timeout=10)
        result = outcome["result"].results[0]
        assert result.status == "passed", result.message
        assert result.stdout == "done\n"
    finally:
        # Local: the scratch tree is on the host's /dev/shm; docker: it went with the container.
        if pair.name == "local" and os.path.exists(plain):
            _set_immutable(plain, False)
            remove_tree(os.path.dirname(os.path.dirname(plain)))
    assert_next_run_passes(pair)
    assert _replacements(pair) > replaced, "the slot that could not clean up was not replaced"


# -- 4. every text is capped ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("program", "exc_type"),
    [
        ("def f():\n    raise ValueError('Boom' * 250_000)\n", "ValueError"),
        ("import sys\ndef f():\n    sys.exit('Boom' * 250_000)\n", "SystemExit"),
        ("def f():\n    raise type('E' * 100_000, (Exception,), {})('Boom')\n", None),
    ],
    ids=["exception", "sys-exit", "exception-type-name"],
)
def test_a_1_mb_exception_message_is_truncated(
    pair: Executor, program: str, exc_type: str | None
) -> None:
    result = _run(pair, program, TestCase.from_assert("assert f() == 1"))
    assert result.status == "error"
    if exc_type is not None:
        assert result.exc_type == exc_type
    assert result.exc_type is not None and len(result.exc_type) <= 200
    assert len(result.message) <= MESSAGE_CHARS
    assert TRUNCATED in result.message or "..." in result.message
    assert "truncated" in result.message + str(result.exc_type)
    assert_next_run_passes(pair)


def test_a_program_forging_its_trace_cannot_flood_the_answer(pair: Executor) -> None:
    # A function with a 100,000-character name, traced 200 times: the tracer does not count
    # names, the worker's backstop does.
    name = "g" * 100_000
    program = f"def {name}(x):\n    return x\ndef f():\n    for i in range(200):\n        {name}(i)\n    return 1\n"
    result = _run(pair, program, TestCase.from_assert("assert f() == 1"))
    assert result.status == "passed", result.message
    assert result.trace.truncated
    size = sum(len(e.function) + len(e.source) + len(e.value or "") for e in result.trace.events)
    assert size <= 2 * Limits().trace_chars + 64 * Limits().trace_events
    assert_next_run_passes(pair)


def test_a_result_the_program_writes_itself_is_capped_too(pair: Executor) -> None:
    # The harness runs in the program's own process, so a program can write a result into its
    # own result pipe (its *own* status is its choice: see the README's residual risks); what
    # it cannot do is make the answer unbounded.
    program = textwrap.dedent(
        """
        import json, os
        def f():
            # Under the worker's 1 MB cap on what it reads from the pipe, but far over every
            # cap of the answer.
            event = {"kind": "line", "line": 1, "source": "s" * 20_000, "function": "g" * 20_000,
                     "locals": {"v" * 1000: "x" * 20_000}, "bogus": "b" * 20_000}
            events = [event] * 5 + [{"kind": "line", "line": 2}] * 5000
            result = {"status": "failed", "exc_type": "E" * 50_000, "message": "m" * 300_000,
                      "return_repr": "r" * 50_000, "line": "not a line",
                      "trace": {"events": events, "truncated": False}}
            for fd in range(3, 64):
                try:
                    os.write(fd, json.dumps(result).encode())
                except OSError:
                    pass
            os._exit(0)
        """
    )
    # Untraced: the tracer would repr the big locals on every line (slow, not the point here).
    request = RunRequest(
        program=program,
        tests=(TestCase.from_assert("assert f() == 1"),),
        trace=False,
        limits=Limits(wall_s=10.0, cpu_s=10.0),  # a loaded machine: it writes ~1 MB of JSON
    )
    (result,) = pair.run(request).results
    assert len(result.message) <= MESSAGE_CHARS and TRUNCATED in result.message
    assert result.exc_type is not None and len(result.exc_type) <= 200
    assert result.return_repr is not None and len(result.return_repr) <= Limits().repr_chars
    assert result.line is None
    assert result.trace.truncated and len(result.trace.events) <= Limits().trace_events
    text = sum(
        len(e.source) + len(e.function) + sum(map(len, e.locals.values()))
        for e in result.trace.events
    )
    assert text <= 2 * Limits().trace_chars + 64 * Limits().trace_events
    assert_next_run_passes(pair)
