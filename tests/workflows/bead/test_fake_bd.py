"""The stand-in ``bd`` (tests/_fake_bd.py) answers the recorded scenario exactly as recorded.

The bd loop's tests run beadline against that stand-in (no real bd installs here), so this
replays tests/data/bd/scenario.json — from the state after the four ``create`` steps — and
requires the recorded stdout (byte for byte), stderr and exit status at every step, and the
recorded ``.beads/issues.jsonl`` at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests._fake_bd import seed_recorded

ROOT = Path(__file__).resolve().parents[3]
BD = ROOT / "tests" / "data" / "bd"
FAKE = ROOT / "tests" / "_fake_bd.py"

# The clock of each step that writes (the minutes the recorded outputs carry).
_MINUTE = {9: 5, 12: 6, 13: 7, 14: 8, 16: 9}


def test_the_fake_bd_replays_the_recorded_scenario(tmp_path: Path) -> None:
    seed_recorded(tmp_path)
    steps = json.loads((BD / "scenario.json").read_text(encoding="utf-8"))
    assert [s["argv"][1] for s in steps[:4]] == ["create"] * 4
    for number, step in enumerate(steps[4:], start=4):
        env = {k: v for k, v in os.environ.items() if k not in ("BEADS_ACTOR", "BD_ACTOR")}
        env.update(step["env"])
        env["BD_FAKE_NOW"] = f"2026-12-03T07:{_MINUTE.get(number, 59):02d}:00Z"
        done = subprocess.run(
            [sys.executable, str(FAKE), *step["argv"][1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        where = f"step {number}: {' '.join(step['argv'][:3])}"
        assert done.returncode == step["exit"], f"{where}: {done.stderr}"
        assert done.stderr == step["stderr"], where
        expected = (BD / step["stdout"]).read_text(encoding="utf-8") if step["stdout"] else ""
        assert done.stdout == expected, where
    export = (tmp_path / ".beads" / "issues.jsonl").read_text(encoding="utf-8")
    assert export == (BD / "issues.jsonl").read_text(encoding="utf-8")
