"""The sandbox container's command: the shared worker as PID 1, wiping scratch between requests.

Standard library only, and never imported by beadline itself: the docker backend bind-mounts
this file read-only at ``/opt/beadline/entry.py`` next to the worker folder
(``/opt/beadline/runtime``) and runs ``python3 -u /opt/beadline/entry.py [worker flags]``.

It runs :func:`runtime.worker.main` unchanged (signer, signed answers, children dropped to the
``--drop-uid`` the host chose for this container), with one addition a long-lived container
needs: after every request, before the answer is written, everything in the container's
writable places (``/tmp`` and ``/dev/shm``) except the worker's own empty scratch root is
removed, so nothing a program wrote outside its per-run directory reaches the next program;
what cannot be removed makes the answer ask for the container to be recycled. Processes that
outlived a run are already killed by the worker (it is PID 1 here, so every orphan is its child).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

WRITABLE = ("/tmp", "/dev/shm")
"""The container's only writable places (the root file system is read-only)."""

_WIPE_S = 2.0
"""Seconds the wipe after a request may take; past that the container asks to be recycled."""


def _import_runtime() -> Any:
    """The mounted ``runtime`` package (its folder's parent is on ``sys.path`` only briefly)."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, here)
    try:
        importlib.import_module("runtime.cleanup")
        return importlib.import_module("runtime.worker")
    finally:
        sys.path.remove(here)


def wipe(keep: str, remove_tree: Any) -> list[str]:
    """Empty :data:`WRITABLE`, keeping the directory ``keep`` itself (but not its content).

    Returns:
        The paths that could not be removed.
    """
    failed: list[str] = []
    for root in WRITABLE:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            path = os.path.join(root, name)
            done = remove_tree(path, keep_root=path == keep, deadline_s=_WIPE_S)
            if not done:
                failed.append(path)
    return failed


def main() -> int:
    """Import the mounted worker, hide its folder from programs, serve with wiping."""
    worker = _import_runtime()
    remove_tree = sys.modules["runtime.cleanup"].remove_tree

    class WipingWorker(worker.Worker):  # type: ignore[misc, name-defined]
        def setup(self) -> None:
            super().setup()
            self._wipe()

        def handle(self, line: bytes) -> Any:
            try:
                return super().handle(line)
            finally:
                self._wipe()

        def _wipe(self) -> None:
            failed = wipe(self.base_dir, remove_tree)
            if failed:
                self.recycle_reason = f"could not wipe {', '.join(failed[:3])}"

    return int(worker.main(worker_class=WipingWorker))


if __name__ == "__main__":
    raise SystemExit(main())
