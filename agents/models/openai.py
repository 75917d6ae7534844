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
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from beadline.agents.errors import BackendError, ContextOverflowError, UserError
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
_OVERFLOW_WORDS = ("context length", "context window", "maximum context", "too long", "exceed")


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

    Raises:
        UserError: no API key for a hosted API, bad numeric options, or no model id found.
        BackendError: the server is unreachable.
    """

    capabilities = Capabilities(full_vocabulary=False, logprobs=True, top_k=5, kv_cache=False)

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        endpoint: Endpoint = "completions",
        top_logprobs: int = 5,
        logprobs: bool = True,
        chat_continue: bool = False,
        n_ctx: int = 8192,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BackendError("the `openai` package is missing: pip install openai") from exc
        if endpoint not in ("completions", "chat"):
            raise UserError(f"endpoint must be 'completions' or 'chat', got {endpoint!r}")
        if not isinstance(top_logprobs, int) or not 1 <= top_logprobs <= 100:
            raise UserError(f"top_logprobs must be an integer in 1..100, got {top_logprobs!r}")
        if not isinstance(n_ctx, int) or n_ctx < 1:
            raise UserError(f"n_ctx must be a positive integer, got {n_ctx!r}")
        if not timeout > 0 or not isinstance(max_retries, int) or max_retries < 0:
            raise UserError(
                f"timeout must be > 0 and max_retries >= 0, got {timeout!r} and {max_retries!r}"
            )
        url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if url is None or "api.openai.com" in url:
                raise UserError(
                    "no API key for the OpenAI API: pass api_key= or set OPENAI_API_KEY "
                    "(or pass base_url= of a local server, which needs none)"
                )
            key = "no-key-needed"
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=url, api_key=key, timeout=timeout, max_retries=max_retries
        )
        self.base_url = str(self._client.base_url)
        self.endpoint: Endpoint = endpoint
        self.top_logprobs = top_logprobs
        self.chat_continue = chat_continue
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
        self.requests = 0
        """HTTP requests made so far (cost accounting)."""
        self._model = model or self._only_model()

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
        """Sample ``n`` continuations with one request (more if the server ignores ``n``).

        Needs no log-probabilities. ``stop`` goes to the server (at most 4 sequences, as
        OpenAI allows; all are applied again client-side), ``stop_lines`` is cut client-side.
        With a seed, repeated requests use ``seed, seed+1, ...``.
        """
        if n < 0 or max_tokens < 0:
            raise UserError(f"n and max_tokens must be >= 0, got n={n}, max_tokens={max_tokens}")
        context = self._context(tokens)
        out: list[Completion] = []
        attempt = 0
        while len(out) < n and max_tokens > 0:
            seed = None if params.seed is None else params.seed + attempt
            choices = self._request(
                context,
                n=n - len(out),
                max_tokens=max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(stop)[:4],
                seed=seed,
                top_logprobs=None,
            )
            attempt += 1
            for text, reason, _ in choices[: n - len(out)]:
                cut, hit = cut_text(text, stop, stop_lines)
                if hit:
                    finish = "stop"
                elif reason == "stop":
                    finish = "stop" if stop else "eos"
                else:
                    finish = "length"
                out.append(
                    Completion(
                        text=cut,
                        tokens=tuple(self.tokenize(cut)),
                        finish_reason=finish,
                        n_tokens_evaluated=len(tokens) + len(self.tokenize(text)),
                    )
                )
        return out

    def close(self) -> None:
        self._client.close()

    # -- internals -------------------------------------------------------------------------

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
        try:
            listed = [m.id for m in self._client.models.list()]
        except self._openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        if len(listed) != 1:
            raise UserError(
                f"the server at {self.base_url} serves {len(listed)} models "
                f"({', '.join(listed[:5]) or 'none'}): pass the model id"
            )
        return listed[0]

    def next_logprobs_of(self, tokens: Sequence[int]) -> NextTokenLogprobs:
        """Top-k next-piece log-probs after ``tokens`` (cached per context text)."""
        if not self.capabilities.logprobs:
            raise BackendError(
                f"model {self._model!r} was opened with logprobs=False: {_NO_LOGPROBS}"
            )
        context = self._context(tokens)
        cached = self._cache.get(context)
        if cached is not None:
            self._cache.move_to_end(context)
            return cached
        choices = self._request(
            context,
            n=1,
            max_tokens=1,
            temperature=0.0,
            top_p=1.0,
            stop=[],
            seed=None,
            top_logprobs=self.top_logprobs,
        )
        top = choices[0][2]
        if not top:
            raise BackendError(f"{self.base_url}: {_NO_LOGPROBS}")
        merged: dict[int, float] = {}
        for piece, lp in top.items():
            pid = self._intern(piece)  # "" (end of text, a control token) is the EOS piece
            merged[pid] = max(lp, merged.get(pid, -np.inf))  # same text from two tokens
        ids = np.fromiter(merged.keys(), dtype=np.int64)
        lps = np.fromiter(merged.values(), dtype=np.float64)
        result = NextTokenLogprobs(lps, ids)
        self._cache[context] = result
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def _request(
        self,
        context: _Context,
        *,
        n: int,
        max_tokens: int,
        temperature: float,
        top_p: float,
        stop: list[str],
        seed: int | None,
        top_logprobs: int | None,
    ) -> list[tuple[str, str, dict[str, float] | None]]:
        """One request; returns ``(text, finish_reason, top logprobs of the first token)``."""
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
        self.requests += 1
        try:
            if context.messages is None:
                if top_logprobs is not None:
                    common["logprobs"] = top_logprobs
                resp = self._client.completions.create(prompt=context.prompt, **common)
                return [
                    (c.text, c.finish_reason or "length", _completion_top(c)) for c in resp.choices
                ]
            messages: list[Any] = json.loads(context.messages)
            if context.prompt:
                messages.append({"role": "assistant", "content": context.prompt})
            if top_logprobs is not None:
                common["logprobs"] = True
                common["top_logprobs"] = top_logprobs
            if self.chat_continue and context.prompt:
                common["extra_body"] = {
                    "continue_final_message": True,
                    "add_generation_prompt": False,
                }
            chat = self._client.chat.completions.create(messages=messages, **common)
            return [
                (c.message.content or "", c.finish_reason or "length", _chat_top(c))
                for c in chat.choices
            ]
        except self._openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> BackendError:
        oa = self._openai
        where = f"the server at {self.base_url}"
        if isinstance(exc, oa.APITimeoutError):
            return BackendError(f"{where} did not answer in time: raise timeout= or check it")
        if isinstance(exc, oa.APIConnectionError):
            return BackendError(
                f"cannot reach {where}: start the server, or fix base_url / OPENAI_BASE_URL"
            )
        if isinstance(exc, oa.AuthenticationError):
            return BackendError(f"{where} rejected the API key: set OPENAI_API_KEY or api_key=")
        if isinstance(exc, oa.NotFoundError):
            return BackendError(
                f"{where} has no /{'chat/' if self.endpoint == 'chat' else ''}completions "
                f"endpoint or no model {self._model!r}: try endpoint='chat'/'completions' or "
                f"another model id",
                getattr(exc, "body", None),
            )
        if isinstance(exc, oa.APIStatusError):
            message = str(exc)
            if any(word in message.lower() for word in _OVERFLOW_WORDS):
                return ContextOverflowError(
                    f"{where} says the context is too long: {message[:300]}", exc.body
                )
            if "logprob" in message.lower():
                return BackendError(f"{where} refused logprobs ({message[:200]}): {_NO_LOGPROBS}")
            return BackendError(f"{where} failed: {message[:300]}", exc.body)
        return BackendError(f"{where} failed: {exc}")


def _completion_top(choice: Any) -> dict[str, float] | None:
    logprobs = getattr(choice, "logprobs", None)
    tops = getattr(logprobs, "top_logprobs", None) if logprobs is not None else None
    if not tops or tops[0] is None:
        return None
    return {str(k): float(v) for k, v in dict(tops[0]).items()}


def _chat_top(choice: Any) -> dict[str, float] | None:
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    out: dict[str, float] = {}
    for entry in content[0].top_logprobs or ():
        raw = getattr(entry, "bytes", None)
        text = bytes(raw).decode("utf-8", errors="ignore") if raw else entry.token
        out[text] = max(float(entry.logprob), out.get(text, -np.inf))
    return out


class OpenAISession(Session):
    """A text context on an :class:`OpenAIModel` (no server-side state; results are cached)."""

    def __init__(self, model: OpenAIModel, tokens: Sequence[int] = ()) -> None:
        self._model = model
        self._tokens: list[int] = []
        self._n_evaluated = 0
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
        require_context(self._tokens)
        before = self._model.requests
        result = self._model.next_logprobs_of(self._tokens)
        if self._model.requests != before:
            self._n_evaluated += len(self._tokens)  # the server reads the whole text again
        return result

    @property
    def n_evaluated(self) -> int:
        return self._n_evaluated
