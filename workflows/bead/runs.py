"""The bead service: start, resume and list bead runs — one way, for every entry point.

The ``beadline bead`` CLI, the MCP server and the LangChain tool all call these functions; none
of them prints. A run:

1. resolves the bead (a YAML file, a tracker id, or an inline mapping) and its repository;
   a tracker bead that is closed, blocked or waits for open dependencies is refused unless
   ``force`` (:func:`~beadline.workflows.bead.tracker.refusal`), and with ``bd`` it is claimed;
2. runs the K&V bead graph on a checkpointed thread in the repository's store
   (``REPO/.beadline/beads.sqlite`` whatever the current directory, or ``--db``; see
   :mod:`beadline.workflows.bead.store`), appending a tracker note on each stage failure;
3. when it ends, merges the function into its file (or only diffs it, ``dry_run``), writes the
   JSON + Markdown report to ``REPO/.beadline/reports/THREAD.{json,md}`` and reports back to the
   tracker (close with the report path; ``blocked`` with the reason when it failed);
4. returns a :class:`RunOutcome`; a run paused for review returns ``waiting_review`` with the
   question (:attr:`RunOutcome.pending_review`), answered by :func:`resume_run` with a
   ``decision``.

A finished thread is never run again: :func:`resume_run` returns its stored outcome (and its
report is left as it was).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from beadline.agents.models.choice import ModelChoice
from beadline.workflows.bead import runtime
from beadline.workflows.bead._outcome import (
    FINAL_STATUSES,
    BeadRunOptions,
    Event,
    RunOutcome,
    ThreadInfo,
)
from beadline.workflows.bead._writeback import TrackerLink, conclude, note_failure
from beadline.workflows.bead.loaders import is_bead_file, load_bead_file
from beadline.workflows.bead.review import Reviewer, drive, pending_interrupts
from beadline.workflows.bead.spec import Bead, parse_bead
from beadline.workflows.bead.store import (
    RunStore,
    ThreadIndex,
    ThreadRecord,
    default_db,
    is_postgres,
    open_store,
    validate_thread_id,
)
from beadline.workflows.bead.tracker import (
    Tracker,
    find_tracker_root,
    open_tracker,
    ready_beads,
    refusal,
)
from beadline.workflows.errors import UserError

__all__ = [
    "BeadRunOptions",
    "RunOutcome",
    "ThreadInfo",
    "get_thread",
    "list_threads",
    "next_ready_bead",
    "ready",
    "repository_error",
    "resume_run",
    "start_run",
]

EventHandler = Callable[[Event], None]
"""Receives progress events: the graph's (``stage_started`` …) and the service's
(``run_started``, ``restored`` on a resume, ``tracker``, ``applied``)."""


def _resolve_bead(options: BeadRunOptions) -> tuple[Bead, Tracker | None, Path | None]:
    """The bead, its tracker (for tracker ids) and its repository."""
    repo = Path(options.repo) if options.repo else None
    if isinstance(options.bead, Mapping):
        bead = parse_bead(options.bead, source="(inline bead)")
        return bead, None, repo or (Path(bead.repo) if bead.repo else None)
    if is_bead_file(options.bead):
        bead = load_bead_file(Path(options.bead))
        return bead, None, repo or (Path(bead.repo) if bead.repo else None)
    beads_file = Path(options.beads_file) if options.beads_file else None
    root = repo
    if root is None and beads_file is not None and beads_file.parent.name == ".beads":
        root = beads_file.parent.parent
    if root is None:
        raise UserError(
            f"bead {options.bead!r} is a tracker id but no repository holds a .beads/ tracker "
            "here; pass --repo DIR (or run inside the repository), or a YAML bead file"
        )
    # --repo may name a directory inside the repository: the tracker is the nearest .beads/
    tracker_root = root if beads_file is not None else (find_tracker_root(root) or root)
    tracker = open_tracker(tracker_root, beads_file=beads_file, actor=options.actor)
    issue = tracker.show(options.bead)
    problem = refusal(issue, actor=options.actor, force=options.force)
    if problem:
        raise UserError(problem)
    bead = issue.bead()
    return bead, tracker, repo or (Path(bead.repo) if bead.repo else tracker_root)


def _store_for(options: BeadRunOptions, workspace: Path) -> str:
    return options.db or str(default_db(workspace))


def repository_error(repo: Path | str) -> str:
    """The one-line message for a ``--repo`` that is missing or not a directory."""
    return (
        f"target repository {str(repo)!r} is not a directory; pass an existing directory "
        "(--repo DIR)"
    )


def _taken(store: RunStore, thread: str) -> bool:
    """A thread id already used: a stored run or a checkpoint under it."""
    return store.get(thread) is not None or store.has_checkpoint(thread)


def _new_thread_id(store: RunStore, bead_id: str) -> str:
    """``<bead>-<date>-<time>``, with ``-2``, ``-3``… when runs start within the same second."""
    base = validate_thread_id(f"{bead_id}-{time.strftime('%Y%m%d-%H%M%S')}")
    thread, n = base, 1
    while _taken(store, thread):
        n += 1
        thread = f"{base}-{n}"
    return thread


def _prepare_workspace(workspace: Path) -> None:
    """Create ``.beadline/`` with a ``.gitignore`` of ``*``: beadline's state and reports never
    show up in the user's ``git status``."""
    directory = workspace / ".beadline"
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# beadline's run state and reports (beadline bead threads)\n*\n")


def start_run(
    options: BeadRunOptions,
    *,
    on_event: EventHandler | None = None,
    reviewer: Reviewer | None = None,
    index: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunOutcome:
    """Build a bead on a new thread.

    Args:
        options: What to build and how (paths must be absolute or relative to the process's
            current directory; they are resolved before anything is stored).
        on_event: Receives progress events.
        reviewer: Answers review questions (review mode); without one a review ends the call
            with status ``waiting_review`` and the question in ``pending_review``.
        index: The per-user thread index to record the thread in (``resume`` from anywhere).
        environ: Where the API key's variable is read (default ``os.environ``).

    Returns:
        The outcome (see :class:`RunOutcome`).

    Raises:
        UserError: bad input (unknown bead, refused bead, missing repository, thread exists,
            bead claimed by someone else); nothing was run or written.
    """
    bead, tracker, repo = _resolve_bead(options)
    if repo is not None and not repo.is_dir():
        raise UserError(repository_error(repo))
    repo = repo.resolve() if repo is not None else None
    workspace = repo or Path.cwd()
    named = validate_thread_id(options.thread) if options.thread else None
    db = _store_for(options, workspace)
    if options.db is None or options.report_dir is None:
        _prepare_workspace(workspace)  # only when beadline's own files go there
    with open_store(db) as store:
        if named is not None and _taken(store, named):
            raise UserError(
                f"thread {named!r} already exists in {store.location}; continue it with "
                f"`beadline bead resume {named}` or pass another --thread"
            )
        thread = named or _new_thread_id(store, bead.id)
        resolved = options.model_copy(
            update={
                "repo": str(repo) if repo else None,
                "model": options.model.anchored(Path.cwd()),
                "db": db,
                "thread": thread,
                "report_dir": options.report_dir or str(workspace / ".beadline" / "reports"),
            }
        )
        link = (
            TrackerLink.start(tracker, bead.id, force=options.force)
            if tracker is not None
            else None
        )
        record = ThreadRecord(
            thread_id=thread,
            bead_id=bead.id,
            repo=str(repo) if repo else None,
            status="running",
            options={
                **resolved.stored(),
                "tracker": link.to_json() if link else None,
            },
        )
        store.save(record)
        if index is not None:
            ThreadIndex(index).add(thread, db=db, repo=record.repo, bead_id=bead.id)
        _emit(on_event, _started(record, store, link, resumed=False))
        graph_input = {"bead": bead.model_dump(mode="json"), "repo": record.repo}
        return _execute(
            store, record, graph_input, link, on_event=on_event, reviewer=reviewer, environ=environ
        )


def _started(
    record: ThreadRecord, store: RunStore, link: TrackerLink | None, *, resumed: bool
) -> Event:
    model = ModelChoice.model_validate(record.options.get("model") or {})
    return {
        "event": "run_started",
        "thread": record.thread_id,
        "bead": record.bead_id,
        "repo": record.repo,
        "model": model.describe(),
        "sandbox": record.options.get("sandbox", "auto"),
        "db": store.location,
        "tracker": link.describe() if link else None,
        "tracker_log": list(link.log) if link else [],
        "writes_back": bool(link and link.writes_back),
        "resumed": resumed,
        "dry_run": bool(record.options.get("dry_run")),
    }


def _emit(on_event: EventHandler | None, event: Event) -> None:
    if on_event is not None:
        on_event(event)


def _execute(
    store: RunStore,
    record: ThreadRecord,
    graph_input: Any,
    link: TrackerLink | None,
    *,
    on_event: EventHandler | None,
    reviewer: Reviewer | None,
    environ: Mapping[str, str] | None,
    decision: Any = None,
) -> RunOutcome:
    """Run (or continue) the thread's graph to its end or to a review nobody answers."""
    from langgraph.types import Command

    from beadline.workflows.bead.graph import build_bead_graph

    started = time.monotonic()
    options = record.options
    config = {"configurable": {"thread_id": record.thread_id}}

    def handle(event: Event) -> None:
        if event.get("event") == "stage_started":
            label = _stage_label(str(event.get("stage", "")), int(event.get("part", 0)))
            store.update(record.thread_id, last_stage=label)
        elif event.get("event") == "stage_failed" and link is not None:
            note = note_failure(link, event)
            if note:
                _emit(on_event, note)
        _emit(on_event, event)

    with store.lock(record.thread_id), ExitStack() as stack:
        executor = runtime.make_sandbox(
            str(options.get("sandbox", "auto")),
            site_packages=list(options.get("site_packages") or ()),
            image=options.get("image"),
        )
        stack.callback(executor.close)
        generator = runtime.open_generator(
            ModelChoice.model_validate(options.get("model") or {}),
            executor,
            stack,
            decode_seconds=float(options.get("decode_seconds", runtime.DECODE_SECONDS)),
            context_tokens=int(options.get("context_tokens", runtime.CONTEXT_TOKENS)),
            environ=os.environ if environ is None else environ,
        )
        # the graph writes (and re-checks) the validated module itself, with this sandbox
        in_repo = bool(record.repo)
        graph = build_bead_graph(
            generator,
            executor,
            checkpointer=store.checkpointer,
            review=bool(options["review"]),
            apply=in_repo,
            dry_run=in_repo and bool(options.get("dry_run")),
        )
        if graph_input is None:
            _emit(on_event, _restored(graph, config))
        if decision is not None:
            if not pending_interrupts(graph, config):
                raise UserError(
                    f"thread {record.thread_id!r} is not waiting for a review (it is "
                    f"{record.status}); resume it without a decision"
                )
            graph_input = Command(resume=decision)
        store.update(record.thread_id, status="running", outcome=None)
        try:
            values = drive(graph, graph_input, config, reviewer=reviewer, on_event=handle)
        except (KeyboardInterrupt, EOFError):
            store.update(record.thread_id, status="interrupted")
            raise
        except BaseException:
            store.update(record.thread_id, status="stopped")
            raise
    seconds = time.monotonic() - started
    if "__interrupt__" in values:
        question = values["__interrupt__"][0]
        waiting = RunOutcome.waiting(
            record, values, question, seconds=seconds, tracker=link.describe() if link else None
        )
        store.update(record.thread_id, status="waiting_review", outcome=waiting.to_json())
        return waiting
    outcome = conclude(record, values, link, seconds=seconds, on_event=on_event)
    store.update(record.thread_id, status=outcome.status, outcome=outcome.to_json())
    return outcome


def _restored(graph: Any, config: Mapping[str, Any]) -> Event:
    """What a resumed thread kept (the ``restored`` event): its attempts and approvals
    (``history``), the ``baseline`` verdict, and the question it waits on (``pending``, when
    ``waiting``) — so a progress view can show the stages kept before new events arrive."""
    values = dict(graph.get_state(config).values)
    pending = values.get("pending")
    return {
        "event": "restored",
        "bead": values.get("bead_id", ""),
        "history": list(values.get("history") or []),
        "baseline": values.get("baseline"),
        "stage": values.get("stage"),
        "part": int(values.get("part") or 0),
        "pending": dict(pending) if isinstance(pending, Mapping) else None,
        "waiting": bool(pending_interrupts(graph, config)),
    }


def _locate(
    thread: str, *, repo: Path | None, db: str | None, index: Path | None, cwd: Path
) -> str:
    """The store holding ``thread``: ``db``, else the repository's, else the current
    directory's repository's, else the one the thread index names."""
    if db is not None:
        if not is_postgres(db) and not Path(db).is_file():
            raise UserError(f"state database {db!r} not found; pass --db PATH or --repo DIR")
        return db
    if repo is not None:
        path = default_db(repo.resolve())
        if not path.is_file():
            raise UserError(
                f"no bead runs in {repo} (no {path.relative_to(repo.resolve())}); pass the "
                "repository the bead was built in (--repo DIR) or --db"
            )
        return str(path)
    tried: list[str] = []
    for directory in (cwd.resolve(), *cwd.resolve().parents):
        candidate = default_db(directory)
        if candidate.is_file():
            with open_store(candidate) as store:
                if store.get(thread) is not None:
                    return str(candidate)
            tried.append(str(candidate))
            break
    if index is not None:
        found = ThreadIndex(index).find(thread)
        if found is not None:
            return found
    where = f" (looked in {tried[0]} and the thread index)" if tried else ""
    raise UserError(
        f"no bead run with thread {thread!r} found{where}; pass --repo DIR (the repository the "
        "bead was built in) or --db, or list threads with `beadline bead threads`"
    )


def _record(store: RunStore, thread: str) -> ThreadRecord:
    record = store.get(thread)
    if record is None:
        known = ", ".join(r.thread_id for r in store.threads()[:8])
        raise UserError(
            f"no bead run with thread {thread!r} in {store.location}; known threads: "
            f"{known or '(none)'}"
        )
    return record


def resume_run(
    thread: str,
    *,
    repo: Path | None = None,
    db: str | None = None,
    index: Path | None = None,
    decision: Any = None,
    model: Mapping[str, str | None] | None = None,
    sandbox: str | None = None,
    dry_run: bool | None = None,
    on_event: EventHandler | None = None,
    reviewer: Reviewer | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunOutcome:
    """Continue a thread where it stopped (a review, an interrupt, a killed process).

    A finished thread is not run again: its stored outcome comes back with
    ``already_finished`` set, and its report is left as it was.

    Args:
        thread: The thread id.
        repo: The repository the bead was built in (finds ``REPO/.beadline/beads.sqlite``).
        db: The store (overrides ``repo``).
        index: The per-user thread index (used when neither is given and the current
            directory's repository does not hold the thread).
        decision: The answer to a pending review (``{"action": "approve"}``...).
        model: Fields of the model choice to change (``model``, ``backend``, ``base_url``,
            ``api_key_env``; see :meth:`ModelChoice.override`); the rest stays as stored.
        sandbox: Another sandbox.
        dry_run: Override the thread's dry-run setting.
        on_event: Receives progress events.
        reviewer: Answers further review questions.
        environ: Where the API key's variable is read.

    Raises:
        UserError: the thread is unknown, busy, or a decision was given with no question
            pending.
    """
    location = _locate(thread, repo=repo, db=db, index=index, cwd=Path.cwd())
    with open_store(location) as store:
        record = _record(store, thread)
        if record.outcome is not None and record.outcome.get("status") in FINAL_STATUSES:
            if decision is not None:
                raise UserError(
                    f"thread {thread!r} already finished ({record.outcome['status']}); there "
                    "is no question to answer"
                )
            return RunOutcome.from_json(record.outcome, already_finished=True)
        updates: dict[str, Any] = {}
        if model and any(v is not None for v in model.values()):
            stored = ModelChoice.model_validate(record.options.get("model") or {})
            changed = stored.override(**{k: v for k, v in model.items() if v is not None})
            updates["model"] = changed.anchored(Path.cwd()).model_dump(mode="json")
        if sandbox is not None:
            updates["sandbox"] = sandbox
        if dry_run is not None:
            updates["dry_run"] = dry_run
        if updates:
            record.options = {**record.options, **updates}
            store.save(record)
        link = TrackerLink.from_json(record.options.get("tracker"), record.repo)
        _emit(on_event, _started(record, store, link, resumed=True))
        return _execute(
            store,
            record,
            None,
            link,
            on_event=on_event,
            reviewer=reviewer,
            environ=environ,
            decision=decision,
        )


def _stage_label(stage: str, part: int) -> str:
    return f"body part {part + 1}" if stage == "body" else stage


def _checkpoint_stage(store: RunStore, thread_id: str) -> str | None:
    """The stage a thread's last checkpoint says comes next (the one in flight when a
    process died), or ``None``."""
    saved = store.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    if saved is None:
        return None
    values = saved.checkpoint.get("channel_values") or {}
    stage = values.get("stage")
    if stage not in ("signature", "setup", "body", "integration"):
        return None
    return _stage_label(str(stage), int(values.get("part") or 0))


def _info(record: ThreadRecord, store: RunStore) -> ThreadInfo:
    status = record.status
    if status == "running" and not store.is_locked(record.thread_id):
        status = "stopped"  # the process running it died (kill -9, a crash)
    last_stage = record.last_stage
    if status not in FINAL_STATUSES and status != "running":
        last_stage = _checkpoint_stage(store, record.thread_id) or last_stage
    outcome = record.outcome or {}
    return ThreadInfo(
        thread_id=record.thread_id,
        bead_id=record.bead_id,
        repo=record.repo,
        status=status,
        last_stage=last_stage,
        created_at=record.created_at,
        updated_at=record.updated_at,
        db=store.location,
        report=outcome.get("report_md"),
        message=str(outcome.get("message", "")),
    )


def list_threads(
    *, repo: Path | None = None, db: str | None = None, index: Path | None = None
) -> list[ThreadInfo]:
    """The threads of a store (``db``, or ``repo``'s), most recently updated first; without
    either, those of every store in the thread index.

    Raises:
        UserError: neither is given and there is no index.
    """
    locations: list[str]
    if db is not None or repo is not None:
        locations = [db or str(default_db(repo.resolve()))]  # type: ignore[union-attr]
        if db is None and not Path(locations[0]).is_file():
            return []
    elif index is not None:
        locations = ThreadIndex(index).stores()
    else:
        raise UserError("pass --repo DIR or --db to list its threads")
    infos: list[ThreadInfo] = []
    for location in locations:
        if not is_postgres(location) and not Path(location).is_file():
            continue
        with open_store(location) as store:
            infos.extend(_info(r, store) for r in store.threads())
    return sorted(infos, key=lambda i: i.updated_at, reverse=True)


def get_thread(
    thread: str, *, repo: Path | None = None, db: str | None = None, index: Path | None = None
) -> tuple[ThreadInfo, RunOutcome | None]:
    """One thread's listing line and, when it ended or waits for review, its outcome.

    Raises:
        UserError: the thread is unknown.
    """
    location = _locate(thread, repo=repo, db=db, index=index, cwd=Path.cwd())
    with open_store(location) as store:
        record = _record(store, thread)
        info = _info(record, store)
        if record.outcome is not None:
            finished = record.outcome.get("status") in FINAL_STATUSES
            return info, RunOutcome.from_json(record.outcome, already_finished=finished)
        return info, None


def ready(
    repo: Path, *, beads_file: Path | None = None, actor: str | None = None
) -> tuple[Tracker, list[Any]]:
    """The tracker of ``repo`` and its ready beads (highest priority first), each with its
    bead or why it is not one (:class:`~beadline.workflows.bead.tracker.ReadyBead`).

    Raises:
        UserError: no tracker in ``repo``.
    """
    from beadline.workflows.bead.tracker import DEFAULT_ACTOR

    root = repo if beads_file is not None else (find_tracker_root(repo) or repo)
    tracker = open_tracker(root, beads_file=beads_file, actor=actor or DEFAULT_ACTOR)
    return tracker, ready_beads(tracker)


def next_ready_bead(
    repo: Path, *, beads_file: Path | None = None, actor: str | None = None
) -> tuple[str, list[tuple[str, str]]]:
    """The highest-priority ready bead that can be built, and the ones skipped before it.

    Returns:
        ``(bead id, [(skipped id, why), ...])``.

    Raises:
        UserError: no ready bead can be built (the message lists why for each).
    """
    tracker, beads = ready(repo, beads_file=beads_file, actor=actor)
    skipped: list[tuple[str, str]] = []
    for item in beads:
        if item.bead is not None:
            return item.issue.id, skipped
        skipped.append((item.issue.id, item.problem))
    if not beads:
        raise UserError(f"no ready beads in {tracker.describe()}")
    reasons = "; ".join(f"{i}: {why}" for i, why in skipped[:5])
    raise UserError(f"none of the {len(beads)} ready beads can be built ({reasons})")
