"""The host side of the signed line protocol, and the worker's answers to malformed requests."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from beadline.validators.errors import SandboxError
from beadline.validators.executor import Limits, RunRequest, TestCase
from beadline.validators.runtime.signing import KEY_BYTES, answer_mac, frame, split
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
    """The far end of a pipe pair, answering from a script of raw or signed lines."""

    def __init__(self) -> None:
        self.to_host_r, self.to_host_w = os.pipe()
        self.to_worker_r, self.to_worker_w = os.pipe()
        self.channel = Channel(FdStream(self.to_host_r, self.to_worker_w), name="fake worker")

    def say(self, *lines: bytes) -> None:
        for line in lines:
            os.write(self.to_host_w, line)

    def signed(self, request_id: int, answer: dict[str, Any], *, key: bytes | None = None) -> bytes:
        body = json.dumps(answer).encode()
        return frame(body, answer_mac(key or self.channel.key, request_id, body))

    def ready(self, protocol: int = PROTOCOL_VERSION) -> bytes:
        return self.signed(0, {"ready": True, "protocol": protocol, "hardening": {}})

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


PASSED = {"id": 1, "ok": True, "results": [{"status": "passed", "stdout": "hi\n"}]}
FORGED = {"id": 1, "ok": True, "results": [{"status": "passed", "message": "forged"}]}
GENUINE = {"id": 1, "ok": True, "results": [{"status": "failed", "message": "expected 1"}]}


def test_key_first_then_ready_and_answer_split_across_reads(fake: FakeWorker) -> None:
    ready = fake.ready()
    fake.say(ready[:5], ready[5:])
    assert fake.channel.read_ready(1.0)["ready"] is True
    assert os.read(fake.to_worker_r, KEY_BYTES) == fake.channel.key  # before any request
    data = fake.signed(1, PASSED)
    threading.Timer(0.05, fake.say, args=(data[:7], data[7:])).start()
    result = fake.channel.run(REQUEST, backend="fake")
    assert result.passed and result.results[0].stdout == "hi\n"
    sent = json.loads(os.read(fake.to_worker_r, 65536))
    assert sent["op"] == "run" and sent["id"] == 1
    assert fake.channel.violations == 0 and not fake.channel.broken


def test_every_worker_gets_its_own_key() -> None:
    first, second = FakeWorker(), FakeWorker()
    try:
        assert len(first.channel.key) == KEY_BYTES
        assert first.channel.key != second.channel.key
    finally:
        first.close()
        second.close()


def test_protocol_mismatch_is_reported(fake: FakeWorker) -> None:
    fake.say(fake.ready(protocol=99))
    with pytest.raises(WorkerDied, match="protocol 99"):
        fake.channel.read_ready(1.0)


def test_an_unsigned_ready_line_is_never_accepted(fake: FakeWorker) -> None:
    fake.say(json.dumps({"ready": True, "protocol": PROTOCOL_VERSION}).encode() + b"\n")
    with pytest.raises(WorkerTimeout):
        fake.channel.read_ready(0.3)


def test_timeout_marks_the_channel_broken(fake: FakeWorker) -> None:
    fake.say(fake.ready())
    fake.channel.read_ready(1.0)
    start = time.monotonic()
    with pytest.raises(WorkerTimeout):
        fake.channel.call({"op": "ping"}, timeout=0.2)
    assert time.monotonic() - start < 1.0
    assert fake.channel.broken
    with pytest.raises(WorkerDied, match="unusable"):
        fake.channel.call({"op": "ping"}, timeout=0.2)


@pytest.mark.parametrize(
    "forgery",
    [
        pytest.param(lambda fake: json.dumps(FORGED).encode() + b"\n", id="unsigned"),
        pytest.param(lambda fake: fake.signed(1, FORGED, key=b"k" * KEY_BYTES), id="other-key"),
        pytest.param(lambda fake: fake.signed(2, FORGED), id="other-request-id"),
        pytest.param(lambda fake: fake.signed(0, FORGED), id="replayed-as-ready"),
        pytest.param(lambda fake: fake.signed(1, FORGED)[:-10] + b"0123456789\n", id="bad-mac"),
        pytest.param(lambda fake: b"not json at all\n", id="garbage"),
    ],
)
def test_a_forged_answer_is_dropped_and_the_genuine_one_wins(
    fake: FakeWorker, forgery: Callable[[FakeWorker], bytes]
) -> None:
    fake.say(fake.ready())
    fake.channel.read_ready(1.0)
    fake.say(forgery(fake), fake.signed(1, GENUINE))
    result = fake.channel.run(REQUEST, backend="fake")
    assert result.results[0].status == "failed"
    assert result.results[0].message == "expected 1"
    assert fake.channel.violations == 1
    assert fake.channel.broken  # the backend replaces this worker after the answer
    assert "protocol violation" in fake.channel.retire_reason


def test_a_surplus_line_never_shifts_onto_the_next_request(fake: FakeWorker) -> None:
    fake.say(fake.ready())
    fake.channel.read_ready(1.0)
    fake.say(fake.signed(1, GENUINE) + json.dumps(FORGED).encode() + b"\n")
    result = fake.channel.run(REQUEST, backend="fake")
    assert result.results[0].status == "failed"
    assert fake.channel.violations == 1 and fake.channel.broken
    with pytest.raises(WorkerDied, match="unusable"):
        fake.channel.call({"op": "ping"}, timeout=0.2)


def test_the_worker_can_ask_to_be_recycled(fake: FakeWorker) -> None:
    fake.say(fake.ready())
    fake.channel.read_ready(1.0)
    fake.say(fake.signed(1, {**GENUINE, "recycle": "could not remove /tmp/x"}))
    assert fake.channel.run(REQUEST, backend="fake").results[0].status == "failed"
    assert fake.channel.broken and fake.channel.violations == 0
    assert "could not remove /tmp/x" in fake.channel.retire_reason


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"not json", "is not JSON"),
        (b"[1, 2]", "broke the protocol"),
        (b'{"id": 7, "ok": true}', "broke the protocol"),
    ],
)
def test_a_signed_line_out_of_protocol_kills_the_worker(
    fake: FakeWorker, answer: bytes, match: str
) -> None:
    fake.say(fake.ready())
    fake.channel.read_ready(1.0)
    fake.say(frame(answer, answer_mac(fake.channel.key, 1, answer)))
    with pytest.raises(WorkerDied, match=match):
        fake.channel.call({"op": "ping"}, timeout=1.0)


def test_end_of_stream_is_a_dead_worker(fake: FakeWorker) -> None:
    fake.say(fake.ready())
    fake.channel.read_ready(1.0)
    os.close(fake.to_host_w)
    with pytest.raises(WorkerDied, match="exited"):
        fake.channel.call({"op": "ping"}, timeout=1.0)


def test_rejected_request_is_a_sandbox_error(fake: FakeWorker) -> None:
    fake.say(fake.ready(), fake.signed(1, {"id": 1, "ok": False, "error": "bad"}))
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


def _signed_answer(line: bytes, key: bytes, request_id: int) -> dict[str, Any]:
    parts = split(line.rstrip(b"\n"))
    assert parts is not None, line
    body, mac = parts
    assert mac == answer_mac(key, request_id, body)
    answer: dict[str, Any] = json.loads(body)
    return answer


def test_real_worker_signs_its_answers_and_answers_malformed_requests() -> None:
    key = os.urandom(KEY_BYTES)
    proc = subprocess.Popen(
        [sys.executable, "-u", str(WORKER_SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(key)
        proc.stdin.flush()
        ready = _signed_answer(proc.stdout.readline(), key, 0)
        assert ready["ready"] and ready["protocol"] == PROTOCOL_VERSION
        assert ready["hardening"]["signed"] is True
        for request_id, line, error in [
            (-1, b"garbage\n", "JSONDecodeError"),
            (4, b'{"id": 4, "op": "fly"}\n', "unknown op 'fly'"),
            (5, b'{"id": 5, "op": "run", "tests": 3}\n', "TypeError"),
            (6, b'{"id": 6, "op": "run", "tests": [3]}\n', "AttributeError"),
        ]:
            proc.stdin.write(line)
            proc.stdin.flush()
            answer = _signed_answer(proc.stdout.readline(), key, request_id)
            assert answer["ok"] is False
            assert error in answer["error"]
        proc.stdin.write(b'{"id": 7, "op": "ping"}\n')
        proc.stdin.flush()
        assert _signed_answer(proc.stdout.readline(), key, 7) == {"id": 7, "ok": True, "pong": True}
        proc.stdin.write(b'{"op": "exit"}\n')
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_worker_without_its_key_says_so() -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER_SCRIPT)], input=b"short", capture_output=True, timeout=30
    )
    assert done.returncode == 3
    assert b"did not receive its key" in done.stderr
    assert done.stdout == b""


def test_worker_rejects_bad_flags() -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER_SCRIPT), "--frobnicate"], capture_output=True, timeout=30
    )
    assert done.returncode == 2
    assert b"unknown flag --frobnicate" in done.stderr
