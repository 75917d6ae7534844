"""Model backends: one file per backend, the interface in ``base.py``.

``sampling.py`` holds the next-token distribution and drawing a token from it (below the
interface), ``loader.py`` picks a backend by name (:func:`load_model`), ``registry.py`` knows the
packaged models, ``choice.py`` is the one way entry points pick a model (:class:`ModelChoice`:
model, backend, server URL, the key's variable). Backends: ``llama_cpp.py`` (default),
``transformers.py``, ``openai.py``.
"""

from __future__ import annotations

from beadline.agents.models.choice import BACKEND_NAMES, ModelChoice, model_choice
from beadline.agents.models.loader import DEFAULT_BACKEND, list_backends, load_model

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_BACKEND",
    "ModelChoice",
    "list_backends",
    "load_model",
    "model_choice",
]
