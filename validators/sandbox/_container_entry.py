"""The sandbox container's command: the shared worker as PID 1, wiping scratch between requests.

Standard library only, and never imported by beadline itself: the docker backend bind-mounts
this file read-only at ``/opt/beadline/entry.py`` next to the worker folder
(``/opt/beadline/runtime``) and runs ``python3 -u /opt/beadline/entry.py [worker flags]``.

It runs :mod:`runtime.worker` unchanged, with one addition a long-lived container needs: after
every request, before the answer is written, everything in the container's writable places
(``/tmp`` and ``/dev/shm``) except the worker's own empty scratch root is removed, so nothing a
program wrote outside its per-run directory reaches the next program. Processes that outlived a
run are already killed by the worker (it is PID 1 here, so every orphan is its child).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import sys
from typing import Any

WRITABLE = ("/tmp", "/dev/shm")
"""The container's only writable places (the root file system is read-only)."""


def _remove(path: str) -> None:
    def fix(func: Any, target: str, _info: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
        with contextlib.suppress(OSError):
            func(target)

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=fix)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def wipe(keep: str) -> None:
    """Empty :data:`WRITABLE`, keeping the directory ``keep`` itself (but not its content)."""
    for root in WRITABLE:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            path = os.path.join(root, name)
            if path != keep:
                _remove(path)
                continue
            with contextlib.suppress(OSError):
                for inner in os.listdir(keep):
                    _remove(os.path.join(keep, inner))


def main() -> int:
    """Import the mounted worker, hide its folder from programs, serve with wiping."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, here)
    try:
        worker = importlib.import_module("runtime.worker")
    finally:
        sys.path.remove(here)

    class WipingWorker(worker.Worker):  # type: ignore[misc, name-defined]
        def handle(self, line: bytes) -> Any:
            try:
                return super().handle(line)
            finally:
                wipe(self.base_dir)

    options = worker.parse_args(sys.argv[1:])
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"  # reprs of sets must not change run to run
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout = sys.stderr  # the protocol uses fds 0/1 directly
    server = WipingWorker(options)
    try:
        server.setup()
        wipe(server.base_dir)
        server.serve()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
