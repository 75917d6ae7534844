"""Wire details of the OpenAI-compatible backend: options, server URLs, response formats.

Servers differ in how they return top log-probabilities on ``/v1/completions``: OpenAI and vLLM
use the legacy format (``logprobs.top_logprobs[0]``, a text → logprob mapping), llama.cpp's
``llama-server`` the chat format (``logprobs.content[0].top_logprobs``, a list of entries with
``token``, ``logprob`` and ``bytes``). Both are read here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from beadline.agents.errors import BackendError, ContextOverflowError, UserError

__all__ = [
    "MAX_SLOTS",
    "bind",
    "chat_top",
    "check_options",
    "completion_top",
    "first_top",
    "server_urls",
    "translate_error",
]

MAX_SLOTS = 64
"""The most llama-server slots (and concurrent requests) a model may use."""
_T = TypeVar("_T")
_NO_LOGPROBS = "this server returns no logprobs: use gamma=1 or a server that does"
_OVERFLOW_WORDS = ("context length", "context window", "maximum context", "too long", "exceed")


def server_urls(base_url: str | Sequence[str] | None) -> list[str | None]:
    """The server URLs: explicit ones (a list, or one string with commas), else
    ``OPENAI_BASE_URL`` (commas allowed too), else ``[None]`` (OpenAI's API).

    Raises:
        UserError: an entry that is not a URL string, nothing but commas, or a URL twice.
    """
    raw = base_url or os.environ.get("OPENAI_BASE_URL") or None
    if raw is None:
        return [None]
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    if not all(isinstance(u, str) for u in items):
        raise UserError(f"base_url must be a URL or a list of URL strings, got {base_url!r}")
    urls = [u.strip() for u in items if u.strip()]
    if not urls:
        raise UserError(f"base_url has no URL in it: {raw!r}")
    if len(set(urls)) != len(urls):
        raise UserError(f"base_url lists a server twice: {', '.join(urls)}")
    return list(urls)


def check_options(
    endpoint: str,
    top_logprobs: int,
    n_ctx: int,
    timeout: float,
    max_retries: int,
    slots: int,
    concurrency: int,
) -> None:
    """Raise :class:`UserError` naming the first bad constructor option."""
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
    if not isinstance(slots, int) or not 0 <= slots <= MAX_SLOTS:
        raise UserError(
            f"slots must be an integer in 0..{MAX_SLOTS} (llama-server's --parallel), got {slots!r}"
        )
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_SLOTS:
        raise UserError(f"concurrency must be an integer in 1..{MAX_SLOTS}, got {concurrency!r}")


def bind(fn: Callable[..., _T], *args: Any) -> Callable[[], _T]:
    """``fn`` with its arguments bound (a request to run on the pool)."""

    def call() -> _T:
        return fn(*args)

    return call


def _get(obj: Any, name: str) -> Any:
    """A field of a response object, or of a plain dict (fields the client does not model)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _entry_text(entry: Any) -> str:
    """A top-logprob entry's text, from its bytes when given (a partial UTF-8 byte is ``""``)."""
    raw = _get(entry, "bytes")
    if raw:
        return bytes(raw).decode("utf-8", errors="ignore")
    return str(_get(entry, "token") or "")


def _content_top(content: Any) -> dict[str, float] | None:
    """The first token's top logprobs in the chat format (``content[0].top_logprobs``)."""
    if not content:
        return None
    out: dict[str, float] = {}
    for entry in _get(content[0], "top_logprobs") or ():
        text = _entry_text(entry)
        out[text] = max(float(_get(entry, "logprob")), out.get(text, -np.inf))
    return out or None


def completion_top(choice: Any) -> dict[str, float] | None:
    """The legacy completions format (``top_logprobs[0]``: text → logprob), or the chat format
    that llama.cpp's ``llama-server`` returns on ``/v1/completions`` too."""
    logprobs = _get(choice, "logprobs")
    if logprobs is None:
        return None
    tops = _get(logprobs, "top_logprobs")
    if tops and tops[0] is not None:
        return {str(k): float(v) for k, v in dict(tops[0]).items()}
    return _content_top(_get(logprobs, "content"))


def chat_top(choice: Any) -> dict[str, float] | None:
    logprobs = _get(choice, "logprobs")
    return None if logprobs is None else _content_top(_get(logprobs, "content"))


def translate_error(
    oa: Any, exc: Exception, url: str, *, endpoint: str, model: str
) -> BackendError:
    """An ``openai`` client error as a one-line :class:`BackendError` that says what to do
    (:class:`ContextOverflowError` for a server's "too long" answer).

    Args:
        oa: the ``openai`` module.
        exc: the client's error.
        url: the server it came from.
        endpoint: the endpoint asked (``completions`` or ``chat``).
        model: the model id sent.
    """
    where = f"the server at {url}"
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
            f"{where} has no /{'chat/' if endpoint == 'chat' else ''}completions "
            f"endpoint or no model {model!r}: try endpoint='chat'/'completions' or "
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


def first_top(
    chunks: Any,
    top_of: Callable[[Any], dict[str, float] | None],
    text_of: Callable[[Any], str | None],
) -> list[tuple[str, str, dict[str, float] | None]]:
    """Read a streamed answer until the first token's top log-probs arrive, then close it;
    ``[]`` when the stream ends without a choice, a choice without log-probs when it carried
    none."""
    text, reason, top = "", "length", None
    seen = False
    with chunks:
        for chunk in chunks:
            for choice in chunk.choices:
                seen = True
                text += text_of(choice) or ""
                reason = choice.finish_reason or reason
                top = top or top_of(choice)
            if top is not None:
                break
    return [(text, reason, top)] if seen else []
