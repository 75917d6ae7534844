"""``beadline bead``: build a bead stage by stage (``run``), continue a stopped run (``resume``).

Runs are durable: state is saved in a SQLite database (``--db``, default
``.beadline/beads.sqlite``) under one thread per bead run, so an interrupted, reviewed or killed
run continues with ``beadline bead resume THREAD``. On success the function is merged into the
target file atomically (the previous file kept as ``<name>.bak``), or shown as a diff with
``--dry-run``; a JSON + Markdown report is written either way.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.live import Live
from rich.syntax import Syntax
from rich.table import Table

from beadline.validators.executor import Executor
from beadline.workflows.bead.apply import apply_bead
from beadline.workflows.bead.generation import ScriptedGenerator, StageGenerator
from beadline.workflows.bead.loaders import load_bead
from beadline.workflows.bead.report import build_report, write_report
from beadline.workflows.bead.review import TerminalReviewer, drive
from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import UserError

__all__ = ["bead"]

DECODE_SECONDS = 120.0
"""Default time budget of one decoder call (one stage attempt); threads started before the
option existed resume with it too."""


class ProgressView:
    """A live table of the run: one row per stage (and body part), updated from stream events."""

    def __init__(self, console: Console, bead_id: str) -> None:
        self.console = console
        self.bead_id = bead_id
        self.rows: dict[str, list[str]] = {}
        self.candidates = 0
        self.live = Live(self.render(), console=console, refresh_per_second=8, transient=False)

    def render(self) -> Table:
        table = Table(title=f"bead {self.bead_id}", expand=False)
        table.add_column("stage")
        table.add_column("attempt", justify="right")
        table.add_column("status")
        table.add_column("last validation", overflow="fold", max_width=80)
        for name, row in self.rows.items():
            table.add_row(name, *row)
        table.caption = f"candidate programs executed: {self.candidates}"
        return table

    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        stage = str(event.get("stage", ""))
        name = f"body part {int(event.get('part', 0)) + 1}" if stage == "body" else stage
        attempt = str(event.get("attempt", ""))
        if kind == "stage_started":
            self.rows[name] = [attempt, "[yellow]running[/]", ""]
        elif kind == "stage_validated":
            self.rows[name] = [attempt, "[green]ok[/]", str(event.get("summary", ""))]
        elif kind == "stage_failed":
            self.rows[name] = [attempt, "[red]failed[/]", str(event.get("summary", ""))]
        elif kind == "baseline":
            mark = "[green]ok[/]" if event.get("ok") else "[red]failed[/]"
            self.rows["preflight"] = ["", mark, str(event.get("summary", ""))]
        elif kind == "candidates_executed":
            self.candidates += 1
        elif kind == "review_requested":
            self.rows.setdefault(name, ["", "", ""])[1] = "[cyan]review[/]"
        elif kind == "finished":
            self.rows["result"] = ["", str(event.get("status")), str(event.get("message", ""))]
        self.live.update(self.render())

    def __enter__(self) -> ProgressView:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()


def _default_db() -> Path:
    return Path(".beadline") / "beads.sqlite"


@contextmanager
def _checkpointer(db: Path) -> Iterator[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(db), check_same_thread=False)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS beadline_runs (thread_id TEXT PRIMARY KEY, options TEXT)"
        )
        conn.commit()
        yield SqliteSaver(conn), conn
    finally:
        conn.close()


def _save_options(conn: sqlite3.Connection, thread: str, options: Mapping[str, Any]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO beadline_runs (thread_id, options) VALUES (?, ?)",
        (thread, json.dumps(dict(options))),
    )
    conn.commit()


def _load_options(conn: sqlite3.Connection, thread: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT options FROM beadline_runs WHERE thread_id = ?", (thread,)
    ).fetchone()
    return dict(json.loads(row[0])) if row else None


def make_generator(
    model: str, executor: Executor, stack: ExitStack, *, decode_seconds: float = DECODE_SECONDS
) -> StageGenerator:
    """The generator for ``--model``: ``scripted:FILE.yaml`` (a stage → code mapping) or a model
    name/path for :func:`beadline.agents.models.loader.load_model` (EG-CFG, each decode capped
    at ``decode_seconds``)."""
    if model.startswith("scripted:"):
        path = Path(model.removeprefix("scripted:"))
        if not path.is_file():
            raise UserError(f"scripted generator file {str(path)!r} not found")
        script = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(script, dict):
            raise UserError(f"{path}: expected a mapping of stage keys (body[0], ...) to code")
        return ScriptedGenerator({str(k): v for k, v in script.items()})
    from beadline.agents.models.loader import load_model
    from beadline.agents.settings import DecoderSettings
    from beadline.workflows.bead.generation import EgcfgGenerator

    loaded = stack.enter_context(load_model(model))
    return EgcfgGenerator(loaded, executor, DecoderSettings(time_budget_s=decode_seconds))


def make_sandbox(kind: str) -> Executor:
    """The executor for ``--sandbox``."""
    from beadline.validators.sandbox.factory import make_executor

    return make_executor(kind)


def _execute(
    console: Console,
    *,
    thread: str,
    graph_input: Any,
    options: Mapping[str, Any],
    db: Path,
    fresh: bool,
) -> None:
    from beadline.workflows.bead.graph import build_bead_graph

    started = time.monotonic()
    config = {"configurable": {"thread_id": thread}}
    with ExitStack() as stack:
        saver, conn = stack.enter_context(_checkpointer(db))
        if fresh:
            existing = saver.get_tuple(config)
            if existing is not None:
                raise UserError(
                    f"thread {thread!r} already exists in {db}; continue it with `beadline bead "
                    f"resume {thread}` or pass another --thread"
                )
            _save_options(conn, thread, options)
        executor = make_sandbox(str(options["sandbox"]))
        stack.callback(executor.close)
        generator = make_generator(
            str(options["model"]),
            executor,
            stack,
            decode_seconds=float(options.get("decode_seconds", DECODE_SECONDS)),
        )
        graph = build_bead_graph(
            generator, executor, checkpointer=saver, review=bool(options["review"])
        )
        view = stack.enter_context(ProgressView(console, str(options["bead_id"])))
        reviewer = None
        if options["review"]:
            terminal = TerminalReviewer(console)

            def reviewer(payload: Any) -> Any:
                view.live.stop()
                try:
                    return terminal(payload)
                finally:
                    view.live.start()

        try:
            values = drive(graph, graph_input, config, reviewer=reviewer, on_event=view.on_event)
        except (KeyboardInterrupt, EOFError):
            view.live.stop()
            raise click.ClickException(
                f"interrupted; nothing was written. Continue with `beadline bead resume {thread}`"
            ) from None
    console.print()
    _conclude(console, values, options, thread, time.monotonic() - started)


def _conclude(
    console: Console,
    values: Mapping[str, Any],
    options: Mapping[str, Any],
    thread: str,
    seconds: float,
) -> None:
    status = values.get("status")
    applied: dict[str, Any] | None = None
    bead = Bead.model_validate(values["bead"]) if values.get("bead") else None
    repo = values.get("repo")
    if status == "passed" and bead is not None and repo and not options.get("no_apply"):
        result = apply_bead(
            bead,
            Path(repo),
            str(values.get("function", "")),
            str(values.get("setup", "")),
            dry_run=bool(options["dry_run"]),
        )
        applied = result.to_json()
        if options["dry_run"]:
            console.print(Syntax(result.diff or "(no change)", "diff"))
        elif result.written:
            console.print(
                f"wrote {result.path}" + (f" (backup {result.backup})" if result.backup else "")
            )
    elif status == "passed":
        console.print(Syntax(str(values.get("program", "")), "python"))
    report = build_report(values, thread_id=thread, applied=applied, seconds=seconds)
    json_path, md_path = write_report(report, Path(str(options["report_dir"])))
    console.print(f"report: {md_path} ({json_path.name}); {seconds:.1f} s")
    if status != "passed":
        raise click.ClickException(str(values.get("message") or f"bead ended {status}"))
    console.print(f"[green]{values.get('message', 'passed')}[/]")


@click.group()
def bead() -> None:
    """Build a bead (one function in a repository) stage by stage, validating each stage."""


@bead.command("run")
@click.argument("bead_ref", metavar="BEAD_FILE_OR_ID")
@click.option(
    "--beads-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Tracker file for ids [default: .beads/issues.jsonl, or REPO/.beads/issues.jsonl].",
)
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=None,
    help="Target repository (overrides the bead's).",
)
@click.option(
    "--review", is_flag=True, help="Ask a person at each stage boundary (approve/edit/retry)."
)
@click.option("--dry-run", is_flag=True, help="Show the diff instead of writing the file.")
@click.option(
    "-m",
    "--model",
    "model",
    default="smollm2-135m",
    show_default=True,
    envvar="BEADLINE_MODEL",
    help="Model name or GGUF path, or scripted:FILE.yaml.",
)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "local", "docker"]),
    default="auto",
    show_default=True,
    help="Where code runs.",
)
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    envvar="BEADLINE_DB",
    help="Checkpoint database [default: .beadline/beads.sqlite].",
)
@click.option("--thread", default=None, help="Thread id [default: BEAD-ID-<time>].")
@click.option(
    "--decode-seconds",
    type=click.FloatRange(min=1.0),
    default=DECODE_SECONDS,
    show_default=True,
    help="Time budget of one decoder call (one stage attempt).",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path),
    default=Path(".beadline/reports"),
    show_default=True,
    help="Where the JSON and Markdown reports go.",
)
def run(
    bead_ref: str,
    beads_file: Path | None,
    repo: Path | None,
    review: bool,
    dry_run: bool,
    model: str,
    sandbox: str,
    db: Path | None,
    thread: str | None,
    decode_seconds: float,
    report_dir: Path,
) -> None:
    """Build BEAD_FILE_OR_ID (a YAML bead file, or an issue id of a bd tracker file)."""
    if beads_file is None and repo is not None and not Path(bead_ref).suffix:
        beads_file = repo / ".beads" / "issues.jsonl"
    loaded = load_bead(bead_ref, beads_file=beads_file)
    target_repo = repo if repo is not None else (Path(loaded.repo) if loaded.repo else None)
    if target_repo is not None and not target_repo.is_dir():
        raise UserError(f"target repository {str(target_repo)!r} not found; pass --repo DIR")
    thread = thread or f"{loaded.id}-{time.strftime('%Y%m%d-%H%M%S')}"
    options = {
        "bead_id": loaded.id,
        "review": review,
        "dry_run": dry_run,
        "model": model,
        "sandbox": sandbox,
        "report_dir": str(report_dir),
        "decode_seconds": decode_seconds,
    }
    console = Console()
    console.print(
        f"bead [bold]{loaded.id}[/] · thread [bold]{thread}[/] · model {model} · sandbox {sandbox}"
    )
    graph_input = {
        "bead": loaded.model_dump(mode="json"),
        "repo": str(target_repo.resolve()) if target_repo else None,
    }
    _execute(
        console,
        thread=thread,
        graph_input=graph_input,
        options=options,
        db=db or _default_db(),
        fresh=True,
    )


@bead.command("resume")
@click.argument("thread")
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    envvar="BEADLINE_DB",
    help="Checkpoint database [default: .beadline/beads.sqlite].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    default=None,
    help="Show the diff instead of writing (default: as the run was started).",
)
@click.option("-m", "--model", "model", default=None, help="Override the run's model.")
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "local", "docker"]),
    default=None,
    help="Override the run's sandbox.",
)
def resume(
    thread: str, db: Path | None, dry_run: bool | None, model: str | None, sandbox: str | None
) -> None:
    """Continue THREAD where it stopped (an interrupt, a review, a killed process)."""
    path = db or _default_db()
    if not path.is_file():
        raise UserError(f"checkpoint database {str(path)!r} not found; pass --db PATH")
    conn = sqlite3.connect(str(path))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS beadline_runs (thread_id TEXT PRIMARY KEY, options TEXT)"
        )
        options = _load_options(conn, thread)
        known = [r[0] for r in conn.execute("SELECT thread_id FROM beadline_runs LIMIT 8")]
    finally:
        conn.close()
    if options is None:
        raise UserError(
            f"no bead run with thread {thread!r} in {path}; known threads: {', '.join(known) or '(none)'}"
        )
    if dry_run is not None:
        options["dry_run"] = dry_run
    if model is not None:
        options["model"] = model
    if sandbox is not None:
        options["sandbox"] = sandbox
    console = Console()
    console.print(f"resuming thread [bold]{thread}[/]")
    _execute(console, thread=thread, graph_input=None, options=options, db=path, fresh=False)
