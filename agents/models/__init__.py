"""Model backends: one file per backend, the interface in ``base.py``.

``sampling.py`` holds the next-token distribution and drawing a token from it (below the
interface), ``loader.py`` picks a backend by name (:func:`load_model`), ``registry.py`` knows the
packaged models. Backends: ``llama_cpp.py`` (default), ``transformers.py``, ``openai.py``.
"""

from __future__ import annotations

from beadline.agents.models.loader import DEFAULT_BACKEND, list_backends, load_model

__all__ = ["DEFAULT_BACKEND", "list_backends", "load_model"]
