"""The code that runs *inside* the sandbox: a warm fork-server worker, its tracer and harnesses.

Everything in this folder is standard-library only and runs under any CPython >= 3.11 without
beadline installed: the docker backend bind-mounts the folder at ``/opt/beadline/runtime`` and
runs ``python3 -u /opt/beadline/runtime/worker.py``; the local backend runs the same file with
the host's Python. Modules here import each other only relatively. The line protocol is
documented in :mod:`beadline.validators.runtime.worker`.
"""

from __future__ import annotations

__all__: list[str] = []
