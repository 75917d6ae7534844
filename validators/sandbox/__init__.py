"""Sandbox backends, one file per backend: ``local.py`` (a fork-server on this host) and
``docker.py`` (the same worker in a warm hardened container).

The worker both backends run is :mod:`beadline.validators.runtime.worker` (standard library
only); :func:`make_executor` picks and builds a backend.

Example:
    >>> from beadline.validators.sandbox import make_executor
    >>> with make_executor("local", workers=1) as executor:  # doctest: +SKIP
    ...     print(executor.name)
    local
"""

from __future__ import annotations

from beadline.validators.sandbox.factory import ExecutorKind, make_executor

__all__ = ["ExecutorKind", "make_executor"]
