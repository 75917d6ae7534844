"""benchmarks/overfit_audit.py: the guard's confusion matrix on the programs a run kept, read
back from a results file (the held-out verdict says which visible passes were overfit)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "overfit_audit.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overfit_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


audit_script = _load()


def _row(
    number: int, method: str, program: str, *, visible: bool, held_out: bool, **extra: Any
) -> dict[str, Any]:
    return {
        "key": f"mbpp/{number}|{method}|first",
        "task_id": f"mbpp/{number}",
        "dataset": "mbpp",
        "method": method,
        "guide_tests": "first",
        "program": program,
        "visible": {"passed": visible},
        "passed": held_out,
        "n_held_out_tests": 3,
        **extra,
    }


REMOVE_OCC = (
    "def remove_Occ(s, ch):\n"
    "    i = s.find(ch)\n"
    "    j = s.rfind(ch)\n"
    "    return s if i < 0 else s[:i] + s[i + 1 : j] + s[j + 1 :]\n"
)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    rows = [
        # copied: flagged, fails held out
        _row(
            16,
            "egcfg",
            'def text_lowercase_underscore(text):\n    return "Found a match!"\n',
            visible=True,
            held_out=False,
            guard_rejections=2,
        ),
        # correct, passes held out: must not be flagged
        _row(11, "egcfg", REMOVE_OCC, visible=True, held_out=True),
        # wrong but not a copy: the guard cannot see it
        _row(
            11,
            "sample-filter@wall",
            "def remove_Occ(s, ch):\n    return s.replace(ch, '')\n",
            visible=True,
            held_out=False,
        ),
        # refused in the run and recorded as the last program found: not kept, not in the matrix
        _row(
            19,
            "egcfg",
            "def test_duplicate(arraynums):\n    return False\n",
            visible=True,
            held_out=False,
            guard_rejections=1,
            status="unsolved",
            message="overfit guard: ignores_input, line 2: uses none of its parameters ...",
        ),
        # never passed the visible test: not in the matrix
        _row(
            16,
            "sample-filter@wall",
            "def text_lowercase_underscore(text):\n    return 1\n",
            visible=False,
            held_out=False,
        ),
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_matrix_counts_each_visible_pass_once(results: Path) -> None:
    counts, keys = audit_script.audit(audit_script.read_results([results]))
    assert counts["egcfg"] == {"caught": 1, "clean": 1, "refused in the run": 3}
    assert counts["sample-filter@wall"] == {"missed": 1}
    assert keys["caught"] == ["mbpp/16|egcfg|first"]
    assert keys["missed"] == ["mbpp/11|sample-filter@wall|first"]


def test_the_script_prints_the_table_and_the_programs_asked_for(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit_script.main([str(results), "--show", "caught"]) == 0
    out = capsys.readouterr().out
    assert "sample-filter@wall" in out and "false alarms" in out
    assert 'return "Found a match!"' in out


def test_a_missing_or_broken_results_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit_script.main([str(tmp_path / "none.jsonl")]) == 1
    assert "no results file" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(_row(11, "egcfg", REMOVE_OCC, visible=True, held_out=True))
    bad.write_text("{not json\n" + good + "\n", encoding="utf-8")
    assert audit_script.main([str(bad)]) == 1
    assert "bad.jsonl:1: not a result line" in capsys.readouterr().err


def test_on_known_correct_code_the_guard_raises_only_the_known_false_alarms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # MBPP's reference solutions (first assert / all asserts visible) and HumanEval's
    # canonical ones: the four alarms are month-name functions whose correct code is written
    # exactly as a branch on the test's input would be
    checked, alarms = audit_script.reference_alarms()
    assert checked == 2 * 974 + 164
    assert [a.split(":")[0] for a in alarms] == [
        "mbpp/336 (first)",
        "mbpp/191 (all)",
        "mbpp/336 (all)",
        "mbpp/866 (all)",
    ]
    assert audit_script.main(["--references"]) == 0
    assert "false alarms: 4" in capsys.readouterr().out
