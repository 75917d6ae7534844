"""Decoding: one program for a task, written line by line under execution guidance.

:func:`decode` runs the strategy ``settings.strategy`` names: ``cfg`` (the EG-CFG line loop in
``cfg.py``) or ``beam`` / ``cfg+beam`` (the execution-scored beam in ``beam.py``). The parts they
share are small modules of their own: the guidance step (``step.py``: sample candidates, make
executable partial programs, run them, render the signal), the CFG arithmetic
(``guidance.py``), the dynamic signal (``signal.py``), guided generation with a fixed signal
(``sampling.py``).
"""

from __future__ import annotations

from beadline.agents.decoding.cfg import Decoded, ExecutionCache, decode

__all__ = ["Decoded", "ExecutionCache", "decode"]
