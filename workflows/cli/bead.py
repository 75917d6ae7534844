"""``beadline bead``: build a bead stage by stage (``run``, ``next``), continue a stopped run
(``resume``), list what is ready (``ready``) and what ran (``threads``).

A thin layer over the bead service (:mod:`beadline.workflows.bead.runs`): it parses options,
shows progress and prints the outcome. Runs are durable: state lives in the repository's
``.beadline/beads.sqlite`` whatever the current directory (or ``--db``, also
``postgresql://...``), one thread per run, so an interrupted, reviewed or killed run continues
with ``beadline bead resume THREAD`` — from any directory. On success the function is merged
into the target file atomically (the previous file kept as ``<name>.bak``), or shown as a diff
with ``--dry-run``; a JSON + Markdown report goes to ``REPO/.beadline/reports/``. Beads from a
``bd`` tracker are claimed, annotated and closed (or blocked) there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from beadline.workflows.bead.loaders import is_bead_file
from beadline.workflows.bead.runtime import CONTEXT_TOKENS, DECODE_SECONDS
from beadline.workflows.bead.tracker import DEFAULT_ACTOR
from beadline.workflows.cli._options import model_options
from beadline.workflows.cli._progress import ProgressView
from beadline.workflows.cli._review_screen import TerminalReviewer

__all__ = ["bead", "thread_index"]


def thread_index() -> Path:
    """The per-user thread index (``resume THREAD`` from any directory): ``$BEADLINE_HOME``,
    else ``$XDG_STATE_HOME/beadline``, else ``~/.local/state/beadline``; ``threads.sqlite``."""
    home = os.environ.get("BEADLINE_HOME")
    if not home:
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        home = str(Path(state) / "beadline")
    return Path(home) / "threads.sqlite"


def _absolute(path: Path | None) -> str | None:
    return str(path.expanduser().resolve()) if path is not None else None


def _db(db: str | None) -> str | None:
    """``--db``: a DSN as given, a path made absolute (it is stored with the thread)."""
    from beadline.workflows.bead.store import is_postgres

    if db is None or "://" in db or is_postgres(db):
        return db
    return str(Path(db).expanduser().resolve())


def _repo_here(repo: Path | None) -> Path | None:
    """``--repo``, else the repository around the current directory (``.beads/`` or
    ``.beadline/`` in it or above it)."""
    if repo is not None:
        return repo
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / ".beads").is_dir() or (directory / ".beadline").is_dir():
            return directory
    return None


class _Session:
    """Shows one run: the header, the live table, tracker lines, the review prompts."""

    def __init__(self, console: Console, *, review: bool) -> None:
        self.console = console
        self.view: ProgressView | None = None
        self.thread: str | None = None
        self.review = review
        self.after: list[str] = []
        """Tracker lines, printed under the table once it is closed."""
        self.dry_run = False

    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "run_started":
            self.thread = str(event["thread"])
            self.dry_run = bool(event.get("dry_run"))
            verb = "resuming" if event.get("resumed") else "bead"
            first = f"[bold]{event['bead']}[/] · thread [bold]{self.thread}[/]"
            self.console.print(
                f"{verb} {first} · model {event['model']} · sandbox {event['sandbox']}",
                soft_wrap=True,  # paths are not cut; the terminal wraps them
            )
            if event.get("tracker"):
                done = "".join(f"; {line}" for line in event.get("tracker_log") or ())
                self.console.print(f"tracker: {event['tracker']}{done}")
            self.view = ProgressView(self.console, str(event["bead"]))
            self.view.start()
            return
        if kind == "tracker":
            colour = "green" if event.get("ok") else "red"
            self.after.append(f"[{colour}]tracker: {event.get('message')}[/]")
            return
        if self.view is not None:
            self.view.on_event(event)

    def reviewer(self) -> Callable[[Any], Any] | None:
        if not self.review:
            return None

        def ask(payload: Any) -> Any:
            terminal = TerminalReviewer(self.console, dry_run=self.dry_run)
            # the table once, as it stands, above the question; live again after the answer
            if self.view is not None:
                self.view.pause()
            answer = terminal(payload)
            if self.view is not None:
                self.view.answered(payload, answer)
                self.view.start()
            return answer

        return ask

    def close(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None
        for line in self.after:
            self.console.print(line)
        self.after = []


def _drive(console: Console, review: bool, call: Callable[[_Session], Any]) -> Any:
    """Run a service call with progress shown; Ctrl-C ends with the resume hint."""
    session = _Session(console, review=review)
    try:
        return call(session)
    except (KeyboardInterrupt, EOFError):
        if console.is_terminal:
            console.print()  # the interrupted prompt's line is still open
        session.close()
        hint = (
            f"beadline bead resume {session.thread}" if session.thread else "beadline bead threads"
        )
        raise click.ClickException(
            f"interrupted; nothing was written. Continue with `{hint}`"
        ) from None
    finally:
        session.close()


def _print_outcome(console: Console, outcome: Any) -> None:
    """The result lines; raises ClickException (exit 1) unless the bead passed."""
    console.print()
    if outcome.already_finished:
        console.print(
            f"thread [bold]{outcome.thread_id}[/] already finished ({outcome.status}); it is not "
            "run again"
        )
    elif outcome.status == "passed" and outcome.dry_run:
        console.print(Syntax(outcome.diff or "(no change)", "diff"))
    elif outcome.status == "passed" and outcome.written:
        console.print(Syntax(outcome.diff.rstrip("\n"), "diff", word_wrap=True))
        backup = f" (backup {outcome.backup})" if outcome.backup else ""
        recheck = f"; re-checked: {outcome.recheck}" if outcome.recheck else ""
        console.print(f"wrote {outcome.target}{backup}{recheck}", soft_wrap=True)
    elif outcome.status == "passed" and outcome.target is not None:
        console.print(
            f"{outcome.target} already holds this code; nothing was written", soft_wrap=True
        )
    elif outcome.status == "passed" and outcome.target is None:
        console.print(Syntax(outcome.program, "python"))
    if outcome.pre_existing:
        shown = ", ".join(outcome.pre_existing[:5])
        more = len(outcome.pre_existing) - 5
        console.print(
            f"pre-existing failures (they failed before the bead and do not block it): {shown}"
            + (f" and {more} more" if more > 0 else ""),
            soft_wrap=True,
        )
    if outcome.tracker and not outcome.already_finished and not outcome.tracker_log:
        console.print(f"tracker: {outcome.tracker}")
    if outcome.report_md:
        took = f"; {outcome.seconds:.1f} s" if not outcome.already_finished else ""
        console.print(
            f"report: {outcome.report_md} ({Path(outcome.report_json).name}){took}",
            soft_wrap=True,
        )
    if outcome.status != "passed":
        raise click.ClickException(outcome.message or f"bead ended {outcome.status}")
    console.print(f"[green]{outcome.message or 'passed'}[/]")


def _run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``run`` and ``next`` share."""
    options = [
        click.option(
            "--repo",
            type=click.Path(path_type=Path),  # checked by start_run: one line, exit 1
            default=None,
            help="Target repository [default: the bead's; for ids, the repository around the "
            "current directory].",
        ),
        click.option(
            "--beads-file",
            type=click.Path(path_type=Path),
            default=None,
            help="A bd JSONL export to read ids from (read-only) [default: bd when installed, "
            "else REPO/.beads/issues.jsonl].",
        ),
        click.option(
            "--review",
            is_flag=True,
            help="Ask a person at each stage boundary (approve/edit/retry).",
        ),
        click.option("--dry-run", is_flag=True, help="Show the diff instead of writing the file."),
        model_options(scripted=True),
        click.option(
            "--sandbox",
            type=click.Choice(["auto", "local", "docker"]),
            default="auto",
            show_default=True,
            help="Where code runs (docker: also a remote engine through DOCKER_HOST).",
        ),
        click.option(
            "--db",
            "db",
            default=None,
            envvar="BEADLINE_DB",
            help="State database: a SQLite path or postgresql://user@host/db "
            "[default: REPO/.beadline/beads.sqlite].",
        ),
        click.option("--thread", default=None, help="Thread id [default: BEAD-ID-<time>]."),
        click.option(
            "--site-packages",
            "site_packages",
            multiple=True,
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="The repository's own dependencies for the local sandbox (e.g. "
            ".venv/lib/python3.11/site-packages); repeatable.",
        ),
        click.option(
            "--image",
            default=None,
            help="Docker image with the repository's dependencies (built on "
            "beadline-sandbox:latest).",
        ),
        click.option(
            "--context-tokens",
            type=click.IntRange(min=0),
            default=CONTEXT_TOKENS,
            show_default=True,
            help="Tokens of repository code (the target module, the bead's context) a prompt "
            "may show.",
        ),
        click.option(
            "--decode-seconds",
            type=click.FloatRange(min=1.0),
            default=DECODE_SECONDS,
            show_default=True,
            help="Time budget of one decoder call (one stage attempt).",
        ),
        click.option(
            "--report-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="Where the JSON and Markdown reports go [default: REPO/.beadline/reports].",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="Build a closed or blocked bead, or one with open dependencies, anyway.",
        ),
        click.option(
            "--actor",
            default=DEFAULT_ACTOR,
            show_default=True,
            envvar="BEADLINE_ACTOR",
            help="Who tracker claims and notes are written as (one per worker).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _start(bead_ref: str, params: Mapping[str, Any]) -> None:
    """``run`` and ``next``: build the options, run, print."""
    from beadline.workflows.bead.runs import BeadRunOptions, start_run
    from beadline.workflows.cli._options import choice_from

    choice = choice_from(
        params["model"], params["backend"], params["base_url"], params["api_key_env"]
    )
    repo = params["repo"]
    if repo is None and not is_bead_file(bead_ref):
        repo = _repo_here(None)
    options = BeadRunOptions(
        bead=str(Path(bead_ref).resolve()) if is_bead_file(bead_ref) else bead_ref,
        repo=_absolute(repo),
        beads_file=_absolute(params["beads_file"]),
        model=choice,
        sandbox=params["sandbox"],
        review=params["review"],
        dry_run=params["dry_run"],
        decode_seconds=params["decode_seconds"],
        site_packages=tuple(str(p.resolve()) for p in params["site_packages"]),
        image=params["image"],
        context_tokens=params["context_tokens"],
        db=_db(params["db"]),
        thread=params["thread"],
        force=params["force"],
        actor=params["actor"],
        report_dir=_absolute(params["report_dir"]),
    )
    console = Console()
    outcome = _drive(
        console,
        params["review"],
        lambda s: start_run(
            options, on_event=s.on_event, reviewer=s.reviewer(), index=thread_index()
        ),
    )
    _print_outcome(console, outcome)


@click.group()
def bead() -> None:
    """Build a bead (one function in a repository) stage by stage, validating each stage."""


@bead.command("run")
@click.argument("bead_ref", metavar="BEAD_FILE_OR_ID")
@_run_options
def run(bead_ref: str, **params: Any) -> None:
    """Build BEAD_FILE_OR_ID: a YAML bead file, or an issue id of the repository's bd tracker
    (bd-a1b2, bd-a1b2.1). A tracker bead that is closed, blocked or waits for open dependencies
    is refused (--force builds it anyway); with bd installed it is claimed, annotated on each
    failure and closed (or marked blocked) at the end."""
    _start(bead_ref, params)


@bead.command("next")
@_run_options
def next_(**params: Any) -> None:
    """Build the highest-priority ready bead of the repository's tracker (see `bead ready`)."""
    from beadline.workflows.bead.runs import next_ready_bead

    repo = _repo_here(params["repo"])
    if repo is None and params["beads_file"] is None:
        raise click.ClickException(
            "no tracker here: run inside a repository with .beads/, or pass --repo DIR"
        )
    bead_id, skipped = next_ready_bead(
        (repo or Path.cwd()).resolve(),
        beads_file=params["beads_file"],
        actor=params["actor"],
    )
    console = Console()
    for other, why in skipped:
        console.print(f"skipped {other}: {why}")
    console.print(f"next ready bead: [bold]{bead_id}[/]")
    _start(bead_id, {**params, "repo": repo})


@bead.command("ready")
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The repository [default: the one around the current directory].",
)
@click.option(
    "--beads-file", type=click.Path(path_type=Path), default=None, help="A bd JSONL export."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def ready(repo: Path | None, beads_file: Path | None, as_json: bool) -> None:
    """List the tracker's ready beads, highest priority first, and whether each can be built."""
    from beadline.workflows.bead.runs import ready as ready_beads

    where = _repo_here(repo)
    if where is None and beads_file is None:
        raise click.ClickException(
            "no tracker here: run inside a repository with .beads/, or pass --repo DIR"
        )
    tracker, beads = ready_beads((where or Path.cwd()).resolve(), beads_file=beads_file)
    if as_json:
        for item in beads:
            line = {
                "id": item.issue.id,
                "priority": item.issue.priority,
                "type": item.issue.issue_type,
                "title": item.issue.title,
                "buildable": item.bead is not None,
                "problem": item.problem,
            }
            click.echo(json.dumps(line))
        return
    console = Console()
    table = Table(title=f"ready beads: {tracker.describe()}", title_justify="left")
    for column in ("id", "P", "type", "title", "buildable"):
        table.add_column(column, overflow="fold")
    for item in beads:
        shown = "yes" if item.bead is not None else f"[red]no[/]: {item.problem}"
        table.add_row(
            item.issue.id, str(item.issue.priority), item.issue.issue_type, item.issue.title, shown
        )
    console.print(table if beads else f"no ready beads in {tracker.describe()}")


@bead.command("threads")
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The repository whose threads to list [default: the one around the current "
    "directory, else every repository in the thread index].",
)
@click.option("--db", "db", default=None, envvar="BEADLINE_DB", help="A state database.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def threads(repo: Path | None, db: str | None, as_json: bool) -> None:
    """List bead runs (threads): id, bead, status, last stage, when."""
    from beadline.workflows.bead.runs import list_threads

    where = _repo_here(repo)
    found = list_threads(repo=where, db=_db(db), index=thread_index())
    if as_json:
        for info in found:
            click.echo(json.dumps(info.to_json()))
        return
    console = Console()
    if not found:
        console.print("no bead runs yet; start one with `beadline bead run`")
        return
    several = len({i.repo for i in found}) > 1
    table = Table(title_justify="left")
    for column in ("thread", "bead", "status", "last stage", "updated", *(["repo"] * several)):
        table.add_column(column, overflow="fold")
    for info in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.updated_at))
        row = [info.thread_id, info.bead_id, info.status, info.last_stage, when]
        table.add_row(*row, *([info.repo or ""] * several))
    console.print(table)


@bead.command("resume")
@click.argument("thread")
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The repository the bead was built in [default: found from the thread id].",
)
@click.option("--db", "db", default=None, envvar="BEADLINE_DB", help="The state database.")
@click.option(
    "--dry-run/--no-dry-run",
    default=None,
    help="Show the diff instead of writing (default: as the run was started).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "local", "docker"]),
    default=None,
    help="Override the run's sandbox.",
)
@model_options(defaults=False, scripted=True)
def resume(
    thread: str,
    repo: Path | None,
    db: str | None,
    dry_run: bool | None,
    sandbox: str | None,
    **model: str | None,
) -> None:
    """Continue THREAD where it stopped (an interrupt, a review, a killed process), from any
    directory. A finished thread is not run again: its result is shown."""
    from beadline.workflows.bead.runs import get_thread, resume_run

    info, _ = get_thread(thread, repo=repo, db=_db(db), index=thread_index())
    console = Console()
    outcome = _drive(
        console,
        True,
        lambda s: resume_run(
            thread,
            repo=repo,
            db=_db(db) or info.db,
            index=thread_index(),
            model=model,
            sandbox=sandbox,
            dry_run=dry_run,
            on_event=s.on_event,
            reviewer=s.reviewer(),
        ),
    )
    _print_outcome(console, outcome)
