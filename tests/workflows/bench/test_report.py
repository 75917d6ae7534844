"""Benchmark reports against a hand-made results file: pass@1, RSR, medians, chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beadline.workflows.bench.report import render_markdown, rsr, summarize, write_report
from beadline.workflows.errors import UserError


def line(
    task: int,
    method: str,
    guide: str,
    passed: bool,
    *,
    seconds: float,
    tokens: int,
    visible: bool | None = None,
    status: str | None = None,
) -> dict:
    shown = passed if visible is None else visible
    return {
        "schema": 1,
        "key": f"mbpp/{task}|{method}|{guide}",
        "task_id": f"mbpp/{task}",
        "dataset": "mbpp",
        "method": method,
        "guide_tests": guide,
        "status": status or ("solved" if shown else "unsolved"),
        "passed": passed,
        "visible": {"passed": shown, "n_passed": 3 if shown else 0, "n_tests": 3, "tests": []},
        "cost": {
            "tokens_generated": tokens,
            "tokens_evaluated": 2 * tokens,
            "programs_executed": 0,
            "seconds": seconds,
        },
        "wall_s": seconds,
        "model": "smollm2-135m",
    }


def hand_made() -> list[dict]:
    rows = []
    # guide-tests all: greedy passes 1 of 4 (25 %), egcfg 3 of 4 (75 %) -> RSR 66.7 %
    for t, g_ok, e_ok in [
        (11, True, True),
        (12, False, True),
        (13, False, True),
        (14, False, False),
    ]:
        rows.append(line(t, "greedy", "all", g_ok, seconds=1.0 + t - 11, tokens=50))
        rows.append(line(t, "egcfg", "all", e_ok, seconds=10.0 * (t - 10), tokens=400 + t))
    # sample-filter 2 of 4 (50 %) -> RSR 33.3 %; first attempt at 14 was an error, then rerun
    for t, ok in [(11, True), (12, True), (13, False), (14, False)]:
        rows.append(line(t, "sample-filter", "all", ok, seconds=3.0, tokens=420))
    rows.append(line(14, "egcfg", "all", False, seconds=99.0, tokens=1, status="error"))
    rows.append(line(14, "egcfg", "all", False, seconds=40.0, tokens=414))  # supersedes
    # guide-tests first: greedy 0 of 4; egcfg fits the shown assert 4 times but passes 2 of 4
    for t in (11, 12, 13, 14):
        rows.append(line(t, "greedy", "first", False, seconds=1.0, tokens=50))
        rows.append(line(t, "egcfg", "first", t <= 12, visible=True, seconds=20.0, tokens=300))
    # egcfg finished task 15, greedy did not: left out of the comparison
    rows.append(line(15, "egcfg", "first", True, seconds=5.0, tokens=300))
    return rows


@pytest.mark.parametrize(
    ("acc", "base", "expected"),
    [
        (75.0, 25.0, 200 / 3),
        (83.2, 49.4, 100 * 33.8 / 50.6),
        (25.0, 25.0, 0.0),
        (10.0, 20.0, -12.5),
    ],
)
def test_rsr_closed_form(acc: float, base: float, expected: float) -> None:
    assert rsr(acc, base) == pytest.approx(expected)


def test_rsr_undefined_when_greedy_is_perfect() -> None:
    assert rsr(100.0, 100.0) is None


def test_summarize_numbers() -> None:
    tables = {t.guide_tests: t for t in summarize(hand_made())}
    all_, first = tables["all"], tables["first"]
    rows = {r.method: r for r in all_.rows}
    assert [r.method for r in all_.rows] == ["greedy", "sample-filter", "egcfg"]
    assert all_.task_ids == ("mbpp/11", "mbpp/12", "mbpp/13", "mbpp/14")
    assert (rows["greedy"].passed, rows["greedy"].n, rows["greedy"].pass_at_1) == (1, 4, 25.0)
    assert rows["greedy"].rsr is None
    assert rows["egcfg"].pass_at_1 == 75.0
    assert rows["egcfg"].rsr == pytest.approx(200 / 3)
    assert rows["sample-filter"].rsr == pytest.approx(100 / 3)
    # the superseding line counts, not the error
    assert rows["egcfg"].statuses == {"solved": 3, "unsolved": 1}
    assert rows["egcfg"].median_seconds == 25.0  # 10, 20, 30, 40
    assert rows["greedy"].median_seconds == 2.5  # 1, 2, 3, 4
    assert rows["egcfg"].median_tokens_generated == 412.5  # 411..414
    assert rows["egcfg"].median_tokens_evaluated == 825.0
    first_rows = {r.method: r for r in first.rows}
    assert first.left_out == ("mbpp/15",)
    assert first_rows["egcfg"].n == 4
    assert first_rows["egcfg"].pass_at_1 == 50.0
    assert first_rows["egcfg"].visible_pct == 100.0
    assert first_rows["egcfg"].rsr == pytest.approx(50.0)


def test_write_report_markdown_and_png(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(x) + "\n" for x in hand_made()) + '{"key": "torn')
    report = write_report([results], tmp_path / "out")
    text = report.markdown.read_text()
    assert "## mbpp — model smollm2-135m" in text
    assert "| method | pass@1 `all` | RSR `all` | pass@1 `first` | RSR `first` |" in text
    assert "| greedy | 25.0 (1/4) | — | 0.0 (0/4) | — |" in text
    assert "| sample-filter | 33.3" not in text
    assert "| sample-filter | 50.0 (2/4) | 33.3 | — | — |" in text
    assert "| egcfg | 75.0 (3/4) | 66.7 | 50.0 (2/4) | 50.0 |" in text
    assert (
        "| all | egcfg | 4 | 75.0 | 75.0 (3) | 0 | 0 | 66.7 | 25.0 | 412 | 825 "
        "| solved 3, unsolved 1 |" in text
    )
    assert "left out (not finished by every method): mbpp/15" in text
    assert "![pass@1 on mbpp](pass_at_1_mbpp.png)" in text
    (chart,) = report.charts
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 5_000


def test_report_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no results files given"):
        write_report([], tmp_path)
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no result lines"):
        write_report([empty], tmp_path / "o")


def test_overfit_guard_and_paired_columns_for_two_sample_filter_variants() -> None:
    rows = []
    # egcfg: visible passes on all 4, held-out on 2 (overfit 2); one guard rejection on 11
    for t, ok in [(11, True), (12, True), (13, False), (14, False)]:
        x = line(t, "egcfg", "first", ok, seconds=20.0, tokens=300, visible=True)
        x["guard_rejections"] = 1 if t == 11 else 0
        rows.append(x)
    # wall-matched: passes 12 and 13; token-matched: passes 13 only
    for t, ok in [(11, False), (12, True), (13, True), (14, False)]:
        rows.append(line(t, "sample-filter@wall", "first", ok, seconds=19.0, tokens=500))
    for t, ok in [(11, False), (12, False), (13, True), (14, False)]:
        rows.append(line(t, "sample-filter@tokens", "first", ok, seconds=6.0, tokens=300))
    (table,) = summarize(rows)
    by = {r.method: r for r in table.rows}
    assert [r.method for r in table.rows] == [
        "sample-filter@tokens",
        "sample-filter@wall",
        "egcfg",
    ]
    assert (by["egcfg"].visible_passed, by["egcfg"].passed, by["egcfg"].overfit) == (4, 2, 2)
    assert by["egcfg"].guard_rejections == 1 and by["sample-filter@wall"].overfit == 0
    assert by["sample-filter@wall"].median_seconds == 19.0
    paired = {p.method: (p.wins, p.losses, p.ties) for p in table.paired}
    # egcfg passes 11, 12; wall passes 12, 13; tokens passes 13
    assert paired == {"sample-filter@wall": (1, 1, 2), "sample-filter@tokens": (2, 1, 1)}
    text = render_markdown([table])
    assert "| first | egcfg | 4 | 50.0 | 100.0 (4) | 2 | 1 |" in text
    assert "| first | sample-filter@wall | 1 | 1 | 2 |" in text
    assert "| first | sample-filter@tokens | 2 | 1 | 1 |" in text


def test_no_paired_table_without_egcfg() -> None:
    rows = [line(11, "greedy", "all", True, seconds=1.0, tokens=5)]
    rows.append(line(11, "sample-filter", "all", False, seconds=1.0, tokens=5))
    (table,) = summarize(rows)
    assert table.paired == () and "task by task" not in render_markdown([table])


def _tried(*attempts: tuple[str, float, str, int]) -> dict:
    return {
        "solved_by": {
            "tried": [
                {"attempt": i, "label": label, "seconds": s, "status": status, "overfit": ["x"] * r}
                for i, (label, s, status, r) in enumerate(attempts)
            ]
        }
    }


def test_egcfg_grid_entries_show_time_share_and_what_each_entry_found() -> None:
    plain, guided = "cfg γ=0", "cfg γ=1"
    rows = []
    # 11: γ=0 solves, passes held out; 12: γ=0 fails, γ=1 solves but is overfit (after one
    # guard refusal); 13: both fail; a greedy line is not egcfg's and adds nothing
    configs = {
        11: (True, _tried((plain, 1.0, "solved", 0))),
        12: (False, _tried((plain, 1.0, "unsolved", 0), (guided, 9.0, "solved", 1))),
        13: (False, _tried((plain, 2.0, "unsolved", 0), (guided, 7.0, "budget", 0))),
    }
    for t, (ok, config) in configs.items():
        x = line(t, "egcfg", "first", ok, seconds=10.0, tokens=300, visible=t != 13)
        x["config"] = config
        rows.append(x)
        rows.append(line(t, "greedy", "first", False, seconds=1.0, tokens=20))
    (table,) = summarize(rows)
    first, second = table.grid
    assert (first.attempt, first.label, first.runs, first.solved, first.held_out) == (
        0,
        plain,
        3,
        1,
        1,
    )
    assert (second.runs, second.solved, second.held_out, second.refused) == (2, 1, 0, 1)
    assert first.share == pytest.approx(20.0) and second.share == pytest.approx(80.0)
    text = render_markdown([table])
    assert "| first | 0 | cfg γ=0 | 3 | 20 % | 1 | 1 | 0 |" in text
    assert "| first | 1 | cfg γ=1 | 2 | 80 % | 1 | 0 | 1 |" in text


def test_no_grid_table_without_attempt_summaries() -> None:
    rows = [line(11, "egcfg", "all", True, seconds=1.0, tokens=5)]
    (table,) = summarize(rows)
    assert table.grid == () and "grid entry by entry" not in render_markdown([table])
