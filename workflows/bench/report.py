"""Benchmark reports: pass@1 per method and guide-tests setting, RSR, cost, and a bar chart.

Numbers, from the results lines of :mod:`beadline.workflows.bench.runner` (the last line of each key):

- **pass@1** (%): tasks whose judged verdict passed (held-out tests when the task has any,
  else the visible ones) over the tasks compared. Each (dataset, guide-tests) table compares
  methods on the *same* tasks: those every method of that setting has finished; others are
  listed as left out.
- **visible** (%): the final program passed the tests the method was guided by. A gap between
  visible and pass@1 is fitting to the shown tests.
- **RSR** (relative success rate, %) against greedy on the same tasks:
  ``100 · (acc − acc_greedy) / (100 − acc_greedy)``; undefined when greedy solved everything.
- **median s** and **median tokens** per task: wall seconds per run and tokens generated /
  evaluated, from each line's cost.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beadline.workflows.bench.grid_entries import GridEntry, grid_entries
from beadline.workflows.bench.runner import METHODS, base_method, read_results
from beadline.workflows.errors import UserError

__all__ = [
    "GroupStats",
    "Report",
    "SettingTable",
    "latest_lines",
    "render_markdown",
    "rsr",
    "summarize",
    "write_bar_chart",
    "write_report",
]

BASELINE = "greedy"
"""The method RSR is measured against."""


def rsr(acc: float, acc_baseline: float) -> float | None:
    """Relative success rate in percent; ``None`` when the baseline is already at 100 %."""
    if acc_baseline >= 100.0:
        return None
    return 100.0 * (acc - acc_baseline) / (100.0 - acc_baseline)


@dataclass(frozen=True, kw_only=True)
class GroupStats:
    """One method under one (dataset, guide-tests) setting, over the compared tasks."""

    method: str
    """Method name."""
    n: int
    """Tasks compared."""
    passed: int
    """Tasks whose judged verdict passed."""
    visible_passed: int
    """Tasks whose final program passed its visible (guiding) tests."""
    pass_at_1: float
    """``100 · passed / n``."""
    visible_pct: float
    """``100 · visible_passed / n``."""
    rsr: float | None
    """RSR against greedy on the same tasks (``None`` without a greedy run or when undefined)."""
    median_seconds: float
    """Median wall seconds per task."""
    median_tokens_generated: float
    """Median tokens generated per task."""
    median_tokens_evaluated: float
    """Median tokens evaluated per task."""
    statuses: Mapping[str, int]
    """How runs ended (``solved``, ``unsolved``, ``error`` …) → count."""
    overfit: int = 0
    """Tasks whose final program passed the visible tests but not the held-out ones (the
    overfit count: visible passes minus held-out passes, task by task)."""
    guard_rejections: int = 0
    """Programs the overfit guard refused (they passed the visible tests by copying them)."""


@dataclass(frozen=True, kw_only=True)
class Paired:
    """EG-CFG against another method, task by task, on the held-out verdict."""

    method: str
    """The other method (a sample-filter variant)."""
    wins: int
    """Tasks egcfg passes and the other does not."""
    losses: int
    """Tasks the other passes and egcfg does not."""
    ties: int
    """Tasks both pass or both fail."""


@dataclass(frozen=True, kw_only=True)
class SettingTable:
    """All methods of one (dataset, guide-tests) setting on a common task set."""

    dataset: str
    """``mbpp`` or ``humaneval``."""
    guide_tests: str
    """``all`` or ``first``."""
    task_ids: tuple[str, ...]
    """The tasks compared (finished by every method of this setting)."""
    left_out: tuple[str, ...]
    """Tasks some method has not finished yet."""
    rows: tuple[GroupStats, ...]
    """One row per method, in :data:`~beadline.workflows.bench.runner.METHODS` order."""
    models: tuple[str, ...]
    """Models named in the lines."""
    paired: tuple[Paired, ...] = ()
    """egcfg's per-task wins/losses against each sample-filter variant."""
    grid: tuple[GridEntry, ...] = ()
    """egcfg's grid entry by entry on these tasks (see :mod:`.grid_entries`)."""


@dataclass(frozen=True, kw_only=True)
class Report:
    """The files :func:`write_report` wrote."""

    markdown: Path
    """The Markdown report."""
    charts: tuple[Path, ...]
    """One bar chart PNG per dataset."""
    tables: tuple[SettingTable, ...]
    """The numbers."""


def latest_lines(lines: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The last line of every key (a rerun of a key supersedes the earlier line)."""
    by_key: dict[str, Mapping[str, Any]] = {}
    for line in lines:
        by_key[str(line["key"])] = line
    return list(by_key.values())


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _method_order(name: str) -> tuple[int, str]:
    base = base_method(name)
    return (METHODS.index(base) if base in METHODS else len(METHODS), name)


def _task_order(task_id: str) -> tuple[str, int, str]:
    head, _, tail = task_id.rpartition("/")
    return (head, int(tail), "") if tail.isdigit() else (head, -1, task_id)


def _visible_ok(line: Mapping[str, Any]) -> bool:
    visible = line.get("visible")
    return bool(visible and visible.get("passed"))


def _stats(method: str, lines: Sequence[Mapping[str, Any]], baseline: float | None) -> GroupStats:
    n = len(lines)
    passed = sum(bool(x.get("passed")) for x in lines)
    visible = sum(_visible_ok(x) for x in lines)
    acc = 100.0 * passed / n if n else 0.0
    statuses: dict[str, int] = {}
    for x in lines:
        statuses[str(x.get("status"))] = statuses.get(str(x.get("status")), 0) + 1
    return GroupStats(
        method=method,
        n=n,
        passed=passed,
        visible_passed=visible,
        pass_at_1=acc,
        visible_pct=100.0 * visible / n if n else 0.0,
        rsr=None if baseline is None or method == BASELINE else rsr(acc, baseline),
        median_seconds=_median([float(x.get("wall_s", 0.0)) for x in lines]),
        median_tokens_generated=_median(
            [float(x.get("cost", {}).get("tokens_generated", 0)) for x in lines]
        ),
        median_tokens_evaluated=_median(
            [float(x.get("cost", {}).get("tokens_evaluated", 0)) for x in lines]
        ),
        statuses=dict(sorted(statuses.items())),
        overfit=sum(_visible_ok(x) and not x.get("passed") for x in lines),
        guard_rejections=sum(int(x.get("guard_rejections") or 0) for x in lines),
    )


def _paired(
    by_method: Mapping[str, Mapping[str, Mapping[str, Any]]], tasks: Sequence[str]
) -> tuple[Paired, ...]:
    """egcfg against every sample-filter variant on ``tasks`` (none without an egcfg run)."""
    if "egcfg" not in by_method:
        return ()
    ours = by_method["egcfg"]
    out = []
    for method in sorted(by_method, key=_method_order):
        if base_method(method) != "sample-filter":
            continue
        theirs = by_method[method]
        a = [bool(ours[t].get("passed")) for t in tasks]
        b = [bool(theirs[t].get("passed")) for t in tasks]
        wins = sum(x and not y for x, y in zip(a, b, strict=True))
        losses = sum(y and not x for x, y in zip(a, b, strict=True))
        out.append(Paired(method=method, wins=wins, losses=losses, ties=len(a) - wins - losses))
    return tuple(out)


def summarize(lines: Iterable[Mapping[str, Any]]) -> list[SettingTable]:
    """Group results by (dataset, guide-tests) and compute every method's row on common tasks."""
    groups: dict[tuple[str, str], dict[str, dict[str, Mapping[str, Any]]]] = {}
    models: dict[tuple[str, str], set[str]] = {}
    for line in latest_lines(lines):
        dataset = str(line.get("dataset") or str(line["task_id"]).split("/")[0].lower())
        setting = (dataset, str(line["guide_tests"]))
        groups.setdefault(setting, {}).setdefault(str(line["method"]), {})[str(line["task_id"])] = (
            line
        )
        if line.get("model"):
            models.setdefault(setting, set()).add(str(line["model"]))
    tables: list[SettingTable] = []
    for (dataset, guide), by_method in sorted(groups.items()):
        task_sets = [set(v) for v in by_method.values()]
        common = set.intersection(*task_sets)
        every = set.union(*task_sets)
        ordered = tuple(sorted(common, key=_task_order))
        baseline = None
        if BASELINE in by_method and ordered:
            base = [by_method[BASELINE][t] for t in ordered]
            baseline = 100.0 * sum(bool(x.get("passed")) for x in base) / len(base)
        rows = tuple(
            _stats(method, [by_method[method][t] for t in ordered], baseline)
            for method in sorted(by_method, key=_method_order)
        )
        tables.append(
            SettingTable(
                dataset=dataset,
                guide_tests=guide,
                task_ids=ordered,
                left_out=tuple(sorted(every - common, key=_task_order)),
                rows=rows,
                models=tuple(sorted(models.get((dataset, guide), set()))),
                paired=_paired(by_method, ordered),
                grid=grid_entries([by_method["egcfg"][t] for t in ordered])
                if "egcfg" in by_method
                else (),
            )
        )
    return tables


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _span(task_ids: Sequence[str]) -> str:
    if not task_ids:
        return "no tasks"
    if len(task_ids) == 1:
        return task_ids[0]
    return f"{task_ids[0]} … {task_ids[-1]}"


def _markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, caption: str = ""
) -> list[str]:
    """A Markdown table after a blank line (and its caption); nothing when there are no rows."""
    if not rows:
        return []
    out = ["", caption, ""] if caption else [""]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(row) + " |" for row in rows]


def render_markdown(tables: Sequence[SettingTable], charts: Mapping[str, str] | None = None) -> str:
    """The report text: a side-by-side pass@1/RSR table per dataset, then cost per setting."""
    out = ["# beadline benchmark report", ""]
    out.append(
        "pass@1 = % of tasks whose judged verdict passed (held-out tests when the task has "
        "any: MBPP `first` judges with all three asserts, HumanEval with the hidden `check`; "
        "otherwise the visible tests, as in the paper). RSR = 100·(acc − acc_greedy)/(100 − "
        "acc_greedy) on the same tasks. Methods are compared on the tasks every method of a "
        "setting finished."
    )
    for dataset in sorted({t.dataset for t in tables}):
        mine = [t for t in tables if t.dataset == dataset]
        models = sorted({m for t in mine for m in t.models})
        out += ["", f"## {dataset}" + (f" — model {', '.join(models)}" if models else ""), ""]
        for t in mine:
            out.append(
                f"- guide-tests `{t.guide_tests}`: {len(t.task_ids)} tasks ({_span(t.task_ids)})"
            )
            if t.left_out:
                shown = ", ".join(t.left_out[:10]) + (" …" if len(t.left_out) > 10 else "")
                out.append(f"  - left out (not finished by every method): {shown}")
        guides = [t.guide_tests for t in mine]
        methods = sorted({r.method for t in mine for r in t.rows}, key=_method_order)
        header = ["method"]
        for g in guides:
            header += [f"pass@1 `{g}`", f"RSR `{g}`"]
        rows: list[list[str]] = []
        for method in methods:
            cells = [method]
            for t in mine:
                row = next((r for r in t.rows if r.method == method), None)
                if row is None:
                    cells += ["—", "—"]
                else:
                    cells += [
                        f"{row.pass_at_1:.1f} ({row.passed}/{row.n})",
                        "—" if row.method == BASELINE else _pct(row.rsr),
                    ]
            rows.append(cells)
        out += _markdown_table(header, rows)
        out += _markdown_table(
            [
                "guide-tests",
                "method",
                "tasks",
                "pass@1",
                "visible",
                "overfit",
                "guard rejections",
                "RSR",
                "median s/task",
                "median tokens generated",
                "median tokens evaluated",
                "statuses",
            ],
            [
                [
                    t.guide_tests,
                    r.method,
                    str(r.n),
                    f"{r.pass_at_1:.1f}",
                    f"{r.visible_pct:.1f} ({r.visible_passed})",
                    str(r.overfit),
                    str(r.guard_rejections),
                    "—" if r.method == BASELINE else _pct(r.rsr),
                    f"{r.median_seconds:.1f}",
                    f"{r.median_tokens_generated:.0f}",
                    f"{r.median_tokens_evaluated:.0f}",
                    ", ".join(f"{k} {v}" for k, v in r.statuses.items()),
                ]
                for t in mine
                for r in t.rows
            ],
        )
        out += _markdown_table(
            ["guide-tests", "against", "egcfg wins", "egcfg losses", "ties"],
            [
                [t.guide_tests, p.method, str(p.wins), str(p.losses), str(p.ties)]
                for t in mine
                for p in t.paired
            ],
            caption="egcfg against sample-filter, task by task (held-out verdict):",
        )
        out += _markdown_table(
            [
                "guide-tests",
                "#",
                "configuration",
                "runs",
                "share of egcfg's time",
                "visible solves",
                "of which pass held out",
                "guard refusals",
            ],
            [
                [
                    t.guide_tests,
                    str(e.attempt),
                    e.label,
                    str(e.runs),
                    f"{e.share:.0f} %",
                    str(e.solved),
                    str(e.held_out),
                    str(e.refused),
                ]
                for t in mine
                for e in t.grid
            ],
            caption="egcfg's grid entry by entry (tried in order until one solves the visible "
            "tests):",
        )
        if charts and dataset in charts:
            out += ["", f"![pass@1 on {dataset}]({charts[dataset]})"]
    if not tables:
        out += ["", "No results."]
    return "\n".join(out) + "\n"


def write_bar_chart(tables: Sequence[SettingTable], path: str | Path, *, title: str = "") -> Path:
    """A grouped bar chart of pass@1: methods on the x axis, one bar per guide-tests setting.

    Uses matplotlib's Agg canvas directly (no global backend change, no display needed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = sorted({r.method for t in tables for r in t.rows}, key=_method_order)
    fig = Figure(figsize=(max(5.0, 1.3 * len(methods) + 2), 4.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(tables))
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"]
    for j, t in enumerate(tables):
        found = [next((r.pass_at_1 for r in t.rows if r.method == m), None) for m in methods]
        xs = [i + (j - (len(tables) - 1) / 2) * width for i in range(len(methods))]
        bars = ax.bar(
            xs,
            [v or 0.0 for v in found],
            width,
            label=f"guide-tests {t.guide_tests} (n={len(t.task_ids)})",
            color=colors[j % len(colors)],
        )
        # a method not run under this setting gets no label (not a misleading 0.0)
        labels = ["" if v is None else f"{v:.1f}" for v in found]
        ax.bar_label(bars, labels=labels, fontsize=8, padding=2)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel("pass@1 (%)")
    top = max((r.pass_at_1 for t in tables for r in t.rows), default=0.0)
    ax.set_ylim(0, min(100.0, max(10.0, top * 1.25)))
    ax.set_title(title or "pass@1 by method")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def write_report(results: Iterable[str | Path], out_dir: str | Path) -> Report:
    """Read results files and write ``report.md`` plus ``pass_at_1_<dataset>.png`` into ``out_dir``.

    Raises:
        UserError: a results file is missing or malformed, or holds no lines.
    """
    paths = list(results)
    if not paths:
        raise UserError("no results files given: pass the --out file(s) of `beadline bench run`")
    lines = read_results(paths)
    if not lines:
        raise UserError(
            f"no result lines in {', '.join(map(str, paths))}: run `beadline bench run` first"
        )
    tables = summarize(lines)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    charts: dict[str, str] = {}
    chart_paths: list[Path] = []
    for dataset in sorted({t.dataset for t in tables}):
        mine = [t for t in tables if t.dataset == dataset]
        models = sorted({m for t in mine for m in t.models})
        title = f"{dataset} pass@1" + (f" — {', '.join(models)}" if models else "")
        chart = write_bar_chart(mine, directory / f"pass_at_1_{dataset}.png", title=title)
        charts[dataset] = chart.name
        chart_paths.append(chart)
    markdown = directory / "report.md"
    markdown.write_text(render_markdown(tables, charts), encoding="utf-8")
    return Report(markdown=markdown, charts=tuple(chart_paths), tables=tuple(tables))
