"""The model interface: token contexts (sessions) with next-token log-probabilities.

EG-CFG needs, at every token, the next-token log-probabilities of two contexts side by side —
the plain prompt and the prompt with the dynamic signal — and it samples short candidate
continuations from the plain one. A :class:`Model` owns the weights (or the API client); a
:class:`Session` is one context on it, with prefix-cache reuse: replacing the context by one that
shares a prefix with what was already evaluated re-evaluates only the new tokens.

Backends: ``llama_cpp.py`` (default), ``transformers.py`` (extra ``hf``), ``openai.py``
(OpenAI-compatible servers). The scripted fake for tests is in :mod:`beadline.agents.testing`.

The value types of a distribution (:class:`NextTokenLogprobs`, :class:`SamplingParams`) live in
:mod:`beadline.agents.models.sampling`, below this module, and are re-exported here. The default
:meth:`Model.complete` (:func:`complete_by_tokens`) draws tokens with that module, so the model
interface imports nothing from :mod:`beadline.agents.decoding`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from beadline.agents.errors import ContextOverflowError, UserError
from beadline.agents.models.sampling import NextTokenLogprobs, SamplingParams, sample_token

__all__ = [
    "Capabilities",
    "Completion",
    "Model",
    "NextTokenLogprobs",
    "SamplingParams",
    "Session",
    "common_prefix",
    "complete_by_tokens",
    "cut_text",
    "fit_window",
    "require_context",
]

_GREEDY = SamplingParams()
"""The default of :meth:`Model.complete`: greedy decoding."""


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a backend can do; the decoder adapts to it."""

    full_vocabulary: bool
    """``next_logprobs`` covers the whole vocabulary (dense) rather than a top-k set."""
    logprobs: bool = True
    """The backend returns log-probabilities at all. Without them only γ=1 guidance
    (sampling from the signal prompt alone) is possible."""
    top_k: int | None = None
    """Size of the returned set when not ``full_vocabulary``."""
    chat_template: bool = False
    """The model has a chat template (:meth:`Model.apply_chat_template` works)."""
    kv_cache: bool = True
    """Extending or rewinding a session re-evaluates only the new tokens."""


@dataclass(frozen=True, kw_only=True)
class Completion:
    """One sampled continuation."""

    text: str
    """The generated text (cut at a stop sequence or after ``stop_lines`` lines)."""
    tokens: tuple[int, ...] = ()
    """The generated token ids (empty for API backends that return text only)."""
    logprob: float = 0.0
    """Sum of the sampled tokens' log-probabilities under the sampling context (0 if unknown)."""
    finish_reason: str = "length"
    """``stop`` (a stop sequence or line limit), ``eos``, or ``length``."""
    n_tokens_evaluated: int = field(default=0, compare=False)
    """Tokens the backend had to evaluate to produce this (cost accounting)."""


class Session(ABC):
    """One context (a token sequence) on a model, with its KV cache.

    The decoder keeps one session for the plain prompt and one for the prompt with the dynamic
    signal, and samples candidates from the plain one (rewinding it afterwards).
    """

    @property
    @abstractmethod
    def tokens(self) -> Sequence[int]:
        """The current context."""

    @abstractmethod
    def set_tokens(self, tokens: Sequence[int]) -> None:
        """Replace the context; the prefix shared with the evaluated one is reused.

        Raises:
            ContextOverflowError: ``tokens`` is longer than the context window.
        """

    def append(self, tokens: Sequence[int]) -> None:
        """Extend the context by ``tokens``."""
        self.set_tokens([*self.tokens, *tokens])

    def rewind(self, n_tokens: int) -> None:
        """Keep only the first ``n_tokens`` of the context."""
        if not 0 <= n_tokens <= len(self.tokens):
            raise UserError(
                f"cannot rewind to {n_tokens}: the context has {len(self.tokens)} tokens"
            )
        self.set_tokens(list(self.tokens)[:n_tokens])

    @abstractmethod
    def next_logprobs(self) -> NextTokenLogprobs:
        """Log-probabilities of the token after the current context.

        Raises:
            UserError: the context is empty.
            BackendError: the model or server failed.
        """

    @property
    def n_evaluated(self) -> int:
        """Tokens evaluated by this session so far (cost accounting)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the context's memory. Idempotent."""

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences (what a KV cache keeps)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def fit_window(tokens: Sequence[int], model: Model, *, fix: str = "") -> list[int]:
    """``tokens`` as a list of ints, checked against ``model``'s context window.

    Args:
        tokens: the new context of a session.
        model: the model whose ``n_ctx`` bounds it.
        fix: what else the user can do besides shortening the prompt (``" or ..."``).

    Raises:
        ContextOverflowError: naming the sizes, the model and the fix.
    """
    new = [int(t) for t in tokens]
    if len(new) > model.n_ctx:
        raise ContextOverflowError(
            f"a context of {len(new)} tokens does not fit the window of {model.n_ctx} tokens of "
            f"model {model.name!r}: shorten the prompt{fix}"
        )
    return new


def require_context(tokens: Sequence[int]) -> None:
    """Raise :class:`UserError` when a session is asked for log-probs with no context."""
    if not tokens:
        raise UserError("next_logprobs needs a non-empty context: set some tokens first")


def cut_text(text: str, stop: Sequence[str], stop_lines: int | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence (excluded) or after ``stop_lines`` newlines.

    Returns the kept text and whether a cut happened.

    Example:
        >>> cut_text("a\nb\nc", ["c"], 1)
        ('a\n', True)
    """
    cut = len(text)
    hit = False
    for s in stop:
        i = text.find(s)
        if i != -1 and i < cut:
            cut, hit = i, True
    if stop_lines is not None:
        pos = -1
        for _ in range(stop_lines):
            pos = text.find("\n", pos + 1)
            if pos == -1:
                break
        if pos != -1 and pos + 1 <= cut:
            cut, hit = pos + 1, True
    return text[:cut], hit


def complete_by_tokens(
    model: Model,
    tokens: Sequence[int],
    *,
    n: int,
    params: SamplingParams,
    max_tokens: int,
    stop: Sequence[str] = (),
    stop_lines: int | None = None,
    session: Session | None = None,
) -> list[Completion]:
    """Sample ``n`` continuations token by token, rewinding the session between them.

    See :meth:`Model.complete` for the stopping rules; a continuation that fills the model's
    context window ends with ``finish_reason="length"``. The session is left at ``tokens``.
    ``Completion.tokens`` holds every sampled token, including those of a stop sequence that
    was cut from the text.

    Raises:
        UserError: ``n`` or ``max_tokens`` is negative.
        ContextOverflowError: ``tokens`` alone does not fit the context window.
    """
    if n < 0 or max_tokens < 0:
        raise UserError(f"n and max_tokens must be >= 0, got n={n}, max_tokens={max_tokens}")
    own = session is None
    sess = model.new_session(tokens) if session is None else session
    rng = np.random.default_rng(params.seed)
    out: list[Completion] = []
    try:
        for _ in range(n):
            sess.set_tokens(tokens)
            start_eval = sess.n_evaluated
            generated: list[int] = []
            logprob = 0.0
            reason = "length"
            text = ""
            for _step in range(max_tokens):
                dist = sess.next_logprobs()
                tok = sample_token(dist, params, rng)
                if tok in model.eos_token_ids:
                    reason = "eos"
                    break
                ids = dist.ids()
                where = np.nonzero(ids == tok)[0]
                logprob += float(dist.logprobs[where[0]]) if where.size else 0.0
                generated.append(tok)
                text, hit = cut_text(model.detokenize(generated), stop, stop_lines)
                if hit:
                    reason = "stop"
                    break
                if len(tokens) + len(generated) >= model.n_ctx:
                    break  # the window is full: end as "length" rather than overflow
                sess.append([tok])
            out.append(
                Completion(
                    text=text,
                    tokens=tuple(generated),
                    logprob=logprob,
                    finish_reason=reason,
                    n_tokens_evaluated=sess.n_evaluated - start_eval,
                )
            )
        sess.set_tokens(tokens)
    finally:
        if own:
            sess.close()
    return out


class Model(ABC):
    """A language model that can open sessions. Backends holding resources are context managers."""

    capabilities: Capabilities
    """What this backend can do. Set on the class; a backend whose abilities depend on the loaded
    model or server (a GGUF with or without a chat template, a server with or without logprobs)
    overrides it per instance."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Human-readable model name (file stem or API model id)."""

    @property
    @abstractmethod
    def n_ctx(self) -> int:
        """Context window in tokens."""

    @abstractmethod
    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Text to token ids (special tokens in ``text`` are parsed).

        ``add_bos=True`` prepends the model's BOS token when the model expects one (its
        tokenizer config says so); use it for the start of a context, not for pieces.
        """

    @abstractmethod
    def detokenize(self, tokens: Sequence[int]) -> str:
        """Token ids to text."""

    @property
    @abstractmethod
    def eos_token_ids(self) -> frozenset[int]:
        """Tokens that end generation."""

    @abstractmethod
    def new_session(self, tokens: Sequence[int] = ()) -> Session:
        """Open a new context, optionally starting from ``tokens``."""

    def next_logprobs_batch(self, sessions: Sequence[Session]) -> list[NextTokenLogprobs]:
        """Next-token log-probs of several sessions of this model, in order.

        The decoder calls this with the plain and the signal session at every guided token.
        The default evaluates them one after the other; a backend that can evaluate several
        contexts in one forward pass (transformers) overrides it.
        """
        return [s.next_logprobs() for s in sessions]

    def token_text(self, token: int) -> str:
        """One token's text for displays (control tokens shown where the backend can)."""
        return self.detokenize([token])

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        """Render chat ``messages`` with the model's own template.

        Raises:
            NotImplementedError: the model has no chat template.
        """
        raise NotImplementedError(f"chat templates are not supported by {type(self).__name__}")

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
        """Sample ``n`` continuations of ``tokens`` (the candidates of EG-CFG).

        The default implementation decodes token by token on ``session`` (or a new one),
        rewinding it to ``tokens`` after each continuation. API backends override it with one
        request. A continuation ends at EOS, at a stop sequence (excluded from the text), after
        ``stop_lines`` newline characters, or at ``max_tokens``.
        """
        return complete_by_tokens(
            self,
            tokens,
            n=n,
            params=params,
            max_tokens=max_tokens,
            stop=stop,
            stop_lines=stop_lines,
            session=session,
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model. Idempotent."""

    def __enter__(self) -> Model:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
