"""The issue tracker a bead comes from, and what a run writes back to it.

Two trackers, one interface (:class:`Tracker`):

* :class:`BdTracker` drives the ``bd`` CLI (when it is on PATH and the repository has a
  ``.beads/`` directory): beads are read with ``bd show ID --json`` / ``bd ready --json``, and a
  run writes back — it claims the bead on start (``bd update ID --claim``; a bead claimed by
  someone else is refused), appends a note on each stage failure (``--append-notes``), closes
  it on success with the report path as the reason (``bd close ID --reason``), and marks it
  ``blocked`` with the reason when it cannot be built (``bd update ID --status blocked``).
  Every write runs as the actor beadline was given (``BEADS_ACTOR``), so its claims are
  recognisable and claiming again is idempotent.
* :class:`JsonlTracker` reads the JSONL export (``.beads/issues.jsonl``) read-only: nothing is
  written back (:attr:`Tracker.writes_back` is false, and the CLI says so).

Both answer the questions a run asks before it starts (:func:`refusal`): a closed (or blocked,
deferred) bead, or one with open blocking dependencies, is refused unless forced. The facts
about bd's JSON these follow are in ``tests/data/bd/README.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from beadline.workflows.bead.loaders import bead_from_issue, parent_id, read_issues_jsonl
from beadline.workflows.bead.spec import Bead
from beadline.workflows.errors import BeadError, UserError

__all__ = [
    "BLOCKING_TYPES",
    "DEFAULT_ACTOR",
    "BdTracker",
    "ClaimError",
    "Issue",
    "JsonlTracker",
    "ReadyBead",
    "Tracker",
    "TrackerError",
    "find_tracker_root",
    "open_tracker",
    "ready_beads",
    "refusal",
]

DEFAULT_ACTOR = "beadline"
"""Who beadline's claims, notes and closes are written as (``--actor`` changes it; give each
worker its own when several share one tracker)."""

BLOCKING_TYPES = frozenset({"blocks", "waits-for", "conditional-blocks"})
"""Dependency types that keep an issue from being ready while the other issue is open."""

_DONE = frozenset({"closed", "pinned"})
_NOT_STARTABLE = frozenset({"closed", "blocked", "deferred", "pinned", "tombstone"})


class TrackerError(UserError):
    """Raised by a tracker when ``bd`` fails or its output cannot be read."""


class ClaimError(TrackerError):
    """Raised by :meth:`Tracker.claim` when the bead is claimed by someone else (or not open)."""


@dataclass(frozen=True, kw_only=True)
class Issue:
    """An issue as a tracker returned it, with what a run needs to know about it."""

    id: str
    title: str
    status: str
    priority: int
    issue_type: str
    assignee: str | None
    blockers: tuple[str, ...]
    """Open issues this one waits for (``blocks``-type dependencies), ``ID (status)``."""
    raw: dict[str, Any] = field(repr=False)
    """The issue's fields as the tracker gave them."""
    parent: dict[str, Any] | None = field(default=None, repr=False)
    """The parent issue's fields, for a child (``bd-a1b2.1``)."""

    def bead(self) -> Bead:
        """The issue as a bead (:func:`~beadline.workflows.bead.loaders.bead_from_issue`).

        Raises:
            BeadError: the issue is not a buildable bead (no tests, no target...).
        """
        return bead_from_issue(self.raw, source=f"issue {self.id!r}", parent=self.parent)


@dataclass(frozen=True, kw_only=True)
class ReadyBead:
    """One line of ``beadline bead ready``."""

    issue: Issue
    bead: Bead | None
    """The issue as a bead, or ``None`` when it is not one (see ``problem``)."""
    problem: str = ""
    """Why the issue cannot be built (empty when ``bead`` is set)."""


def refusal(issue: Issue, *, actor: str = DEFAULT_ACTOR, force: bool = False) -> str | None:
    """Why a run must not start on ``issue``, or ``None``.

    A bead another actor is working on is always refused. Without ``force``, so is a closed,
    blocked, deferred or pinned bead and one with open blocking dependencies. Each message
    names the way out.
    """
    if issue.status == "in_progress" and issue.assignee and issue.assignee != actor:
        return (
            f"bead {issue.id} is claimed by {issue.assignee}; leave it to them, or ask them to "
            "release it"
        )
    if force:
        return None
    if issue.status in _NOT_STARTABLE:
        hint = "reopen it" if issue.status == "closed" else "unblock it"
        return (
            f"bead {issue.id} is {issue.status}; {hint} in the tracker, or pass --force to build "
            "it anyway"
        )
    if issue.blockers:
        return (
            f"bead {issue.id} waits for {', '.join(issue.blockers)}; finish those first, or pass "
            "--force to build it anyway"
        )
    return None


class Tracker(ABC):
    """Where beads come from and where a run reports back."""

    name: ClassVar[str]
    """``bd`` or ``jsonl``."""
    writes_back: ClassVar[bool]
    """Whether claim/notes/close/block reach the tracker."""
    location: Path
    """The repository (``bd``) or the export file (``jsonl``)."""
    actor: str = DEFAULT_ACTOR
    """Who writes are recorded as."""

    @abstractmethod
    def show(self, issue_id: str) -> Issue:
        """One issue. Raises :class:`~beadline.workflows.errors.BeadError` when unknown."""

    @abstractmethod
    def ready(self) -> list[Issue]:
        """Open issues nothing blocks, highest priority (lowest number) first."""

    @abstractmethod
    def describe(self) -> str:
        """One line for people: which tracker, where, and whether it is written back."""

    def claim(self, issue_id: str) -> None:
        """Take the bead (raises :class:`ClaimError` when someone else holds it)."""
        self._read_only()

    def append_notes(self, issue_id: str, text: str) -> None:
        """Add a line to the bead's notes."""
        self._read_only()

    def close(self, issue_id: str, reason: str) -> None:
        """Close the bead, with the reason."""
        self._read_only()

    def block(self, issue_id: str, reason: str) -> None:
        """Mark the bead blocked, with the reason in its notes."""
        self._read_only()

    def reopen(self, issue_id: str, reason: str) -> None:
        """Set the bead back to open, with the reason in its notes."""
        self._read_only()

    def _read_only(self) -> None:
        raise TrackerError(f"{self.describe()}: it is read-only")


def _normalise(
    raw: Mapping[str, Any], status_of: Callable[[str], str | None], parent: dict[str, Any] | None
) -> Issue:
    blockers: list[str] = []
    for dep in raw.get("dependencies") or ():
        if not isinstance(dep, Mapping):
            continue
        kind = dep.get("dependency_type") or dep.get("type")
        if kind not in BLOCKING_TYPES:
            continue
        other = str(dep.get("depends_on_id") or dep.get("id"))
        # `bd show` embeds the other issue (with its status); the export only names it
        status = str(dep["status"]) if "status" in dep else status_of(other)
        if status is None:
            blockers.append(f"{other} (not in the tracker)")
        elif status not in _DONE:
            blockers.append(f"{other} ({status})")
    try:
        priority = int(raw.get("priority", 2))
    except (TypeError, ValueError):
        priority = 2
    return Issue(
        id=str(raw.get("id", "")),
        title=str(raw.get("title") or ""),
        status=str(raw.get("status") or "open"),
        priority=priority,
        issue_type=str(raw.get("issue_type") or "task"),
        assignee=str(raw["assignee"]) if raw.get("assignee") else None,
        blockers=tuple(blockers),
        raw=dict(raw),
        parent=parent,
    )


class JsonlTracker(Tracker):
    """The ``bd`` JSONL export, read-only (used when ``bd`` is not installed).

    Args:
        path: The export, usually ``REPO/.beads/issues.jsonl``.
    """

    name: ClassVar[str] = "jsonl"
    writes_back: ClassVar[bool] = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = path

    def describe(self) -> str:
        return f"{self.path} (read-only: nothing is written back)"

    def _all(self) -> dict[str, dict[str, Any]]:
        read = read_issues_jsonl(self.path)
        return {str(issue.get("id")): issue for _, issue in read.issues}

    def _issue(self, raw: Mapping[str, Any], issues: Mapping[str, dict[str, Any]]) -> Issue:
        def status_of(other: str) -> str | None:
            found = issues.get(other)
            return str(found.get("status") or "open") if found is not None else None

        parent = issues.get(parent_id(raw) or "")
        return _normalise(raw, status_of, parent)

    def show(self, issue_id: str) -> Issue:
        issues = self._all()
        if issue_id not in issues:
            known = ", ".join(list(issues)[:8]) + (" ..." if len(issues) > 8 else "")
            raise BeadError(
                f"no bead with id {issue_id!r} in {self.path}; known ids: {known or '(none)'}"
            )
        return self._issue(issues[issue_id], issues)

    def ready(self) -> list[Issue]:
        issues = self._all()
        normalised = {i: self._issue(raw, issues) for i, raw in issues.items()}

        def blocked(issue: Issue, depth: int = 0) -> bool:
            # children of a blocked issue are blocked too (bd's rule)
            if issue.blockers or depth > 8:
                return bool(issue.blockers)
            parent = normalised.get(parent_id(issue.raw) or "")
            return parent is not None and blocked(parent, depth + 1)

        ready = [
            i
            for i in normalised.values()
            if i.status == "open" and not i.raw.get("ephemeral") and not blocked(i)
        ]
        return _ordered(ready)


def _ordered(issues: list[Issue]) -> list[Issue]:
    """bd's ``--sort priority``: priority ascending, then newest first, then id."""
    by_id = sorted(issues, key=lambda i: i.id)
    by_age = sorted(by_id, key=lambda i: str(i.raw.get("created_at") or ""), reverse=True)
    return sorted(by_age, key=lambda i: i.priority)


Runner = Callable[..., "subprocess.CompletedProcess[str]"]
"""``subprocess.run``-like (replaceable in tests)."""


class BdTracker(Tracker):
    """The ``bd`` CLI: read with ``--json``, write back as ``actor``.

    Args:
        repo: The repository (``bd`` runs there and finds its ``.beads/``).
        actor: Who the writes are recorded as (``BEADS_ACTOR``).
        executable: The ``bd`` program.
        runner: Runs a command (``subprocess.run``).
        timeout: Seconds one ``bd`` call may take.
    """

    name: ClassVar[str] = "bd"
    writes_back: ClassVar[bool] = True

    def __init__(
        self,
        repo: Path,
        *,
        actor: str = DEFAULT_ACTOR,
        executable: str = "bd",
        runner: Runner = subprocess.run,
        timeout: float = 60.0,
    ) -> None:
        self.repo = repo
        self.location = repo
        self.actor = actor
        self.executable = executable
        self.runner = runner
        self.timeout = timeout

    def describe(self) -> str:
        return f"bd in {self.repo} (written back as {self.actor})"

    def _call(self, *args: str) -> Any:
        argv = [self.executable, *args, "--json"]
        env = {**os.environ, "BEADS_ACTOR": self.actor}
        try:
            done = self.runner(
                argv,
                cwd=self.repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TrackerError(f"`bd {' '.join(args[:2])}` could not run: {exc}") from None
        payload: Any = None
        if done.stdout.strip():
            try:
                payload = json.loads(done.stdout)
            except json.JSONDecodeError:
                payload = None
        if isinstance(payload, dict) and set(payload) >= {"data"} and "schema_version" in payload:
            payload = payload["data"]  # BD_JSON_ENVELOPE=1 (bd 2.0's default)
        if done.returncode != 0:
            message = ""
            if isinstance(payload, dict) and payload.get("error"):
                message = str(payload["error"])
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            message = lines[-1].strip() if lines else message or f"exit status {done.returncode}"
            raise TrackerError(message)
        if payload is None:
            raise TrackerError(f"`bd {' '.join(args[:2])}` printed no JSON: {done.stdout[:200]!r}")
        return payload

    @staticmethod
    def _first(payload: Any, what: str) -> dict[str, Any]:
        if isinstance(payload, list) and payload and isinstance(payload[0], dict):
            return dict(payload[0])
        if isinstance(payload, dict) and "id" in payload:
            return dict(payload)
        raise TrackerError(f"`bd {what}` returned no issue")

    def show(self, issue_id: str) -> Issue:
        try:
            raw = self._first(self._call("show", issue_id), f"show {issue_id}")
        except TrackerError as exc:
            if "no issue" in str(exc) or "not found" in str(exc):
                raise BeadError(
                    f"no bead with id {issue_id!r} in bd ({self.repo}): {exc}; list them with "
                    "`beadline bead ready` or `bd list`"
                ) from None
            raise
        parent = None
        pid = parent_id(raw)
        if pid:
            for dep in raw.get("dependencies") or ():
                if isinstance(dep, Mapping) and str(dep.get("id")) == pid:
                    parent = dict(dep)
        return _normalise(raw, lambda _other: None, parent)

    def ready(self) -> list[Issue]:
        payload = self._call("ready")
        if not isinstance(payload, list):
            raise TrackerError("`bd ready` did not return a list")
        # `bd ready` lists only unblocked issues; their dependencies are edge records
        return [
            _normalise(raw, lambda _other: "closed", None)
            for raw in payload
            if isinstance(raw, dict)
        ]

    def parent_of(self, issue: Issue) -> dict[str, Any] | None:
        """The parent issue's fields (one ``bd show``), for a child from ``bd ready``."""
        pid = parent_id(issue.raw)
        if not pid:
            return None
        try:
            return self._first(self._call("show", pid), f"show {pid}")
        except TrackerError:
            return None

    def claim(self, issue_id: str) -> None:
        try:
            self._call("update", issue_id, "--claim")
        except TrackerError as exc:
            raise ClaimError(
                f"bead {issue_id} cannot be claimed: {_reason(exc, issue_id)}"
            ) from None

    def append_notes(self, issue_id: str, text: str) -> None:
        self._call("update", issue_id, "--append-notes", text)

    def close(self, issue_id: str, reason: str) -> None:
        self._call("close", issue_id, "--reason", reason)

    def block(self, issue_id: str, reason: str) -> None:
        self._call("update", issue_id, "--status", "blocked", "--append-notes", reason)

    def reopen(self, issue_id: str, reason: str) -> None:
        self._call("update", issue_id, "--status", "open", "--append-notes", reason)


def _reason(exc: Exception, issue_id: str) -> str:
    text = str(exc)
    for prefix in (f"Error claiming {issue_id}: ", "Error: "):
        text = text.removeprefix(prefix)
    return text


def find_tracker_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a ``.beads/`` directory."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / ".beads").is_dir():
            return directory
    return None


def open_tracker(
    repo: Path,
    *,
    beads_file: Path | None = None,
    actor: str = DEFAULT_ACTOR,
    which: Callable[[str], str | None] = shutil.which,
    runner: Runner = subprocess.run,
) -> Tracker:
    """The tracker of ``repo``: ``bd`` when it is on PATH (and ``beads_file`` is not given),
    else the JSONL export read-only.

    Args:
        repo: The repository the beads belong to.
        beads_file: An explicit JSONL export (read-only, even when ``bd`` is installed).
        actor: Who ``bd`` writes are recorded as.
        which: Finds ``bd`` on PATH.
        runner: Runs ``bd`` (tests pass a fake).

    Raises:
        BeadError: neither ``bd`` nor an export is there.
    """
    if beads_file is not None:
        return JsonlTracker(beads_file)
    bd = which("bd")
    if bd is not None and (repo / ".beads").is_dir():
        return BdTracker(repo, actor=actor, executable=bd, runner=runner)
    export = repo / ".beads" / "issues.jsonl"
    if not export.is_file():
        where = "bd is not on PATH and " if bd is None else ""
        raise BeadError(
            f"no tracker in {repo}: {where}there is no .beads/issues.jsonl; pass --repo DIR (the "
            "repository holding .beads/), --beads-file PATH, or a YAML bead file"
        )
    return JsonlTracker(export)


def ready_beads(tracker: Tracker, *, limit: int | None = None) -> list[ReadyBead]:
    """The tracker's ready issues, each with its bead or why it is not one.

    Args:
        tracker: Where to look.
        limit: At most this many issues (``None``: all).
    """
    out: list[ReadyBead] = []
    for issue in tracker.ready()[:limit]:
        if issue.parent is None and isinstance(tracker, BdTracker) and parent_id(issue.raw):
            issue = Issue(**{**issue.__dict__, "parent": tracker.parent_of(issue)})
        try:
            out.append(ReadyBead(issue=issue, bead=issue.bead()))
        except BeadError as exc:
            out.append(ReadyBead(issue=issue, bead=None, problem=_short(str(exc), issue.id)))
    return out


def _short(message: str, issue_id: str) -> str:
    return message.removeprefix(f"issue {issue_id!r}: ")
