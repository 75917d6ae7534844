"""The model interface: token contexts (sessions) with next-token log-probabilities.

EG-CFG needs, at every token, the next-token log-probabilities of two contexts side by side —
the plain prompt and the prompt with the dynamic signal — and it samples short candidate
continuations from the plain one. A :class:`Model` owns the weights (or the API client); a
:class:`Session` is one context on it, with prefix-cache reuse: replacing the context by one that
shares a prefix with what was already evaluated re-evaluates only the new tokens.

Backends: ``llama_cpp.py`` (default), ``transformers.py`` (extra ``hf``), ``openai.py``
(OpenAI-compatible servers). The scripted fake for tests is in :mod:`beadline.agents.testing`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np
import numpy.typing as npt

from beadline.agents.errors import ContextOverflowError, UserError

__all__ = [
    "Capabilities",
    "Completion",
    "Model",
    "NextTokenLogprobs",
    "SamplingParams",
    "Session",
    "common_prefix",
    "fit_window",
    "require_context",
]


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


@dataclass(frozen=True)
class NextTokenLogprobs:
    """Log-probabilities of the next token of one context.

    Dense (``token_ids is None``): ``logprobs[i]`` is the log-probability of token id ``i``,
    normalised over the vocabulary. Sparse (a top-k set from an API): ``logprobs[j]`` belongs to
    ``token_ids[j]``; the set is not normalised (its mass is ≤ 1).
    """

    logprobs: npt.NDArray[np.float64]
    """Shape ``(vocab,)`` when dense, ``(k,)`` when sparse."""
    token_ids: npt.NDArray[np.int64] | None = None
    """``None`` when dense, else shape ``(k,)`` token ids of the top-k set."""

    @property
    def dense(self) -> bool:
        """True when this covers the whole vocabulary."""
        return self.token_ids is None

    def ids(self) -> npt.NDArray[np.int64]:
        """The token ids the entries belong to."""
        if self.token_ids is None:
            return np.arange(self.logprobs.shape[0], dtype=np.int64)
        return self.token_ids

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely ``(token_id, logprob)`` pairs, best first."""
        order = np.argsort(-self.logprobs, kind="stable")[:k]
        ids = self.ids()
        return [(int(ids[i]), float(self.logprobs[i])) for i in order]


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    """How a token is drawn from a distribution (after any guidance)."""

    temperature: float = 0.0
    """0 means greedy; otherwise > 0."""
    top_p: float = 1.0
    """Nucleus sampling mass in (0, 1]."""
    seed: int | None = None
    """Seed of the sampler's random generator; ``None`` draws a fresh one."""

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not (isinstance(t, int | float) and math.isfinite(t) and t >= 0):
            raise UserError(
                f"temperature must be 0 (greedy) or a positive number, got {t!r}: "
                "use 0 for greedy decoding or e.g. 0.8 for sampling"
            )
        p = self.top_p
        if isinstance(p, bool) or not (isinstance(p, int | float) and 0 < p <= 1):
            raise UserError(f"top_p must be in (0, 1], got {p!r}")

    @property
    def greedy(self) -> bool:
        """True for greedy decoding."""
        return self.temperature == 0


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
        params: SamplingParams = SamplingParams(),
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
        from beadline.agents.decoding.sampling import complete_by_tokens

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
