"""OpenAI-compatible HTTP backend (vLLM, ``python -m llama_cpp.server``, hosted APIs).

A server does not expose its tokenizer, so a session here is a *text* context: text is split
into word-like pieces (GPT-2's pre-tokenisation pattern) and every distinct piece — including
every token string a server returns in its top log-probabilities — is interned to an integer id.
:class:`NextTokenLogprobs` therefore stays int-keyed, and :meth:`OpenAIModel.detokenize` maps ids
back to their text exactly. A server shows end-of-text (and any control token, or a lone
partial UTF-8 byte) as the empty string: that piece is id 0, the model's EOS. Context lengths counted in pieces are approximate; the server
enforces its real window (its "too long" answer becomes :class:`ContextOverflowError`).

Two endpoints:

* ``completions`` (default): ``/v1/completions`` with ``prompt=<session text>``, ``max_tokens=1``
  and ``logprobs=k`` gives the top-k next tokens of any text — exact token-level guidance over
  the union of two top-k sets (see :mod:`beadline.agents.decoding.guidance` for the floor approximation).
* ``chat``: ``/v1/chat/completions`` with ``logprobs=true, top_logprobs=k``. Chat messages are
  rendered by :meth:`OpenAIModel.apply_chat_template` into one opaque piece; text appended after
  it is sent as a final assistant message to continue (servers that honour a trailing assistant
  message — vLLM with ``continue_final_message``, which ``chat_continue=True`` requests — give an
  exact continuation; others may open a new turn, so prefer ``completions`` for guidance).

Without log-probabilities (``logprobs=False``, or a server that returns none) only γ = 1 is
possible: sample from the signal prompt alone with :meth:`OpenAIModel.complete`, one request per
call. Settings: explicit arguments first; then the ``openai`` client's documented fallbacks
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``; a local server without a key gets a placeholder key.
The client retries connection errors, 408/409/429 and 5xx answers with exponential backoff
(``max_retries``) and gives up after ``timeout`` seconds per request.

Speed. A guided token needs the next-token log-probs of two contexts (plain and signal):
:meth:`OpenAIModel.next_logprobs_batch` sends their requests at once (``concurrency`` threads),
streamed (``stream_logprobs``: ``llama_cpp.server`` log-softmaxes the whole context for a
non-streamed request with log-probs, ~10x the cost of the streamed one at 1,200 tokens).
The ``s`` candidates of a guidance step are one request with ``n=s``; a server that ignores
``n`` (``llama_cpp.server``) or refuses it (``llama-server`` beyond its slots) gets one request
per candidate, sent concurrently, from then on. A server re-evaluates only the part of a prompt
its cache does not hold; to keep the two contexts from evicting each other, each session is
pinned to a route of its own (:mod:`beadline.agents.models._routes`): one of several server URLs
(``base_url`` lists them: e.g. two ``llama_cpp.server`` processes on the same file) and/or one of
``slots`` llama-server slots (``id_slot`` and ``cache_prompt`` are sent). vLLM's automatic prefix
caching needs neither. The README's "OpenAI-compatible servers" section has the measured
settings.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from beadline.agents.errors import BackendError, ContextOverflowError, UserError
from beadline.agents.models._openai_wire import (
    bind,
    chat_top,
    check_options,
    completion_top,
    first_top,
    server_urls,
    translate_error,
)
from beadline.agents.models._routes import Route, RouteTable
from beadline.agents.models.base import (
    Capabilities,
    Completion,
    Model,
    NextTokenLogprobs,
    SamplingParams,
    Session,
    cut_text,
    fit_window,
    require_context,
)

__all__ = ["Endpoint", "OpenAIModel", "OpenAISession"]

Endpoint = Literal["completions", "chat"]
"""Which OpenAI endpoint a model talks to."""

_PIECES = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\w+| ?[^\s\w]+|\s+(?!\S)|\s+""")
_CHAT_OPEN = "\x00beadline-chat:"
_CHAT_CLOSE = "\x00"
_CHAT_PIECE = re.compile(re.escape(_CHAT_OPEN) + r"[^\x00]*" + re.escape(_CHAT_CLOSE))
_NO_LOGPROBS = "this server returns no logprobs: use gamma=1 or a server that does"
_CACHE_SIZE = 256
_GREEDY = SamplingParams()
_EOS_ID = 0
"""Id of the empty piece, which stands for end-of-text in top-k sets."""
_T = TypeVar("_T")
_LINE_CHUNK = 16
"""Tokens asked per wanted line of a candidate (a server generates up to ``max_tokens``; the
lines past ``stop_lines`` would be thrown away)."""

_Choice = tuple[str, str, dict[str, float] | None]
"""One answer choice: ``(text, finish_reason, top logprobs of the first token)``."""


@dataclass(frozen=True, kw_only=True)
class _Sampling:
    """What the sampling requests of one :meth:`OpenAIModel.complete` call share."""

    max_tokens: int
    """Tokens per continuation."""
    params: SamplingParams
    """Temperature, top-p and the base seed."""
    stop: tuple[str, ...]
    """Stop sequences sent to the server (at most 4)."""


@dataclass(frozen=True)
class _Context:
    """What one request sends: a prompt (completions) or messages plus a prefill (chat)."""

    prompt: str
    """The text to continue (completions), or the assistant's answer so far (chat)."""
    messages: str | None = None
    """The chat messages as JSON; ``None`` for the completions endpoint."""


class OpenAIModel(Model):
    """A model behind an OpenAI-compatible server.

    Args:
        model: the server's model id; default: the only model the server lists.
        base_url: e.g. ``http://127.0.0.1:8000/v1``; default ``OPENAI_BASE_URL`` or OpenAI's.
            Several URLs (a list, or one string with commas) serving the same model: each
            session is pinned to one of them, so each context keeps its own server cache
            (e.g. two ``python -m llama_cpp.server`` processes on the same file).
        api_key: default ``OPENAI_API_KEY``; a placeholder for a local ``base_url``.
        endpoint: ``completions`` (token-level guidance) or ``chat``.
        top_logprobs: size of the top-k sets requested (OpenAI allows ≤ 5 on completions
            and ≤ 20 on chat; vLLM and llama.cpp allow more).
        logprobs: ask for log-probabilities at all; ``False`` for servers without them
            (only γ = 1 guidance then).
        chat_continue: send ``continue_final_message`` (vLLM) so a trailing assistant message
            is continued rather than answered.
        n_ctx: the window to assume, in pieces (the server enforces the real one).
        timeout: seconds per request.
        max_retries: retries with exponential backoff on connection errors, 408/429/5xx.
        slots: llama.cpp ``llama-server`` slots to pin sessions to (start it with
            ``--parallel`` at least this); each request then carries ``id_slot`` and
            ``cache_prompt: true``. 0 (default): let the server place requests.
        concurrency: requests in flight at once (the two contexts of a guided token, the
            candidates of a server that ignores ``n``); 1 sends them one after the other.
        extra_body: more JSON fields for every request (server-specific options, e.g.
            ``{"n_cache_reuse": 256}`` for llama-server).
        stream_logprobs: ask for next-token log-probs with streamed requests. A non-streamed
            one makes ``llama_cpp.server`` log-softmax every position of the context (seen
            here: 7-13 s against 0.6-0.9 s per request at 1,226 tokens); a server whose
            stream carries no log-probs is asked without streaming from then on.

    Raises:
        UserError: no API key for a hosted API, bad options, or no model id found.
        BackendError: the server is unreachable.
    """

    capabilities = Capabilities(full_vocabulary=False, logprobs=True, top_k=5, kv_cache=False)

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        endpoint: Endpoint = "completions",
        top_logprobs: int = 5,
        logprobs: bool = True,
        chat_continue: bool = False,
        n_ctx: int = 8192,
        timeout: float = 60.0,
        max_retries: int = 3,
        slots: int = 0,
        concurrency: int = 4,
        extra_body: Mapping[str, Any] | None = None,
        stream_logprobs: bool = True,
    ) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BackendError("the `openai` package is missing: pip install openai") from exc
        check_options(endpoint, top_logprobs, n_ctx, timeout, max_retries, slots, concurrency)
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise UserError(f"extra_body must be a mapping of JSON fields, got {extra_body!r}")
        urls = server_urls(base_url)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if any(u is None or "api.openai.com" in u for u in urls):
                raise UserError(
                    "no API key for the OpenAI API: pass api_key= or set OPENAI_API_KEY "
                    "(or pass base_url= of a local server, which needs none)"
                )
            key = "no-key-needed"
        self._openai = openai
        clients = [
            openai.OpenAI(base_url=u, api_key=key, timeout=timeout, max_retries=max_retries)
            for u in urls
        ]
        self._routes = RouteTable(
            [
                Route(index=i * max(slots, 1) + j, client=c, url=str(c.base_url), slot=slot)
                for i, c in enumerate(clients)
                for j, slot in enumerate(range(slots) if slots else [None])
            ]
        )
        self.base_url = str(clients[0].base_url)
        self.base_urls = tuple(str(c.base_url) for c in clients)
        """Every server URL (one unless several were given)."""
        self.endpoint: Endpoint = endpoint
        self.top_logprobs = top_logprobs
        self.chat_continue = chat_continue
        self.concurrency = concurrency
        self.stream_logprobs = stream_logprobs
        self._streams_logprobs: bool | None = None
        self._extra_body = dict(extra_body or {})
        self._n_ctx = n_ctx
        self.capabilities = Capabilities(
            full_vocabulary=False,
            logprobs=logprobs,
            top_k=top_logprobs if logprobs else None,
            chat_template=endpoint == "chat",
            kv_cache=False,
        )
        self._pieces: list[str] = [""]
        self._ids: dict[str, int] = {"": _EOS_ID}
        self._cache: OrderedDict[_Context, NextTokenLogprobs] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.requests = 0
        """HTTP requests made so far (cost accounting)."""
        self.n_honoured: bool | None = None
        """Whether the server answers ``n > 1`` with ``n`` choices (``None``: not seen yet)."""
        self._model = model or ""
        if not model:
            self._model = self._only_model()

    # -- Model API -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._model

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def eos_token_ids(self) -> frozenset[int]:
        """The empty piece (id 0): servers list end-of-text and other control tokens as ``""``."""
        return frozenset({_EOS_ID})

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Split ``text`` into interned word-like pieces (chat messages stay one piece)."""
        if not text:
            return []
        out: list[int] = []
        pos = 0
        for match in _CHAT_PIECE.finditer(text):
            out += [self._intern(p) for p in _PIECES.findall(text[pos : match.start()])]
            out.append(self._intern(match.group(0)))
            pos = match.end()
        out += [self._intern(p) for p in _PIECES.findall(text[pos:])]
        return out

    def detokenize(self, tokens: Sequence[int]) -> str:
        try:
            return "".join(self._pieces[t] for t in tokens)
        except (IndexError, TypeError):
            raise UserError(
                f"unknown piece id among {list(tokens)[:8]}...: ids come from this model's "
                "tokenize() or next_logprobs()"
            ) from None

    def token_text(self, token: int) -> str:
        piece = self.detokenize([token])
        return "[chat messages]" if piece.startswith(_CHAT_OPEN) else piece

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        """Encode ``messages`` as one opaque piece; the server applies its own template.

        Text appended after the returned string is the assistant's answer so far.

        Raises:
            NotImplementedError: the model uses the ``completions`` endpoint.
        """
        if self.endpoint != "chat":
            raise NotImplementedError(
                "chat messages need endpoint='chat' (the completions endpoint takes plain text)"
            )
        for m in messages:
            if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise UserError(f"a chat message needs string 'role' and 'content', got {m!r}")
        body = json.dumps([{"role": m["role"], "content": m["content"]} for m in messages])
        return _CHAT_OPEN + body.replace("\x00", "\\u0000") + _CHAT_CLOSE

    def new_session(self, tokens: Sequence[int] = ()) -> OpenAISession:
        return OpenAISession(self, tokens)

    def next_logprobs_batch(self, sessions: Sequence[Session]) -> list[NextTokenLogprobs]:
        """Next-token log-probs of several sessions, their requests sent concurrently.

        Each session's request goes to its own route (see ``base_url`` and ``slots``);
        contexts answered before, or shared by two sessions, are requested once.

        Raises:
            UserError: a session of another model, or an empty context.
            BackendError: a request failed (the first failure, once all have ended).
        """
        mine: list[OpenAISession] = []
        for s in sessions:
            if not isinstance(s, OpenAISession) or s._model is not self:
                raise UserError("next_logprobs_batch takes sessions of this model only")
            require_context(s._tokens)
            mine.append(s)
        if not self.capabilities.logprobs:
            raise BackendError(
                f"model {self._model!r} was opened with logprobs=False: {_NO_LOGPROBS}"
            )
        out: list[NextTokenLogprobs | None] = [None] * len(mine)
        pending: dict[_Context, list[int]] = {}
        for i, s in enumerate(mine):
            context = self._context(s._tokens)
            cached = self._cache.get(context)
            if cached is not None:
                self._cache.move_to_end(context)
                out[i] = cached
            else:
                pending.setdefault(context, []).append(i)
        calls: list[Callable[[], _Choice]] = []
        urls: list[str] = []
        for context, where in pending.items():
            first = mine[where[0]]
            route = first._route()
            first._n_evaluated += self._routes.sent(route, first._tokens)
            calls.append(bind(self._logprob_request, route, context))
            urls.append(route.url)
        answers = self._run_all(calls)
        for (context, where), url, top in zip(pending.items(), urls, answers, strict=True):
            result = self._distribution(top[2], url)
            self._remember(context, result)
            for i in where:
                out[i] = result
        return [r for r in out if r is not None]

    def next_logprobs_of(self, tokens: Sequence[int]) -> NextTokenLogprobs:
        """Top-k next-piece log-probs after ``tokens`` (cached per context text)."""
        with self.new_session(tokens) as session:
            return session.next_logprobs()

    def complete(
        self,
        tokens: Sequence[int],
        *,
        n: int = 1,
        params: SamplingParams = _GREEDY,
        max_tokens: int = 128,
        stop: Sequence[str] = (),
        stop_lines: int | None = None,
        session: Session | None = None,
    ) -> list[Completion]:
        """Sample ``n`` continuations with one ``n=n`` request.

        A server that ignores ``n`` (answers one choice) or refuses it gets one request per
        missing continuation, sent concurrently, and from then on only those. Needs no
        log-probabilities. ``stop`` goes to the server (at most 4 sequences, as OpenAI allows;
        all are applied again client-side), ``stop_lines`` is cut client-side. With a seed,
        the ``i``-th single request uses ``seed + i``. The request goes to ``session``'s route
        (its server cache holds ``tokens``' prefix) when given.

        Raises:
            UserError: ``n`` or ``max_tokens`` is negative.
            BackendError: the server failed, or answered no choice.
        """
        if n < 0 or max_tokens < 0:
            raise UserError(f"n and max_tokens must be >= 0, got n={n}, max_tokens={max_tokens}")
        if n == 0 or max_tokens == 0:
            return []
        context = self._context(tokens)
        own = (
            session._route()
            if isinstance(session, OpenAISession) and session._model is self
            else None
        )
        route = own or self._routes.pick(tokens)
        chunk = self._chunk(max_tokens, stop_lines)
        request = _Sampling(max_tokens=chunk, params=params, stop=tuple(stop)[:4])
        choices: list[_Choice] = []
        if n == 1 or self.n_honoured is not False:
            choices = self._first_choices(route, tokens, context, n, request)
        routes = [route] * len(choices)
        calls = []
        for i in range(len(choices), n):
            seed = None if params.seed is None else params.seed + i
            # the first request goes where the context's prefix is cached; the others to a
            # route no session holds, if there is one, else there too
            target = route if i == 0 else self._routes.pick(tokens, prefer=route)
            self._routes.sent(target, tokens)
            calls.append(bind(self._sample_request, target, context, 1, seed, request))
            routes.append(target)
        for more in self._run_all(calls):
            if not more:
                raise BackendError(f"the server at {route.url} answered no choice")
            choices.append(more[0])
        if chunk < max_tokens:
            choices = self._continued(context, choices[:n], routes, request, max_tokens, stop_lines)
        return [self._completion(tokens, c, stop, stop_lines) for c in choices[:n]]

    def _chunk(self, max_tokens: int, stop_lines: int | None) -> int:
        """Tokens to ask for first: about ``stop_lines`` lines' worth when only so many are
        kept (the server cannot stop after ``n`` lines; a longer answer is continued), else
        ``max_tokens``. Chat requests are not continued unless ``chat_continue`` is on."""
        if stop_lines is None or (self.endpoint == "chat" and not self.chat_continue):
            return max_tokens
        return min(max_tokens, _LINE_CHUNK * max(stop_lines, 1))

    def _continued(
        self,
        context: _Context,
        choices: list[_Choice],
        routes: list[Route],
        request: _Sampling,
        max_tokens: int,
        stop_lines: int | None,
    ) -> list[_Choice]:
        """Continue every choice cut by its token chunk that has fewer than ``stop_lines``
        lines and no stop sequence yet, until it has them, stops, or ``max_tokens`` are spent.

        Each continuation asks for the text so far plus ``request.max_tokens`` more (on the
        route of its first request, whose cache holds the prefix); a seeded one uses
        ``seed + i + 10007 * k`` for the ``k``-th continuation of choice ``i``.
        """
        texts = [text for text, _, _ in choices]
        reasons = [reason for _, reason, _ in choices]
        used = [request.max_tokens] * len(choices)
        for k in range(1, max_tokens // max(request.max_tokens, 1) + 1):
            todo = [
                i
                for i, text in enumerate(texts)
                if reasons[i] == "length"
                and used[i] < max_tokens
                and not cut_text(text, request.stop, stop_lines)[1]
            ]
            if not todo:
                break
            calls = []
            for i in todo:
                seed = None if request.params.seed is None else request.params.seed + i + 10007 * k
                more = _Sampling(
                    max_tokens=min(request.max_tokens, max_tokens - used[i]),
                    params=request.params,
                    stop=request.stop,
                )
                ahead = _Context(prompt=context.prompt + texts[i], messages=context.messages)
                calls.append(bind(self._sample_request, routes[i], ahead, 1, seed, more))
                used[i] += more.max_tokens
            for i, got in zip(todo, self._run_all(calls), strict=True):
                text, reason, _ = got[0] if got else ("", "length", None)
                texts[i] += text
                reasons[i] = reason
        return [(t, r, None) for t, r in zip(texts, reasons, strict=True)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for route in self._routes.routes:
            route.client.close()

    # -- internals -------------------------------------------------------------------------

    def _first_choices(
        self,
        route: Route,
        tokens: Sequence[int],
        context: _Context,
        n: int,
        request: _Sampling,
    ) -> list[_Choice]:
        """The choices of the one ``n=n`` request; learns whether the server honours ``n``
        (a refusal of ``n > 1`` — a 400/422 answer — is remembered and gives no choices)."""
        self._routes.sent(route, tokens)
        try:
            choices = self._sample_request(route, context, n, request.params.seed, request)
        except ContextOverflowError:
            raise
        except BackendError as exc:
            refused = (self._openai.BadRequestError, self._openai.UnprocessableEntityError)
            if n == 1 or not isinstance(exc.__cause__, refused):
                raise
            self.n_honoured = False  # e.g. llama-server: n above its --parallel slots
            return []
        if n > 1 and self.n_honoured is None:
            self.n_honoured = len(choices) >= n
        if not choices:
            raise BackendError(f"the server at {route.url} answered no choice")
        return choices[:n]

    def _completion(
        self, tokens: Sequence[int], choice: _Choice, stop: Sequence[str], stop_lines: int | None
    ) -> Completion:
        text, reason, _ = choice
        cut, hit = cut_text(text, stop, stop_lines)
        if hit:
            finish = "stop"
        elif reason == "stop":
            finish = "stop" if stop else "eos"
        else:
            finish = "length"
        return Completion(
            text=cut,
            tokens=tuple(self.tokenize(cut)),
            finish_reason=finish,
            n_tokens_evaluated=len(tokens) + len(self.tokenize(text)),
        )

    def _run_all(self, calls: Sequence[Callable[[], _T]]) -> list[_T]:
        """Run ``calls`` (HTTP requests) at most ``concurrency`` at a time; their results in
        order. A failure is raised once every call has ended (none is left running)."""
        if len(calls) <= 1 or self.concurrency == 1:
            return [call() for call in calls]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="beadline-openai"
                )
            pool = self._pool
        futures: list[Future[_T]] = [pool.submit(call) for call in calls]
        wait(futures)
        for f in futures:
            exc = f.exception()
            if exc is not None:
                raise exc
        return [f.result() for f in futures]

    def _remember(self, context: _Context, result: NextTokenLogprobs) -> None:
        self._cache[context] = result
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def _distribution(self, top: dict[str, float] | None, url: str) -> NextTokenLogprobs:
        """A top-k set of piece texts as log-probs over interned piece ids."""
        if not top:
            raise BackendError(f"{url}: {_NO_LOGPROBS}")
        merged: dict[int, float] = {}
        for piece, lp in top.items():
            pid = self._intern(piece)  # "" (end of text, a control token) is the EOS piece
            merged[pid] = max(lp, merged.get(pid, -np.inf))  # same text from two tokens
        ids = np.fromiter(merged.keys(), dtype=np.int64)
        lps = np.fromiter(merged.values(), dtype=np.float64)
        return NextTokenLogprobs(lps, ids)

    def _intern(self, piece: str) -> int:
        found = self._ids.get(piece)
        if found is None:
            found = self._ids[piece] = len(self._pieces)
            self._pieces.append(piece)
        return found

    def _context(self, tokens: Sequence[int]) -> _Context:
        text = self.detokenize(tokens)
        if self.endpoint == "completions":
            if _CHAT_OPEN in text:
                raise UserError("chat messages need endpoint='chat', not 'completions'")
            return _Context(prompt=text)
        match = _CHAT_PIECE.search(text)
        if match is None:  # plain text on a chat endpoint: one user message
            return _Context(prompt="", messages=json.dumps([{"role": "user", "content": text}]))
        if text[: match.start()].strip():
            raise UserError("text before the chat messages cannot be sent to a chat endpoint")
        raw = match.group(0)[len(_CHAT_OPEN) : -len(_CHAT_CLOSE)]
        return _Context(prompt=text[match.end() :], messages=raw)

    def _only_model(self) -> str:
        """The one model id the server lists (every server, when ``base_url`` has several)."""
        served: dict[str, list[str]] = {}
        for route in self._routes.routes:
            if route.url not in served:
                try:
                    served[route.url] = [m.id for m in route.client.models.list()]
                except self._openai.OpenAIError as exc:
                    raise self._translate(exc, route.url) from exc
        listed = served[self.base_url]
        if len(listed) != 1:
            raise UserError(
                f"the server at {self.base_url} serves {len(listed)} models "
                f"({', '.join(listed[:5]) or 'none'}): pass the model id"
            )
        for url, other in served.items():
            if other != listed:
                raise UserError(
                    f"the servers in base_url serve different models ({listed[0]!r} at "
                    f"{self.base_url}, {', '.join(other) or 'none'} at {url}): every URL must "
                    "serve the same model file"
                )
        return listed[0]

    def _logprob_request(self, route: Route, context: _Context) -> _Choice:
        """One ``max_tokens=1`` request for the top-k next tokens of ``context``: streamed
        (``stream_logprobs``) until a server's stream shows it carries no log-probs."""
        stream = self.stream_logprobs and self._streams_logprobs is not False
        choices = self._request(
            route,
            context,
            n=1,
            max_tokens=1,
            temperature=0.0,
            top_p=1.0,
            stop=[],
            seed=None,
            top_logprobs=self.top_logprobs,
            stream=stream,
        )
        if stream and (not choices or choices[0][2] is None):
            self._streams_logprobs = False
            return self._logprob_request(route, context)
        if stream:
            self._streams_logprobs = True
        if not choices:
            raise BackendError(f"the server at {route.url} answered no choice")
        return choices[0]

    def _sample_request(
        self, route: Route, context: _Context, n: int, seed: int | None, request: _Sampling
    ) -> list[_Choice]:
        """One sampling request for ``n`` continuations (no log-probs)."""
        return self._request(
            route,
            context,
            n=n,
            max_tokens=request.max_tokens,
            temperature=request.params.temperature,
            top_p=request.params.top_p,
            stop=list(request.stop),
            seed=seed,
            top_logprobs=None,
        )

    def _request(
        self,
        route: Route,
        context: _Context,
        *,
        n: int,
        max_tokens: int,
        temperature: float,
        top_p: float,
        stop: list[str],
        seed: int | None,
        top_logprobs: int | None,
        stream: bool = False,
    ) -> list[_Choice]:
        """One request to ``route`` (safe to call from several threads). A streamed one is
        read until its first token's log-probs arrive; it returns that one choice."""
        common: dict[str, Any] = {
            "model": self._model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "n": n,
        }
        if stop:
            common["stop"] = stop
        if seed is not None:
            common["seed"] = seed
        extra = {**self._extra_body, **route.extra_body()}
        with self._lock:
            self.requests += 1
        try:
            if context.messages is None:
                if top_logprobs is not None:
                    common["logprobs"] = top_logprobs
                if extra:
                    common["extra_body"] = extra
                if stream:
                    chunks = route.client.completions.create(
                        prompt=context.prompt, stream=True, **common
                    )
                    return first_top(chunks, completion_top, lambda c: c.text)
                resp = route.client.completions.create(prompt=context.prompt, **common)
                return [
                    (c.text, c.finish_reason or "length", completion_top(c)) for c in resp.choices
                ]
            messages: list[Any] = json.loads(context.messages)
            if context.prompt:
                messages.append({"role": "assistant", "content": context.prompt})
            if top_logprobs is not None:
                common["logprobs"] = True
                common["top_logprobs"] = top_logprobs
            if self.chat_continue and context.prompt:
                extra = {**extra, "continue_final_message": True, "add_generation_prompt": False}
            if extra:
                common["extra_body"] = extra
            if stream:
                chunks = route.client.chat.completions.create(
                    messages=messages, stream=True, **common
                )
                return first_top(chunks, chat_top, lambda c: c.delta.content)
            chat = route.client.chat.completions.create(messages=messages, **common)
            return [
                (c.message.content or "", c.finish_reason or "length", chat_top(c))
                for c in chat.choices
            ]
        except self._openai.OpenAIError as exc:
            raise self._translate(exc, route.url) from exc

    def _translate(self, exc: Exception, url: str) -> BackendError:
        return translate_error(self._openai, exc, url, endpoint=self.endpoint, model=self._model)


class OpenAISession(Session):
    """A text context on an :class:`OpenAIModel`; pinned to a route of the model's servers at
    its first request, released on :meth:`close` (results are cached per context)."""

    def __init__(self, model: OpenAIModel, tokens: Sequence[int] = ()) -> None:
        self._model = model
        self._tokens: list[int] = []
        self._n_evaluated = 0
        self._pinned: Route | None = None
        self.set_tokens(tokens)

    @property
    def tokens(self) -> Sequence[int]:
        return tuple(self._tokens)

    def set_tokens(self, tokens: Sequence[int]) -> None:
        fix = " or pass a larger n_ctx (the window is assumed; the server enforces its own)"
        new = fit_window(tokens, self._model, fix=fix)
        self._model.detokenize(new)  # validates the ids
        self._tokens = new

    def next_logprobs(self) -> NextTokenLogprobs:
        return self._model.next_logprobs_batch([self])[0]

    @property
    def n_evaluated(self) -> int:
        """Pieces the server had to evaluate for this session, estimated from what its route
        last held (a server with a per-route prompt cache evaluates only the difference)."""
        return self._n_evaluated

    @property
    def route(self) -> Route | None:
        """The route this session's requests go to (``None`` before its first request)."""
        return self._pinned

    def _route(self) -> Route:
        if self._pinned is None:
            self._pinned = self._model._routes.acquire(self, self._tokens)
        return self._pinned

    def close(self) -> None:
        if self._pinned is not None:
            self._model._routes.release(self, self._pinned)
            self._pinned = None
