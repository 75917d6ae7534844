"""Hugging Face transformers backend (extra ``hf``): a local model directory or a GGUF file.

Install with ``pip install torch==2.13.0`` (the CPU wheel here) and then ``pip install
'beadline[hf]'``. Nothing is downloaded: loading is ``local_files_only``. A GGUF file is
de-quantised to ``dtype`` by transformers (needs ``gguf``); on CPU this backend is several times
slower than llama.cpp on the same file, and is meant for CUDA machines and for cross-checks.

Each session keeps its own KV cache (a ``DynamicCache``); replacing the context crops the cache
to the common prefix and evaluates only the new tokens. :meth:`TransformersModel.next_logprobs_batch`
evaluates several sessions **in one forward pass**: sessions whose pending suffixes have the same
length (the usual guided step: one new token in the plain and one in the signal context) are
stacked into a batch, their caches left-padded to a common length and masked, and the updated
caches split back afterwards. Sessions with other suffix lengths (a new signal of 1,000 tokens
beside a one-token plain step) are evaluated separately, since prefill gains nothing from
padding.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from beadline.agents.errors import BackendError, ModelNotFoundError, UserError
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

__all__ = ["TransformersModel", "TransformersSession"]

_INSTALL = "pip install torch==2.13.0 && pip install 'beadline[hf]'"


def _import() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BackendError(
            f"the transformers backend needs the `hf` extra ({exc.name} is missing): {_INSTALL}"
        ) from exc
    return torch, transformers


def _locate(name_or_path: str | Path, gguf_file: str | None) -> tuple[Path, str | None]:
    """``(directory, gguf file name or None)`` for a packaged name, a GGUF path or a directory."""
    text = str(name_or_path)
    if gguf_file is not None:
        directory = Path(text).expanduser()
        if not (directory / gguf_file).is_file():
            raise ModelNotFoundError(f"{gguf_file!r} is not a file in {text!r}: check the paths")
        return directory.resolve(), gguf_file
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{text!r} is not a transformers model directory (no config.json): pass a "
                "directory saved with save_pretrained, or a .gguf file"
            )
        return path.resolve(), None
    if text in PACKAGED_MODELS or path.suffix == ".gguf" or path.is_file():
        file = resolve_model_path(text)
        return file.parent, file.name
    raise ModelNotFoundError(
        f"model {text!r} is neither a packaged name ({', '.join(sorted(PACKAGED_MODELS))}), "
        "an existing .gguf file nor a local model directory (models are never downloaded)"
    )


class TransformersModel(Model):
    """A causal LM run by transformers on CPU or CUDA.

    Args:
        name_or_path: packaged model name, ``.gguf`` path, or a local model directory.
        gguf_file: with a directory in ``name_or_path``: the GGUF file inside it.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default CUDA when available.
        dtype: torch dtype name (``"float32"``, ``"bfloat16"``, ``"float16"``); default float32.
        n_ctx: context window; default the model's ``max_position_embeddings``.

    Raises:
        BackendError: torch/transformers missing (the message gives the install command), or
            the model cannot be loaded.
        ModelNotFoundError: the name or path does not resolve.
    """

    capabilities = Capabilities(full_vocabulary=True, logprobs=True, kv_cache=True)

    def __init__(
        self,
        name_or_path: str | Path = "smollm2-135m",
        *,
        gguf_file: str | None = None,
        device: str | None = None,
        dtype: str = "float32",
        n_ctx: int | None = None,
    ) -> None:
        directory, gguf = _locate(name_or_path, gguf_file)
        torch, transformers = _import()
        self._torch = torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"device {device!r} asked for, but torch sees no CUDA GPU: use 'cpu'")
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise UserError(f"unknown dtype {dtype!r}: use float32, bfloat16 or float16")
        kwargs: dict[str, Any] = {"local_files_only": True}
        if gguf is not None:
            kwargs["gguf_file"] = gguf
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), **kwargs)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                str(directory), dtype=torch_dtype, **kwargs
            )
        except ImportError as exc:
            raise BackendError(f"loading {name_or_path!r} needs {exc}: {_INSTALL}") from exc
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise BackendError(
                f"transformers could not load {name_or_path!r} ({type(exc).__name__}: "
                f"{str(exc)[:300]}): use the llama_cpp backend or another model"
            ) from exc
        self.model.to(device)
        self.model.eval()
        self.device = device
        self._name = Path(gguf).stem if gguf else directory.name
        config = self.model.config
        limit = int(getattr(config, "max_position_embeddings", 0) or 4096)
        if n_ctx is not None and (not isinstance(n_ctx, int) or n_ctx < 1):
            raise UserError(f"n_ctx must be a positive integer, got {n_ctx!r}")
        self._n_ctx = min(n_ctx, limit) if n_ctx else limit
        self._n_vocab = int(self.model.get_output_embeddings().weight.shape[0])
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self._eos = frozenset([eos] if isinstance(eos, int) else (eos or []))
        forward = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"
        self._anchor = self.tokenizer("\n", add_special_tokens=False).input_ids[-1:]
        self.capabilities = Capabilities(
            full_vocabulary=True,
            logprobs=True,
            kv_cache=True,
            chat_template=getattr(self.tokenizer, "chat_template", None) is not None,
        )
        self.forward_passes = 0
        """Forward passes run so far (a batched pass counts once)."""

    @property
    def name(self) -> str:
        return self._name

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def n_vocab(self) -> int:
        """Size of the output layer (length of a dense :class:`NextTokenLogprobs`)."""
        return self._n_vocab

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return self._eos

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        ids = [int(t) for t in self.tokenizer(text, add_special_tokens=False).input_ids]
        bos = self.tokenizer.bos_token_id
        if add_bos and bos is not None and getattr(self.tokenizer, "add_bos_token", False):
            ids = [int(bos), *ids]
        return ids

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Token ids to text, keeping a leading space (decoded after an anchor token)."""
        if not tokens:
            return ""
        decode = self.tokenizer.decode
        head = decode(self._anchor, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        text = decode(
            [*self._anchor, *tokens], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return str(text[len(head) :])

    def token_text(self, token: int) -> str:
        return str(self.tokenizer.convert_ids_to_tokens(int(token)))

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        if not self.capabilities.chat_template:
            raise NotImplementedError(f"model {self.name!r} has no chat template")
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return str(text)

    def new_session(self, tokens: Sequence[int] = ()) -> TransformersSession:
        return TransformersSession(self, tokens)

    def next_logprobs_batch(self, sessions: Sequence[Session]) -> list[NextTokenLogprobs]:
        """Next-token log-probs of several sessions of this model, in one forward pass where
        their pending suffixes have the same length (see the module docstring)."""
        mine = [s for s in sessions if isinstance(s, TransformersSession) and s._model is self]
        if len(mine) != len(sessions):
            raise UserError("next_logprobs_batch takes sessions of this model only")
        groups: dict[int, list[TransformersSession]] = {}
        for s in mine:
            if s._logprobs is None or s._done != s._tokens:
                groups.setdefault(s._prepare(), []).append(s)
        for group in groups.values():
            self._forward(group)
        return [s.next_logprobs() for s in mine]

    def close(self) -> None:
        self.model = None

    # -- internals -------------------------------------------------------------------------

    def _forward(self, group: list[TransformersSession]) -> None:
        """Evaluate the pending suffixes (all of one length) of ``group`` in one pass."""
        torch = self._torch
        n_new = len(group[0]._tokens) - len(group[0]._done)
        past = [len(s._done) for s in group]
        width = max(past)
        ids = torch.tensor([s._tokens[len(s._done) :] for s in group], device=self.device)
        mask = torch.zeros((len(group), width + n_new), dtype=torch.long, device=self.device)
        positions = torch.empty((len(group), n_new), dtype=torch.long, device=self.device)
        for row, n in enumerate(past):
            mask[row, width - n :] = 1
            positions[row] = torch.arange(n, n + n_new, device=self.device)
        cache = self._stack_caches(group, width)
        kwargs: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": mask,
            "position_ids": positions,
            "use_cache": True,
            "logits_to_keep": 1,
        }
        if cache is not None:
            kwargs[self._cache_arg] = cache
        with torch.inference_mode():
            out = self.model(**kwargs)
        self.forward_passes += 1
        logits = out.logits[:, -1, :].to(torch.float64).cpu().numpy()
        new_cache = getattr(out, self._cache_arg, None)
        if new_cache is None:
            new_cache = out.past_key_values
        for row, s in enumerate(group):
            layers = []
            for layer, (k, v) in enumerate(_layers(new_cache)):
                k_new, v_new = k[row : row + 1, :, -n_new:, :], v[row : row + 1, :, -n_new:, :]
                if s._kv is not None and past[row] > 0:
                    k_old, v_old = s._kv[layer]
                    k_new = torch.cat([k_old[:, :, : past[row], :], k_new], dim=2)
                    v_new = torch.cat([v_old[:, :, : past[row], :], v_new], dim=2)
                layers.append((k_new, v_new))
            s._kv = layers
            s._done = list(s._tokens)
            s._n_evaluated += n_new
            row_logits = logits[row]
            if not np.isfinite(row_logits).all():
                raise BackendError(f"model {self.name!r} produced non-finite logits")
            s._logprobs = log_softmax(row_logits)

    def _stack_caches(self, group: list[TransformersSession], width: int) -> Any:
        if width == 0:
            return None
        torch = self._torch
        from transformers import DynamicCache

        n_layers = next(len(s._kv) for s in group if s._kv is not None)
        stacked = []
        for layer in range(n_layers):
            keys, values = [], []
            for s in group:
                n = len(s._done)
                if s._kv is None or n == 0:
                    ref_k, ref_v = next(x._kv for x in group if x._kv is not None)[layer]
                    shape = (1, ref_k.shape[1], width, ref_k.shape[3])
                    keys.append(ref_k.new_zeros(shape))
                    values.append(ref_v.new_zeros(shape))
                    continue
                k, v = s._kv[layer]
                k, v = k[:, :, :n, :], v[:, :, :n, :]
                if n < width:
                    pad = (1, k.shape[1], width - n, k.shape[3])
                    k = torch.cat([k.new_zeros(pad), k], dim=2)
                    v = torch.cat([v.new_zeros(pad), v], dim=2)
                keys.append(k)
                values.append(v)
            stacked.append((torch.cat(keys, dim=0), torch.cat(values, dim=0)))
        return DynamicCache(stacked)


def _layers(cache: Any) -> list[tuple[Any, Any]]:
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return [(k, v) for k, v, *_ in cache]  # pragma: no cover - transformers 4.x legacy tuples


class TransformersSession(Session):
    """One context with its own KV cache on a :class:`TransformersModel`."""

    def __init__(self, model: TransformersModel, tokens: Sequence[int] = ()) -> None:
        self._model = model
        self._tokens: list[int] = []
        self._done: list[int] = []
        """Tokens whose keys/values are in ``_kv``."""
        self._kv: list[tuple[Any, Any]] | None = None
        self._logprobs: npt.NDArray[np.float64] | None = None
        self._n_evaluated = 0
        self.set_tokens(tokens)

    @property
    def tokens(self) -> Sequence[int]:
        return tuple(self._tokens)

    def set_tokens(self, tokens: Sequence[int]) -> None:
        new = fit_window(tokens, self._model)
        bad = [t for t in new if not 0 <= t < self._model.n_vocab]
        if bad:
            raise UserError(f"token ids {bad[:5]} are outside the vocabulary")
        self._tokens = new

    def _prepare(self) -> int:
        """Drop the cache past the common prefix; return how many tokens are pending."""
        require_context(self._tokens)
        keep = min(common_prefix(self._done, self._tokens), len(self._tokens) - 1)
        if keep < len(self._done):
            self._done = self._done[:keep]
            self._logprobs = None
            if keep == 0:
                self._kv = None
        return len(self._tokens) - len(self._done)

    def next_logprobs(self) -> NextTokenLogprobs:
        if self._model.model is None:
            raise UserError(f"model {self._model.name!r} was closed: load it again")
        if self._logprobs is None or self._done != self._tokens:
            self._prepare()
            self._model._forward([self])
        if self._logprobs is None:  # pragma: no cover - _forward always sets it
            raise BackendError("the forward pass left no logits")
        return NextTokenLogprobs(self._logprobs.copy())

    @property
    def n_evaluated(self) -> int:
        return self._n_evaluated

    def close(self) -> None:
        self._kv = None
        self._done = []
        self._logprobs = None
