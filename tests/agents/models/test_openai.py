"""The OpenAI-compatible backend against a real ``llama_cpp.server`` on 127.0.0.1.

The server (the ``[server]`` extra) is started once for this module with SmolLM2, and its results
are compared with the llama.cpp backend on the same file and prompts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from beadline.agents.decoding.generate import generate_guided
from beadline.agents.decoding.guidance import guide
from beadline.agents.errors import BackendError, ContextOverflowError, UserError
from beadline.agents.models.base import Model, NextTokenLogprobs, SamplingParams
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.agents.models.openai import OpenAIModel
from beadline.agents.models.registry import resolve_model_path
from tests._servers import free_port, llama_cpp_server

pytestmark = pytest.mark.timeout(180)
server_test = pytest.mark.slow  # each request takes 0.3-4 s on a loaded 2-core machine

PAIRS = [
    # (plain prompt, signal text placed before it)
    ("def add(a, b):\n    return", "# add(2, 3) returned 6; the test expects 5\n"),
    ("def is_even(n):\n    return n", "# Trace: is_even(4) -> n % 2 == 0 -> True\n"),
]


@contextmanager
def _llama_cpp_server(log_dir: Path) -> Iterator[str]:
    """A ``python -m llama_cpp.server`` on SmolLM2 on a free port; yields its base URL."""
    model = resolve_model_path("smollm2-135m")
    with llama_cpp_server(model, log_dir / "server.log", n_ctx=1024) as url:
        yield url


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _llama_cpp_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def second_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another server on the same file: with :func:`server_url`, one per context."""
    with _llama_cpp_server(tmp_path_factory.mktemp("server2")) as url:
        yield url


@pytest.fixture(scope="module")
def local() -> Iterator[LlamaCppModel]:
    with LlamaCppModel("smollm2-135m", n_ctx=1024) as model:
        yield model


@pytest.fixture(scope="module")
def remote(server_url: str) -> Iterator[OpenAIModel]:
    with OpenAIModel(base_url=server_url, top_logprobs=20) as model:
        yield model


def _by_text(model: Model, dist: NextTokenLogprobs, k: int) -> dict[str, float]:
    return {model.token_text(t): lp for t, lp in dist.top(k)}


@server_test
def test_completions_logprobs_match_the_local_backend(
    remote: OpenAIModel, local: LlamaCppModel
) -> None:
    prompt = PAIRS[0][0]
    got = remote.new_session(remote.tokenize(prompt)).next_logprobs()
    assert not got.dense and len(got.logprobs) <= 20
    assert remote.detokenize(remote.tokenize(prompt)) == prompt
    with local.new_session(local.tokenize(prompt)) as session:
        ref = _by_text(local, session.next_logprobs(), 5)
    mine = _by_text(remote, got, 5)
    assert next(iter(mine)) == next(iter(ref))
    for text in set(mine) & set(ref):
        assert mine[text] == pytest.approx(ref[text], abs=0.3)


@pytest.mark.parametrize(("pair", "gamma"), [(0, 1.0), (0, 3.0), (1, 3.0)])
@server_test
def test_guided_result_equals_the_local_backend(
    remote: OpenAIModel, local: LlamaCppModel, pair: int, gamma: float
) -> None:
    plain_text, signal = PAIRS[pair]
    signal_text = signal + plain_text
    lp, ls = (local.new_session(local.tokenize(t)) for t in (plain_text, signal_text))
    with lp, ls:
        dense = guide(lp.next_logprobs(), ls.next_logprobs(), gamma)
    # (the model caches each context's answer: the γ variants reuse the same two requests)
    rp, rs = (remote.new_session(remote.tokenize(t)) for t in (plain_text, signal_text))
    sparse = guide(rp.next_logprobs(), rs.next_logprobs(), gamma)
    want = _by_text(local, dense, 3)
    got = _by_text(remote, sparse, 3)
    assert next(iter(got)) == next(iter(want)), (plain_text, want, got)
    # log-ratios between tokens listed on both sides do not depend on renormalisation
    a, b = [t for t in want if t in got][:2]
    assert got[a] - got[b] == pytest.approx(want[a] - want[b], abs=0.5)


@pytest.mark.parametrize(("pair", "gamma"), [(0, 3.0), (1, 3.0)])
@server_test
def test_concurrent_pinned_requests_equal_the_local_backend(
    server_url: str,
    second_server_url: str,
    local: LlamaCppModel,
    pair: int,
    gamma: float,
) -> None:
    """Both contexts at once, each on its own server: the guided distribution is the same."""
    plain_text, signal = PAIRS[pair]
    lp, ls = (local.new_session(local.tokenize(t)) for t in (plain_text, signal + plain_text))
    with lp, ls:
        want = _by_text(local, guide(*local.next_logprobs_batch([lp, ls]), gamma), 3)
    with OpenAIModel(base_url=[server_url, second_server_url], top_logprobs=20) as pinned:
        rp, rs = (pinned.new_session(pinned.tokenize(t)) for t in (plain_text, signal + plain_text))
        got = _by_text(pinned, guide(*pinned.next_logprobs_batch([rp, rs]), gamma), 3)
        assert rp.route is not None and rs.route is not None
        assert {rp.route.url, rs.route.url} == set(pinned.base_urls)
    assert next(iter(got)) == next(iter(want)), (plain_text, want, got)
    a, b = [t for t in want if t in got][:2]
    assert got[a] - got[b] == pytest.approx(want[a] - want[b], abs=0.5)


@server_test
def test_gamma_zero_through_the_api_is_plain_greedy(
    server_url: str, second_server_url: str, local: LlamaCppModel
) -> None:
    """γ=0 through a model pinned to two servers (a signal context given, which γ=0 leaves
    out) writes what plain greedy writes on one server with one request at a time; and a code
    line as the llama.cpp backend writes it. (Past a line the API may differ from the local
    backend: the server tokenizes the text written so far afresh, e.g. ``"\\n"`` + ``"\\n"`` as
    one ``"\\n\\n"``.)"""
    plain_text, signal = "def is_even(n):\n    return", "# is_even(3) returned True\n"
    with (
        OpenAIModel(base_url=[server_url, second_server_url], top_logprobs=20) as pinned,
        OpenAIModel(base_url=server_url, top_logprobs=20, concurrency=1) as single,
    ):
        plain, with_signal = (pinned.tokenize(t) for t in (plain_text, signal + plain_text))
        guided = generate_guided(pinned, plain, with_signal, gamma=0.0, max_tokens=16)
        greedy = generate_guided(single, single.tokenize(plain_text), None, max_tokens=16)
        assert guided.text == greedy.text and len(guided.tokens) == 16
        line = generate_guided(pinned, plain, with_signal, gamma=0.0, stop_lines=1)
    want = generate_guided(local, local.tokenize(plain_text), None, gamma=0.0, stop_lines=1)
    assert line.text == want.text and line.text.endswith("\n")


@server_test
def test_complete_with_n_seed_and_stop_lines(remote: OpenAIModel) -> None:
    prompt = remote.tokenize("def add(a, b):\n")
    params = SamplingParams(temperature=0.8, seed=7)
    outs = remote.complete(prompt, n=2, params=params, max_tokens=12, stop_lines=1)
    assert len(outs) == 2
    for c in outs:
        assert c.text.count("\n") <= 1 and remote.detokenize(c.tokens) == c.text
        assert c.finish_reason in ("stop", "eos", "length")
    again = remote.complete(prompt, n=2, params=params, max_tokens=12, stop_lines=1)
    assert [c.text for c in again] == [c.text for c in outs]
    (greedy,) = remote.complete(prompt, max_tokens=8, stop=["\n\n"])
    assert greedy.text and "\n\n" not in greedy.text


@server_test
def test_gamma_one_needs_no_logprobs(server_url: str) -> None:
    with OpenAIModel(base_url=server_url, logprobs=False) as model:
        assert not model.capabilities.logprobs
        (c,) = model.complete(model.tokenize("# signal\ndef f():\n"), max_tokens=8)
        assert c.text
        with pytest.raises(BackendError, match="gamma=1"):
            model.new_session(model.tokenize("x")).next_logprobs()


@server_test
def test_chat_endpoint_first_token_matches_the_local_template(
    server_url: str, local: LlamaCppModel
) -> None:
    messages = [{"role": "user", "content": "Write a Python function add(a, b)."}]
    with OpenAIModel(base_url=server_url, endpoint="chat", top_logprobs=10) as chat:
        assert chat.capabilities.chat_template
        session = chat.new_session(chat.tokenize(chat.apply_chat_template(messages)))
        got = _by_text(chat, session.next_logprobs(), 3)
        (answer,) = chat.complete(session.tokens, max_tokens=16)
        assert answer.text
    with local.new_session(local.tokenize(local.apply_chat_template(messages))) as ls:
        want = _by_text(local, ls.next_logprobs(), 3)
    assert next(iter(got)) == next(iter(want))


@server_test
def test_context_overflow_from_the_server(remote: OpenAIModel) -> None:
    long_prompt = "word " * 3000
    with pytest.raises(ContextOverflowError, match="too long"):
        remote.new_session(remote.tokenize(long_prompt)).next_logprobs()


def test_unreachable_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match="cannot reach"):
        OpenAIModel(base_url=url, max_retries=0, timeout=2)
    model = OpenAIModel("m", base_url=url, max_retries=0, timeout=2)
    with pytest.raises(BackendError, match=r"cannot reach .* start the server"):
        model.complete(model.tokenize("x"), max_tokens=2)


def test_missing_key_and_bad_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-x")
    with pytest.raises(UserError, match="endpoint"):
        OpenAIModel("m", base_url="http://127.0.0.1:9/v1", endpoint="embeddings")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="top_logprobs"):
        OpenAIModel("m", base_url="http://127.0.0.1:9/v1", top_logprobs=0)
    model = OpenAIModel("m", base_url="http://127.0.0.1:9/v1")
    assert model.eos_token_ids == {0} and model.detokenize([0]) == "" and model.tokenize("") == []
    text = "def f(x):\n\treturn x  # ok\n"
    assert model.detokenize(model.tokenize(text)) == text
    with pytest.raises(UserError, match="unknown piece id"):
        model.detokenize([10_000])
    with pytest.raises(NotImplementedError, match="endpoint='chat'"):
        model.apply_chat_template([{"role": "user", "content": "hi"}])


class _NoLogprobs(BaseHTTPRequestHandler):
    """A server that answers completions without logprobs (like many hosted APIs)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = {
            "id": "x",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "text": " 1", "finish_reason": "length", "logprobs": None}],
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_without_logprobs_says_what_it_lacks() -> None:
    httpd = HTTPServer(("127.0.0.1", 0), _NoLogprobs)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        with OpenAIModel("m", base_url=url, max_retries=0) as model:
            with pytest.raises(BackendError, match="returns no logprobs: use gamma=1"):
                model.new_session(model.tokenize("x =")).next_logprobs()
            (c,) = model.complete(model.tokenize("x ="), max_tokens=1)
            assert c.text == " 1" and c.finish_reason == "length"
    finally:
        httpd.shutdown()
        httpd.server_close()
