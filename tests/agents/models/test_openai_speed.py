"""The OpenAI backend's speed paths against fake HTTP servers (the real ``openai`` client on the
wire): both contexts of a guided token at once, one ``n=s`` request for the candidates with the
fallbacks for servers that ignore or refuse ``n``, each session pinned to its own server or
llama-server slot, and llama-server's log-prob format."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from beadline.agents.decoding.tokens import choose_token
from beadline.agents.errors import BackendError, UserError
from beadline.agents.models import openai as openai_backend
from beadline.agents.models.base import SamplingParams
from beadline.agents.models.openai import OpenAIModel

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
"""A fake server's reply to one POST body: ``(status, JSON body)``."""


class FakeServer:
    """An OpenAI-compatible server on 127.0.0.1 that records every request body.

    ``gather=N`` holds each POST until N requests are in flight together (2 s at most, then it
    answers 500): a client that sends them one after the other fails against it. A request
    with ``stream: true`` is answered with server-sent events (``streams=False``: with the
    plain JSON answer, as a server that cannot stream).
    """

    def __init__(
        self, answer: Answer, *, gather: int = 0, model: str = "m", streams: bool = True
    ) -> None:
        self.answer = answer
        self.streams = streams
        self.bodies: list[dict[str, Any]] = []
        self.model = model
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(gather) if gather > 1 else None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = {"object": "list", "data": [{"id": server.model, "object": "model"}]}
                self._send(200, data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with server._lock:
                    server.bodies.append(body)
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    if server._barrier is not None:
                        try:
                            server._barrier.wait(timeout=2)
                        except threading.BrokenBarrierError:
                            self._send(500, {"error": {"message": "requests came one by one"}})
                            return
                    else:
                        time.sleep(0.05)  # long enough for concurrent requests to overlap
                    status, data = server.answer(body)
                    if body.get("stream") and status == 200 and server.streams:
                        self._stream(data)
                    else:
                        self._send(status, data)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, data: dict[str, Any]) -> None:
                """The answer as server-sent events: one chunk, then a finish chunk."""
                last = {
                    **data,
                    "choices": [{**c, "text": "", "logprobs": None} for c in data["choices"]],
                }
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for event in (data, last):
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def reset(self, *, gather: int = 0) -> None:
        self.bodies.clear()
        self.most_in_flight = 0
        self._barrier = threading.Barrier(gather) if gather > 1 else None

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()


def _completion(texts: list[str], top: list[dict[str, float]] | None = None) -> dict[str, Any]:
    choices = []
    for i, text in enumerate(texts):
        logprobs = None
        if top is not None:
            logprobs = {"tokens": [], "token_logprobs": [], "top_logprobs": top, "text_offset": []}
        choices.append({"index": i, "text": text, "finish_reason": "length", "logprobs": logprobs})
    return {"id": "x", "object": "text_completion", "created": 0, "model": "m", "choices": choices}


def _by_prompt(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Log-probs that say which context was asked: `` S`` after a signal, `` P`` otherwise."""
    if "SIGNAL" in body["prompt"]:
        return 200, _completion([" S"], [{" S": -0.1, " P": -2.5}])
    return 200, _completion([" P"], [{" P": -0.2, " S": -1.9}])


def _top_text(model: OpenAIModel, dist: Any) -> str:
    return model.token_text(dist.top(1)[0][0])


def test_a_guided_token_sends_both_contexts_at_once() -> None:
    with FakeServer(_by_prompt, gather=2).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        plain = model.new_session(model.tokenize("def f():\n    return"))
        signal = model.new_session(model.tokenize("# SIGNAL\ndef f():\n    return"))
        got = model.next_logprobs_batch([plain, signal])
        assert [_top_text(model, d) for d in got] == [" P", " S"]  # each answer to its session
        assert len(server.bodies) == 2
        # the decoder's token choice goes through the same path
        plain.append(model.tokenize(" x"))
        signal.append(model.tokenize(" x"))
        choice = choose_token(
            model=model,
            plain=plain,
            signal=signal,
            gamma=1.0,
            params=SamplingParams(),
            rng=np.random.default_rng(0),
        )
        assert choice.record.text == " S" and len(server.bodies) == 4
        for body in server.bodies:
            assert body["max_tokens"] == 1 and body["logprobs"] == 5 and body["stream"] is True


def test_a_server_whose_streams_carry_no_logprobs_is_asked_without_streaming() -> None:
    with FakeServer(_by_prompt, streams=False).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        sessions = [model.new_session(model.tokenize(t)) for t in ("a b", "SIGNAL a b")]
        assert [_top_text(model, d) for d in model.next_logprobs_batch(sessions)] == [" P", " S"]
        sessions[0].append(model.tokenize(" c"))
        assert _top_text(model, sessions[0].next_logprobs()) == " P"
        streamed = [bool(b.get("stream")) for b in server.bodies]
        # each of the first two found the stream empty and asked again; then no more streams
        assert streamed.count(True) <= 2 and streamed[-1] is False and len(streamed) <= 5
    with FakeServer(_by_prompt).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0, stream_logprobs=False)
        model.new_session(model.tokenize("a")).next_logprobs()
        assert "stream" not in server.bodies[0]


def test_concurrency_one_sends_one_request_at_a_time() -> None:
    with FakeServer(_by_prompt).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0, concurrency=1)
        sessions = [model.new_session(model.tokenize(t)) for t in ("a b", "SIGNAL a b")]
        assert [_top_text(model, d) for d in model.next_logprobs_batch(sessions)] == [" P", " S"]
        assert server.most_in_flight == 1 and len(server.bodies) == 2


def test_a_context_is_asked_once() -> None:
    with FakeServer(_by_prompt).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        same = [model.new_session(model.tokenize("a b")) for _ in range(2)]
        first = model.next_logprobs_batch(same)
        assert first[0] is first[1] and len(server.bodies) == 1
        model.next_logprobs_batch(same)  # answered from the model's cache
        assert len(server.bodies) == 1 and model.requests == 1


def test_a_failed_request_fails_the_batch_once_both_ended() -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "SIGNAL" in body["prompt"]:
            return 500, {"error": {"message": "boom"}}
        return _by_prompt(body)

    with FakeServer(answer, gather=2).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        sessions = [model.new_session(model.tokenize(t)) for t in ("a", "SIGNAL a")]
        with pytest.raises(BackendError, match=r"failed: .*boom"):
            model.next_logprobs_batch(sessions)
        assert len(server.bodies) == 2  # both were sent before the failure was raised


def _sampler(*, honour_n: bool = True, refuse_n: bool = False) -> Answer:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        n = int(body.get("n", 1))
        if refuse_n and n > 1:
            return 400, {"error": {"message": "Value must be between 1 <= value <= 1, but got 3"}}
        seed = body.get("seed")
        count = n if honour_n else 1
        return 200, _completion([f" c{seed}.{i}\n    more" for i in range(count)])

    return answer


def test_candidates_are_one_request_with_n() -> None:
    with FakeServer(_sampler()).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        params = SamplingParams(temperature=0.8, seed=10)
        outs = model.complete(model.tokenize("def f():\n"), n=3, params=params, stop_lines=1)
        assert [c.text for c in outs] == [" c10.0\n", " c10.1\n", " c10.2\n"]
        assert [b["n"] for b in server.bodies] == [3] and model.n_honoured is True
        assert all(c.finish_reason == "stop" for c in outs)


def test_a_server_that_ignores_n_gets_concurrent_single_requests() -> None:
    with FakeServer(_sampler(honour_n=False)).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        params = SamplingParams(temperature=0.8, seed=10)
        prompt = model.tokenize("def f():\n")
        outs = model.complete(prompt, n=3, params=params, stop_lines=1)
        # the first answer shows n is ignored; the other two go out together, seeds 11 and 12
        assert [c.text for c in outs] == [" c10.0\n", " c11.0\n", " c12.0\n"]
        assert model.n_honoured is False
        sent = [(b["n"], b["seed"]) for b in server.bodies]
        assert sent[0] == (3, 10) and sorted(sent[1:]) == [(1, 11), (1, 12)]
        server.reset(gather=3)  # from now on: three single requests at once
        again = model.complete(prompt, n=3, params=params, stop_lines=1)
        assert [c.text for c in again] == [c.text for c in outs]
        assert sorted(b["seed"] for b in server.bodies) == [10, 11, 12]
        assert {b["n"] for b in server.bodies} == {1}


def test_a_server_that_refuses_n_gets_single_requests() -> None:
    with FakeServer(_sampler(refuse_n=True)).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        params = SamplingParams(temperature=0.8, seed=3)
        outs = model.complete(model.tokenize("x ="), n=3, params=params, max_tokens=4)
        assert [c.text for c in outs] == [" c3.0\n    more", " c4.0\n    more", " c5.0\n    more"]
        assert model.n_honoured is False and server.bodies[0]["n"] == 3
        assert sorted(b["seed"] for b in server.bodies[1:]) == [3, 4, 5]


def test_a_refusal_of_one_choice_is_an_error() -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 400, {"error": {"message": "bad stop"}}

    with FakeServer(answer).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        with pytest.raises(BackendError, match="bad stop"):
            model.complete(model.tokenize("x"), n=1, max_tokens=2)


def test_sessions_are_pinned_to_their_own_server() -> None:
    with FakeServer(_by_prompt).running() as a, FakeServer(_by_prompt).running() as b:
        model = OpenAIModel("m", base_url=f"{a.url}, {b.url}", max_retries=0)
        assert model.base_urls == (f"{a.url}/", f"{b.url}/")
        plain = model.new_session(model.tokenize("def f():\n    return"))
        signal = model.new_session(model.tokenize("# SIGNAL\ndef f():\n    return"))
        for piece in (" x", " +", " 1"):
            model.next_logprobs_batch([plain, signal])
            plain.append(model.tokenize(piece))
            signal.append(model.tokenize(piece))
        assert all("SIGNAL" not in body["prompt"] for body in a.bodies) and len(a.bodies) == 3
        assert all("SIGNAL" in body["prompt"] for body in b.bodies) and len(b.bodies) == 3
        # each server had to read only the new piece after its first request
        assert plain.n_evaluated == len(model.tokenize("def f():\n    return")) + 2
        plain.close()
        signal.close()
        again = model.new_session(model.tokenize("def f():\n    return x + 1 -"))
        again.next_logprobs()  # the plain context's cache is on server a
        assert len(a.bodies) == 4 and len(b.bodies) == 3


def test_one_server_alternating_contexts_reads_them_whole() -> None:
    with FakeServer(_by_prompt).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0, concurrency=1)
        plain = model.new_session(model.tokenize("a b c"))
        signal = model.new_session(model.tokenize("SIGNAL a b c"))
        for _ in range(3):
            model.next_logprobs_batch([plain, signal])
            plain.append(model.tokenize(" d"))
            signal.append(model.tokenize(" d"))
        # one cache for both: each request re-reads its context whole
        assert plain.n_evaluated == 3 + 4 + 5 and len(server.bodies) == 6


def test_candidates_beside_two_pinned_sessions_go_to_a_free_server() -> None:
    with (
        FakeServer(_sampler(honour_n=False)).running() as a,
        FakeServer(_sampler(honour_n=False)).running() as b,
    ):
        model = OpenAIModel("m", base_url=[a.url, b.url], max_retries=0)
        plain = model.new_session(model.tokenize("def f():\n"))
        params = SamplingParams(temperature=0.8, seed=1)
        outs = model.complete(plain.tokens, n=2, params=params, max_tokens=4, session=plain)
        assert len(outs) == 2
        assert [body["seed"] for body in a.bodies] == [1]  # the session's own server first
        assert [body["seed"] for body in b.bodies] == [2]  # the free one takes the other


def test_llama_server_slots_and_extra_fields() -> None:
    with FakeServer(_by_prompt, gather=2).running() as server:
        model = OpenAIModel(
            "m", base_url=server.url, max_retries=0, slots=2, extra_body={"n_cache_reuse": 64}
        )
        plain = model.new_session(model.tokenize("a b"))
        signal = model.new_session(model.tokenize("SIGNAL a b"))
        model.next_logprobs_batch([plain, signal])
        slot_of = {("SIGNAL" in b["prompt"]): b["id_slot"] for b in server.bodies}
        assert slot_of == {False: 0, True: 1}
        assert all(b["cache_prompt"] is True and b["n_cache_reuse"] == 64 for b in server.bodies)


def test_llama_server_logprob_format_is_read() -> None:
    """llama-server answers ``/v1/completions`` with the chat format's ``content`` list."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        top = [
            {"id": 5, "token": " x", "bytes": [32, 120], "logprob": -0.3},
            {"id": 6, "token": "", "bytes": [], "logprob": -1.5},  # end of text
            {"id": 7, "token": "", "bytes": [0xE2], "logprob": -4.0},  # a partial UTF-8 byte
        ]
        content = [
            {"id": 5, "token": " x", "bytes": [32, 120], "logprob": -0.3, "top_logprobs": top}
        ]
        choice = {
            "index": 0,
            "text": " x",
            "finish_reason": "length",
            "logprobs": {"content": content},
        }
        return 200, {
            "id": "x",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "choices": [choice],
        }

    with FakeServer(answer).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        dist = model.new_session(model.tokenize("y =")).next_logprobs()
        got = {model.token_text(t): lp for t, lp in dist.top(5)}
        assert got == {" x": pytest.approx(-0.3), "": pytest.approx(-1.5)}
        assert 0 in dist.ids()  # the empty piece is EOS


def test_bad_speed_options_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9/v1"
    with pytest.raises(UserError, match=r"slots must be an integer in 0\.\.64"):
        OpenAIModel("m", base_url=url, slots=-1)
    with pytest.raises(UserError, match="concurrency must be"):
        OpenAIModel("m", base_url=url, concurrency=0)
    with pytest.raises(UserError, match="lists a server twice"):
        OpenAIModel("m", base_url=f"{url},{url}")
    with pytest.raises(UserError, match="no URL in it"):
        OpenAIModel("m", base_url=" , ")
    with pytest.raises(UserError, match="list of URL strings"):
        OpenAIModel("m", base_url=[url, 8])  # type: ignore[list-item]
    with pytest.raises(UserError, match="extra_body must be a mapping"):
        OpenAIModel("m", base_url=url, extra_body=["x"])  # type: ignore[arg-type]
    monkeypatch.setenv("OPENAI_BASE_URL", f"{url},http://127.0.0.1:10/v1")
    assert len(OpenAIModel("m").base_urls) == 2


def test_servers_with_different_models_are_refused() -> None:
    with (
        FakeServer(_by_prompt, model="one").running() as a,
        FakeServer(_by_prompt, model="two").running() as b,
    ):
        with pytest.raises(UserError, match="serve different models"):
            OpenAIModel(base_url=[a.url, b.url], max_retries=0)
        assert OpenAIModel(base_url=[a.url], max_retries=0).name == "one"


def _writer(line: str = " x = 1\n") -> Answer:
    """A server that writes ``line`` over and over, one piece per token, up to ``max_tokens``
    (``finish_reason="length"``), or stops (``"stop"``) after three lines in all."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        written = body["prompt"].count("\n") - 1  # lines the continuation already has
        pieces = [" x", " =", " 1", "\n"] * 8
        out, reason = [], "length"
        for piece in pieces[: body["max_tokens"]]:
            out.append(piece)
            if piece == "\n" and written + "".join(out).count("\n") >= 3:
                reason = "stop"
                break
        choice = {"index": 0, "text": "".join(out), "finish_reason": reason, "logprobs": None}
        return 200, {"id": "x", "object": "text_completion", "model": "m", "choices": [choice]}

    return answer


def test_candidates_ask_for_their_lines_worth_and_continue_if_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeServer(_writer()).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        prompt = model.tokenize("def f():\n")
        (one,) = model.complete(prompt, max_tokens=128, stop_lines=1)
        assert one.text == " x = 1\n" and one.finish_reason == "stop"
        assert [b["max_tokens"] for b in server.bodies] == [16]  # not 128
        server.reset()
        # 2 tokens a line: a 4-token chunk holds one line of the two wanted, so the text so
        # far is continued
        monkeypatch.setattr(openai_backend, "_LINE_CHUNK", 2)
        params = SamplingParams(seed=4)
        (two,) = model.complete(prompt, max_tokens=128, stop_lines=2, params=params)
        assert two.text == " x = 1\n x = 1\n" and two.finish_reason == "stop"
        assert [b["max_tokens"] for b in server.bodies] == [4, 4]
        assert server.bodies[1]["prompt"] == "def f():\n x = 1\n"
        assert [b["seed"] for b in server.bodies] == [4, 4 + 10007]


def test_a_continued_candidate_stops_at_max_tokens_or_the_server_stop() -> None:
    with FakeServer(_writer()).running() as server:
        model = OpenAIModel("m", base_url=server.url, max_retries=0)
        prompt = model.tokenize("def f():\n")
        (c,) = model.complete(prompt, max_tokens=6, stop_lines=5)
        assert c.text == " x = 1\n x =" and c.finish_reason == "length"
        assert [b["max_tokens"] for b in server.bodies] == [6]
        server.reset()
        (d,) = model.complete(prompt, max_tokens=500, stop_lines=5)
        # the server ends after three lines: no more continuations
        assert d.text == " x = 1\n x = 1\n x = 1\n" and d.finish_reason == "eos"
        assert len(server.bodies) == 1
        server.reset()
        (e,) = model.complete(prompt, max_tokens=500)  # no line limit: one request
        assert [b["max_tokens"] for b in server.bodies] == [500] and e.text == d.text
