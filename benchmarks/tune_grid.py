"""Choose egcfg's grid by measurement on MBPP's validation split (task ids 511–600), resumably.

Each candidate grid of a YAML file (``name: [settings mapping, ...]``; default
``benchmarks/grids/tune.yaml``) is run with ``beadline bench run --split validation -m egcfg
--guide-tests first --grid ...`` into ``OUT_DIR/NAME.jsonl``. A rerun of this script skips every
(grid, task) already finished — ``bench run`` resumes its results file — so a killed sweep goes on
where it stopped. Then one table ranks the grids, on the tasks every grid finished, by held-out
passes (guided by the first assert, judged on all three plus the challenge asserts), then by
median wall seconds per task; ``by entry 0 / later`` splits the held-out passes between the
grid's first (γ=0) entry and the guided entries after it:

    .venv/bin/python benchmarks/tune_grid.py --out-dir tune --task-time-budget 60
    .venv/bin/python benchmarks/tune_grid.py --out-dir tune --summary-only   # the table only

The test split (11–510) is never touched here, so the grid chosen is not fitted to the tasks it is
reported on.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from beadline.validators.errors import UserError
from beadline.workflows.bench.grid_entries import grid_entries
from beadline.workflows.bench.runner import read_results

HERE = Path(__file__).resolve().parent
DEFAULT_GRIDS = HERE / "grids" / "tune.yaml"


@dataclass(frozen=True)
class GridScore:
    """One grid's results on the tasks it finished."""

    name: str
    tasks: int
    held_out: int
    visible: int
    guard_rejections: int
    median_wall_s: float
    errors: int
    by_first_entry: int = 0
    """Held-out passes found by the grid's first entry (γ=0 in every grid of tune.yaml)."""
    by_later_entries: int = 0
    """Held-out passes found by the entries after it (the guided ones)."""

    @property
    def overfit(self) -> int:
        """Visible passes that fail held out."""
        return self.visible - self.held_out


def read_grids(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The named grids of ``path``.

    Raises:
        SystemExit: the file is missing or not a mapping of names to non-empty lists of mappings.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"cannot read the grids file {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise SystemExit(f"{path}: expected a mapping of grid names to lists of settings")
    grids: dict[str, list[dict[str, Any]]] = {}
    for name, grid in data.items():
        ok = isinstance(grid, list) and grid and all(isinstance(g, dict) for g in grid)
        if not ok or not str(name).replace("-", "").replace("_", "").isalnum():
            raise SystemExit(
                f"{path}: grid {name!r} must be a non-empty list of settings mappings under a "
                "name of letters, digits, - and _"
            )
        grids[str(name)] = [dict(g) for g in grid]
    return grids


def latest(lines: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The last line of every task (a rerun supersedes)."""
    return {str(line["task_id"]): line for line in lines}


def score(
    name: str, lines: Sequence[Mapping[str, Any]], tasks: Collection[str] | None = None
) -> GridScore:
    """Score one grid from its results lines (the last line per task counts), on ``tasks``
    only when given (the tasks every grid finished, so that grids are compared alike)."""
    last = latest(lines)
    if tasks is not None:
        last = {t: ln for t, ln in last.items() if t in tasks}
    finished = [ln for ln in last.values() if ln.get("status") != "error"]
    walls = [float(ln.get("wall_s") or 0.0) for ln in finished]
    entries = grid_entries(finished)
    return GridScore(
        name=name,
        tasks=len(finished),
        held_out=sum(1 for ln in finished if ln.get("passed")),
        visible=sum(1 for ln in finished if (ln.get("visible") or {}).get("passed")),
        guard_rejections=sum(int(ln.get("guard_rejections") or 0) for ln in finished),
        median_wall_s=statistics.median(walls) if walls else 0.0,
        errors=len(last) - len(finished),
        by_first_entry=sum(e.held_out for e in entries if e.attempt == 0),
        by_later_entries=sum(e.held_out for e in entries if e.attempt > 0),
    )


def common_tasks(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[set[str], set[str]]:
    """The tasks every grid with results finished, and the tasks only some did (a sweep
    stopped in the middle of a chunk)."""
    sets = [{t for t, ln in latest(lines).items()} for lines in results.values() if lines]
    if not sets:
        return set(), set()
    common = set.intersection(*sets)
    return common, set.union(*sets) - common


def _number(task_id: str) -> tuple[int, str]:
    tail = task_id.rpartition("/")[2]
    return (int(tail), "") if tail.isdigit() else (-1, task_id)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The result lines of a results file (none when it does not exist yet), read by the bench
    runner's reader: the tail of a killed write is skipped, a broken line is a one-line error."""
    if not path.is_file():
        return []
    try:
        return read_results([path])
    except UserError as exc:
        raise SystemExit(str(exc)) from None


def ranked(scores: Sequence[GridScore]) -> list[GridScore]:
    """Most held-out passes first; ties by the lower median wall time."""
    return sorted(scores, key=lambda s: (-s.held_out, s.median_wall_s, s.name))


def run_grid(
    name: str, grid: list[dict[str, Any]], out_dir: Path, bench_args: Sequence[str]
) -> int:
    """``beadline bench run`` of one grid; its exit status."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(grid, handle)
        grid_file = handle.name
    command = [
        sys.executable,
        "-m",
        "beadline.workflows",
        "bench",
        "run",
        "--dataset",
        "mbpp",
        "--split",
        "validation",
        "--guide-tests",
        "first",
        "-m",
        "egcfg",
        "--grid",
        grid_file,
        "--out",
        str(out_dir / f"{name}.jsonl"),
        *bench_args,
    ]
    try:
        return subprocess.call(command)
    finally:
        Path(grid_file).unlink(missing_ok=True)


def table(scores: Sequence[GridScore]) -> Table:
    """The ranking as a rich table."""
    out = Table(title="egcfg grids on MBPP validation (511–600), guided by the first assert")
    columns = (
        "rank",
        "grid",
        "tasks",
        "held-out pass",
        "by entry 0 / later",
        "visible",
        "overfit",
        "guard",
    )
    for column in columns:
        out.add_column(column, justify="right" if column != "grid" else "left")
    out.add_column("median s/task", justify="right")
    out.add_column("errors", justify="right")
    for rank, s in enumerate(ranked(scores), start=1):
        out.add_row(
            str(rank),
            s.name,
            str(s.tasks),
            f"{s.held_out} ({100 * s.held_out / s.tasks:.1f} %)" if s.tasks else "0",
            f"{s.by_first_entry} / {s.by_later_entries}",
            str(s.visible),
            str(s.overfit),
            str(s.guard_rejections),
            f"{s.median_wall_s:.1f}",
            str(s.errors),
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=Path, default=DEFAULT_GRIDS)
    parser.add_argument("--out-dir", type=Path, default=Path("tune"))
    parser.add_argument("--only", action="append", default=[], help="Run only this grid.")
    parser.add_argument("--summary-only", action="store_true", help="Print the table; run none.")
    parser.add_argument("--ids", default=None, help="A subset of 511-600, e.g. 511-530.")
    parser.add_argument("--task-time-budget", type=float, default=60.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--sandbox", default="local")
    args = parser.parse_args(argv)
    grids = read_grids(args.grids)
    unknown = [name for name in args.only if name not in grids]
    if unknown:
        raise SystemExit(f"no grid {unknown[0]!r} in {args.grids}; known: {', '.join(grids)}")
    chosen = {n: g for n, g in grids.items() if not args.only or n in args.only}
    bench_args = ["--sandbox", args.sandbox, "--task-time-budget", str(args.task_time_budget)]
    if args.ids:
        bench_args += ["--ids", args.ids]
    if args.model:
        bench_args += ["--model", args.model]
    status = 0
    if not args.summary_only:
        for name, grid in chosen.items():
            status = run_grid(name, grid, args.out_dir, bench_args) or status
    results = {n: read_lines(args.out_dir / f"{n}.jsonl") for n in chosen}
    tasks, partial = common_tasks(results)
    scores = [score(n, lines, tasks) for n, lines in results.items()]
    console = Console(width=max(Console().width, 130))  # the table unwrapped
    console.print(table(scores))
    if partial:
        console.print(
            f"compared on the {len(tasks)} tasks every grid finished; left out (some grids "
            f"only): {', '.join(sorted(partial, key=_number))}"
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
