"""The host side of the line protocol, and the worker's answers to malformed requests."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from beadline.validators.errors import SandboxError
from beadline.validators.executor import Limits, RunRequest, TestCase
from beadline.validators.sandbox._channel import (
    PROTOCOL_VERSION,
    Channel,
    FdStream,
    WorkerDied,
    WorkerTimeout,
    decode_run,
    encode_run,
    run_deadline,
)
from beadline.validators.sandbox.local import WORKER_SCRIPT

REQUEST = RunRequest(program="x = 1\n", tests=(TestCase.script(),), limits=Limits(wall_s=1.0))


class FakeWorker:
    """The far end of a pipe pair, answering from a script of raw lines."""

    def __init__(self) -> None:
        self.to_host_r, self.to_host_w = os.pipe()
        self.to_worker_r, self.to_worker_w = os.pipe()
        self.channel = Channel(FdStream(self.to_host_r, self.to_worker_w), name="fake worker")

    def say(self, *lines: bytes) -> None:
        for line in lines:
            os.write(self.to_host_w, line)

    def close(self) -> None:
        for fd in (self.to_host_r, self.to_host_w, self.to_worker_r, self.to_worker_w):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def fake() -> Iterator[FakeWorker]:
    worker = FakeWorker()
    try:
        yield worker
    finally:
        worker.close()


def ready_line(protocol: int = PROTOCOL_VERSION) -> bytes:
    return json.dumps({"ready": True, "protocol": protocol, "hardening": {}}).encode() + b"\n"


def test_ready_and_answer_split_across_reads(fake: FakeWorker) -> None:
    fake.say(ready_line()[:5], ready_line()[5:])
    assert fake.channel.read_ready(1.0)["ready"] is True
    answer = {"id": 1, "ok": True, "results": [{"status": "passed", "stdout": "hi\n"}]}
    data = json.dumps(answer).encode() + b"\n"
    threading.Timer(0.05, fake.say, args=(data[:7], data[7:])).start()
    result = fake.channel.run(REQUEST, backend="fake")
    assert result.passed and result.results[0].stdout == "hi\n"
    sent = json.loads(os.read(fake.to_worker_r, 65536))
    assert sent["op"] == "run" and sent["id"] == 1


def test_protocol_mismatch_is_reported(fake: FakeWorker) -> None:
    fake.say(ready_line(protocol=99))
    with pytest.raises(WorkerDied, match="protocol 99"):
        fake.channel.read_ready(1.0)


def test_timeout_marks_the_channel_broken(fake: FakeWorker) -> None:
    fake.say(ready_line())
    fake.channel.read_ready(1.0)
    start = time.monotonic()
    with pytest.raises(WorkerTimeout):
        fake.channel.call({"op": "ping"}, timeout=0.2)
    assert time.monotonic() - start < 1.0
    assert fake.channel.broken
    with pytest.raises(WorkerDied, match="unusable"):
        fake.channel.call({"op": "ping"}, timeout=0.2)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (b"not json\n", "is not JSON"),
        (b'{"id": 7, "ok": true}\n', "answered request 7"),
        (b"[1, 2]\n", "broke the protocol"),
    ],
)
def test_protocol_violations(fake: FakeWorker, line: bytes, match: str) -> None:
    fake.say(ready_line(), line)
    fake.channel.read_ready(1.0)
    with pytest.raises(WorkerDied, match=match):
        fake.channel.call({"op": "ping"}, timeout=1.0)


def test_end_of_stream_is_a_dead_worker(fake: FakeWorker) -> None:
    fake.say(ready_line())
    fake.channel.read_ready(1.0)
    os.close(fake.to_host_w)
    with pytest.raises(WorkerDied, match="exited"):
        fake.channel.call({"op": "ping"}, timeout=1.0)


def test_rejected_request_is_a_sandbox_error(fake: FakeWorker) -> None:
    fake.say(ready_line(), b'{"id": 1, "ok": false, "error": "bad"}\n')
    fake.channel.read_ready(1.0)
    with pytest.raises(SandboxError, match="rejected the request: bad"):
        fake.channel.call({"op": "ping"}, timeout=1.0)


def test_wrong_number_of_results(fake: FakeWorker) -> None:
    with pytest.raises(WorkerDied, match="0 results for 1 test cases"):
        decode_run(REQUEST, {"results": []}, backend="x")


def test_deadline_covers_every_test() -> None:
    request = RunRequest(program="", tests=(TestCase.script(),) * 3, limits=Limits(wall_s=2.0))
    assert run_deadline(request, grace_s=1.0) == pytest.approx(3 * 2.5 + 1.0)
    assert encode_run(request)["limits"]["wall_s"] == 2.0


def test_real_worker_answers_malformed_requests() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-u", str(WORKER_SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] and ready["protocol"] == PROTOCOL_VERSION
        for line, error in [
            (b"garbage\n", "JSONDecodeError"),
            (b'{"id": 4, "op": "fly"}\n', "unknown op 'fly'"),
            (b'{"id": 5, "op": "run", "tests": 3}\n', "TypeError"),
            (b'{"id": 6, "op": "run", "tests": [3]}\n', "AttributeError"),
        ]:
            proc.stdin.write(line)
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            assert answer["ok"] is False
            assert error in answer["error"]
        proc.stdin.write(b'{"id": 7, "op": "ping"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"id": 7, "ok": True, "pong": True}
        proc.stdin.write(b'{"op": "exit"}\n')
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_worker_rejects_bad_flags() -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER_SCRIPT), "--frobnicate"], capture_output=True, timeout=30
    )
    assert done.returncode == 2
    assert b"unknown flag --frobnicate" in done.stderr
