"""beadline.agents: the EG-CFG agent — model backends, prompts, decoding, search.

Folders: ``models/`` (the model interface and one file per backend), ``prompts/`` (the prompt
builder and its templates), ``decoding/`` (one program by guided decoding: the ``cfg`` loop, the
scored beam and their parts). At the top: ``search.py`` (:func:`solve`: a task over a grid of
configurations), ``settings.py``, ``task.py``, ``record.py``, ``errors.py``, ``testing.py``
(fake models for tests) and ``_code.py`` (where the target function is in code being written,
shared by prompts and decoding).
"""

from __future__ import annotations

from beadline.agents.search import solve

__all__ = ["solve"]
