"""A bead run through the service that stops in the middle of a stage, to be killed (kill -9).

Usage: ``python killed_run.py OPTIONS_JSON MARKER``

Runs :func:`beadline.workflows.bead.runs.start_run` with the given options (a SQLite path or a
PostgreSQL DSN as ``db``), in-process code execution (tests/workflows/conftest.py) and the
scripted generator named by the options, except that body part 2 writes MARKER and then sleeps:
the test kills this process there and resumes the thread in another process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from beadline.workflows.bead import runtime
from beadline.workflows.bead.generation import GeneratedStage, StageRequest
from beadline.workflows.bead.runs import BeadRunOptions, start_run
from tests.workflows.conftest import InProcessExecutor

options = BeadRunOptions.model_validate_json(sys.argv[1])
marker = Path(sys.argv[2])
real_open = runtime.open_generator


class _Stalling:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def generate(self, request: StageRequest) -> GeneratedStage:
        if request.stage == "body" and request.part == 1:
            marker.write_text("in flight")
            time.sleep(600)  # killed here
        stage: GeneratedStage = self.inner.generate(request)
        return stage


def _open(*args: Any, **kwargs: Any) -> Any:
    return _Stalling(real_open(*args, **kwargs))


runtime.make_sandbox = lambda kind, **_: InProcessExecutor()  # type: ignore[assignment]
runtime.open_generator = _open  # type: ignore[assignment]
start_run(options, index=Path(sys.argv[3]) if len(sys.argv) > 3 else None)
