"""Fake models for tests of everything above the model layer.

* :class:`FunctionModel` computes each next-token distribution with a plain function of the
  context's text: a test says exactly what the "model" prefers in each situation.
* :class:`ScriptedModel` replays a queue of fixed per-step distributions and records every call.

Both tokenize character by character over a small vocabulary (every printable ASCII
character, newline, tab, plus any extra multi-character pieces, matched longest first), so
tokenization round-trips exactly. Token 0 is ``<eos>``.
"""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from beadline.agents.errors import BackendError, UserError
from beadline.agents.models.base import (
    Capabilities,
    Model,
    NextTokenLogprobs,
    Session,
    common_prefix,
    fit_window,
    require_context,
)
from beadline.agents.models.sampling import log_softmax

__all__ = ["EOS", "FakeModel", "FunctionModel", "ScriptedModel", "ScriptedSession"]

EOS = "<eos>"
"""The text of token 0, the end-of-sequence token of the fakes."""

NextFn = Callable[[str], Mapping[str, float]]
"""A fake model's brain: context text → ``{piece: logit}`` (missing pieces get −inf)."""


class FakeModel(Model):
    """Shared tokenizer and sessions of the fakes; subclasses say what comes next."""

    __test__: ClassVar[bool] = False
    capabilities = Capabilities(full_vocabulary=True, chat_template=True)

    def __init__(
        self, *, extra_pieces: Iterable[str] = (), n_ctx: int = 65_536, name: str = "fake"
    ) -> None:
        base = [EOS, "\n", "\t", *sorted(set(string.printable) - set("\n\t\r\x0b\x0c"))]
        pieces = list(dict.fromkeys([*base, *extra_pieces]))
        self.vocab: list[str] = pieces
        self._index = {p: i for i, p in enumerate(pieces)}
        self._by_length = sorted((p for p in pieces if p != EOS), key=len, reverse=True)
        self._n_ctx = n_ctx
        self._name = name
        self.history: list[str] = []
        """The context text of every ``next_logprobs`` call, in order."""

    @property
    def name(self) -> str:
        return self._name

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({0})

    def token_id(self, piece: str) -> int:
        """The id of a vocabulary piece."""
        return self._index[piece]

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        out: list[int] = []
        i = 0
        while i < len(text):
            for piece in self._by_length:
                if text.startswith(piece, i):
                    out.append(self._index[piece])
                    i += len(piece)
                    break
            else:
                raise UserError(
                    f"the fake model cannot tokenize {text[i]!r}: add it as an extra piece"
                )
        return out

    def detokenize(self, tokens: Sequence[int]) -> str:
        return "".join("" if t == 0 else self.vocab[t] for t in tokens)

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        text = "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages)
        return text + ("<assistant>\n" if add_generation_prompt else "")

    def new_session(self, tokens: Sequence[int] = ()) -> ScriptedSession:
        return ScriptedSession(self, tokens)

    def distribution(self, context: str) -> np.ndarray:
        """Dense log-probabilities after ``context``."""
        raise NotImplementedError  # pragma: no cover - subclasses implement


class FunctionModel(FakeModel):
    """A fake whose next-token logits come from ``fn(context_text)``.

    Example:
        >>> m = FunctionModel(lambda ctx: {"a": 0.0})
        >>> m.detokenize([m.new_session(m.tokenize("x")).next_logprobs().top(1)[0][0]])
        'a'
    """

    def __init__(self, fn: NextFn, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fn = fn

    def distribution(self, context: str) -> np.ndarray:
        logits = np.full(len(self.vocab), -np.inf)
        for piece, value in self.fn(context).items():
            if piece not in self._index:
                raise UserError(
                    f"FunctionModel: {piece!r} is not in the vocabulary; pass it in extra_pieces"
                )
            logits[self._index[piece]] = value
        return log_softmax(logits)


class ScriptedModel(FakeModel):
    """A fake that replays a queue of next-token distributions, one per ``next_logprobs`` call.

    Each queued item is ``{piece: logit}``; the queue running dry raises :class:`BackendError`.
    """

    def __init__(self, steps: Iterable[Mapping[str, float]] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.queue: deque[Mapping[str, float]] = deque(steps)

    def enqueue(self, *steps: Mapping[str, float]) -> None:
        """Add steps to the end of the queue."""
        self.queue.extend(steps)

    def distribution(self, context: str) -> np.ndarray:
        if not self.queue:
            raise BackendError("ScriptedModel ran out of scripted steps")
        logits = np.full(len(self.vocab), -np.inf)
        for piece, value in self.queue.popleft().items():
            logits[self._index[piece]] = value
        return log_softmax(logits)


@dataclass
class ScriptedSession(Session):
    """A session of a fake model; counts the tokens it "evaluates" like a KV-cached backend."""

    model: FakeModel
    _initial: Sequence[int] = ()
    _tokens: list[int] = field(default_factory=list)
    _evaluated: int = 0
    _cached: int = 0

    def __post_init__(self) -> None:
        self.set_tokens(self._initial)

    @property
    def tokens(self) -> Sequence[int]:
        return tuple(self._tokens)

    def set_tokens(self, tokens: Sequence[int]) -> None:
        new = fit_window(tokens, self.model)
        self._cached = common_prefix(self._tokens[: self._cached], new)
        self._tokens = new

    def next_logprobs(self) -> NextTokenLogprobs:
        require_context(self._tokens)
        self._evaluated += len(self._tokens) - self._cached
        self._cached = len(self._tokens)
        text = self.model.detokenize(self._tokens)
        self.model.history.append(text)
        return NextTokenLogprobs(self.model.distribution(text))

    @property
    def n_evaluated(self) -> int:
        return self._evaluated
