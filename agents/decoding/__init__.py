"""Decoding: one program for a task, written line by line under execution guidance.

:func:`decode` (``dispatch.py``) runs the strategy ``settings.strategy`` names: ``cfg``, EG-CFG's
guided line loop (``cfg.py``), or ``beam`` / ``cfg+beam``, the execution-scored line beam
(``beam.py``). Neither strategy imports the other; the parts they share are small modules below
them:

- ``step.py``: one guidance step — sample candidates, make executable partial programs, run
  them, render the signal;
- ``tokens.py``: the guided token choice and guided lines;
- ``guidance.py``: the CFG arithmetic over log-probabilities;
- ``signal.py``: the dynamic-signal renderer;
- ``cache.py``: the execution cache (a program runs once per task);
- ``outcome.py``: the wall-clock budget and the final judging of a program (:class:`Decoded`).

``generate.py`` is guided generation with a fixed signal (``beadline generate``). Drawing a
token from a distribution is the model layer's (:mod:`beadline.agents.models.sampling`).
"""

from __future__ import annotations

from beadline.agents.decoding.cache import ExecutionCache
from beadline.agents.decoding.dispatch import decode
from beadline.agents.decoding.generate import GuidedGeneration, generate_guided
from beadline.agents.decoding.outcome import Decoded

__all__ = ["Decoded", "ExecutionCache", "GuidedGeneration", "decode", "generate_guided"]
