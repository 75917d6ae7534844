"""Loading a bead: from a YAML file, or from a ``bd`` tracker's ``.beads/issues.jsonl`` by id.

Both produce a validated :class:`~beadline.workflows.bead.spec.Bead`
(:func:`~beadline.workflows.bead.spec.parse_bead`); anything invalid raises
:class:`~beadline.workflows.errors.BeadError` naming the field and the fix.

A ``bd`` issue carries the same information as a YAML bead in its text fields: the tests are its
``assert`` statements (fenced blocks, bullets, inline code), the target and the command are
``key: value`` lines (``file:``, ``function:``, ``signature:``, ``create:``, ``command:``,
``Integration:``)
or a fenced ``yaml`` block in ``design``/``notes`` holding ``target``/``integration``/``budgets``
like a YAML bead (the details: :mod:`beadline.workflows.bead._issue_text`). The function name
defaults to the one the tests call; a child issue without a target takes its parent's. A target
the module does not have yet is written new (an issue asks for work: "Add `slugify` to
textkit/slug.py"); ``create: false`` makes it an error instead.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from beadline.workflows.bead._issue_text import IssueText, read_issue_text, signature_from_prose
from beadline.workflows.bead.spec import Bead, entry_point_of_tests, parse_bead
from beadline.workflows.errors import BeadError

__all__ = [
    "BEAD_FILE_SUFFIXES",
    "JsonlIssues",
    "bead_from_issue",
    "is_bead_file",
    "load_bead",
    "load_bead_file",
    "load_bead_from_jsonl",
    "parent_id",
    "read_issues_jsonl",
]

_YAML_FENCE = re.compile(r"```[ \t]*ya?ml[^\n]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
BEAD_FILE_SUFFIXES = (".yaml", ".yml", ".json")
"""A bead reference with one of these suffixes is a file; anything else may be a tracker id
(``bd-a1b2.1`` is a child id, not a file with the extension ``.1``)."""


def load_bead_file(path: Path) -> Bead:
    """Load a bead from a YAML (or JSON) file. The id defaults to the file's stem.

    Raises:
        BeadError: the file is missing, does not parse, or the bead is invalid.
    """
    if not path.is_file():
        raise BeadError(f"bead file {str(path)!r} not found; pass a YAML bead file or a bead id")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BeadError(f"bead file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise BeadError(f"bead file {str(path)!r} must hold a mapping of fields (id, target, ...)")
    data.setdefault("id", path.stem)
    repo = data.get("repo")
    if isinstance(repo, str) and repo.strip() and not Path(repo).is_absolute():
        data["repo"] = str((path.parent / repo).resolve())
    return parse_bead(data, source=repr(str(path)))


def _yaml_blocks(texts: Mapping[str, str], where: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("design", "notes"):
        for match in _YAML_FENCE.finditer(texts.get(name, "")):
            try:
                loaded = yaml.safe_load(match.group(1))
            except yaml.YAMLError as exc:
                raise BeadError(
                    f"{where}: the yaml block in {name} does not parse: {exc}"
                ) from None
            if isinstance(loaded, dict):
                data.update(loaded)
    return data


def _issue_texts(issue: Mapping[str, Any]) -> dict[str, str]:
    return {
        k: str(issue.get(k) or "")
        for k in ("description", "design", "acceptance_criteria", "notes")
    }


def _target_from_text(
    read: IssueText, texts: Mapping[str, str], target: dict[str, Any], where: str
) -> None:
    for key in ("file", "function", "signature"):
        if key in read.keys:
            target.setdefault(key, read.keys[key])
    if "create" in read.keys:
        target.setdefault("create", read.keys["create"].lower() in ("true", "yes", "1", "on"))
    if "file" not in target:
        candidates = [p for p in read.paths if not PurePosixPath(p).name.startswith("test_")]
        if len(candidates) > 1:
            raise BeadError(
                f"{where}: the issue mentions several Python files ({', '.join(candidates)}); "
                "add a line `file: path/to/module.py` naming the target"
            )
        if candidates:
            target["file"] = candidates[0]


def bead_from_issue(
    issue: Mapping[str, Any],
    *,
    source: str = "",
    parent: Mapping[str, Any] | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> Bead:
    """Turn a ``bd`` issue (one JSON object of ``issues.jsonl`` or of ``bd show --json``) into
    a bead (how its prose is read: :mod:`beadline.workflows.bead._issue_text`).

    Args:
        issue: The issue's fields.
        source: Where it came from, for messages.
        parent: The parent issue of a child (``bd-a1b2.1``): a child that names no target
            file (or integration command) takes its parent's.
        which: Finds a program on PATH (deciding whether an ``Integration:`` line is a command).

    Raises:
        BeadError: the issue lacks tests, a target file, or holds invalid values.
    """
    issue_id = str(issue.get("id", ""))
    where = source or f"issue {issue_id!r}"
    texts = _issue_texts(issue)
    read = read_issue_text(texts, which=which)
    data = _yaml_blocks(texts, where)
    target: dict[str, Any] = dict(data.pop("target", None) or {})
    _target_from_text(read, texts, target, where)
    commands = list(read.commands)
    inherited: list[str] = []
    if parent is not None and ("file" not in target or not commands):
        parent_texts = _issue_texts(parent)
        parent_read = read_issue_text(parent_texts, which=which)
        parent_target: dict[str, Any] = dict(_yaml_blocks(parent_texts, where).get("target") or {})
        _target_from_text(parent_read, parent_texts, parent_target, where)
        if "file" not in target and "file" in parent_target:
            target["file"] = parent_target["file"]
            inherited.append(f"target file {parent_target['file']}")
            for key in ("function", "signature"):
                if key in parent_target:
                    target.setdefault(key, parent_target[key])
            function = target.get("function") or entry_point_of_tests(read.tests)
            if "signature" not in target and function:
                found = signature_from_prose(
                    (parent_texts["description"], parent_texts["design"]), str(function)
                )
                if found:
                    target["signature"] = found
        if not commands and "integration" not in data and parent_read.commands:
            commands = list(parent_read.commands)
            inherited.append(f"integration command `{commands[0]}`")
    if "function" not in target:
        found = entry_point_of_tests(read.tests)
        if found:
            target["function"] = found
    # An issue asks for work, usually a function that is not there yet ("Add `slugify` to
    # textkit/slug.py"): a missing target is written new unless the issue says `create: false`.
    target.setdefault("create", True)
    if "file" not in target:
        raise BeadError(
            f"{where}: no target file; add a line `file: path/to/module.py` to the issue's design "
            "(or a ```yaml block with `target: {file: ..., function: ...}`)"
        )
    if "signature" not in target and "function" in target:
        signature = signature_from_prose(
            (texts["description"], texts["design"]), str(target["function"])
        )
        if signature:
            target["signature"] = signature
    if len(commands) > 1 and "integration" not in data:
        raise BeadError(
            f"{where}: the issue gives {len(commands)} integration commands "
            f"({'; '.join(commands)}); keep one `Integration:` command (others can be prose)"
        )
    if commands and "integration" not in data:
        data["integration"] = {"command": commands[0]}
    if not read.tests and "tests" not in data and "test_file" not in data:
        raise BeadError(
            f"{where}: no tests; put `assert ...` lines in a fenced ```python block (or a "
            "`- assert ...` bullet) in the issue's acceptance_criteria, design or description"
        )
    description = texts["description"].strip() or str(issue.get("title") or "").strip()
    if read.requirements:
        description += "\n\nIntegration requirements (stated in the issue; not run as commands):\n"
        description += "\n".join(f"- {r}" for r in read.requirements)
    notes = [t for t in (texts["design"], texts["notes"]) if t.strip()]
    if inherited and parent is not None:
        notes.append(f"From the parent issue {parent.get('id')}: {', '.join(inherited)}.")
    data.setdefault("tests", list(read.tests))
    data.update(
        id=issue_id,
        title=str(issue.get("title") or ""),
        description=description,
        target=target,
        notes="\n\n".join(notes),
    )
    return parse_bead(data, source=where)


@dataclass(frozen=True, kw_only=True)
class JsonlIssues:
    """The issues of a ``bd`` JSONL export."""

    issues: list[tuple[int, dict[str, Any]]]
    """``(line number, issue)`` in file order."""
    problems: list[str]
    """One message per line that is not valid JSON (those lines are skipped)."""


def read_issues_jsonl(path: Path) -> JsonlIssues:
    """Read the issues of a ``bd`` JSONL export.

    Lines of another record type (``"_type"`` other than ``"issue"``) and blank lines are
    skipped; lines without ``_type`` (older bd versions) are issues. A line that is not JSON is
    skipped and reported in ``problems`` (one bad line must not hide every other issue).

    Raises:
        BeadError: the file is missing or unreadable.
    """
    if not path.is_file():
        raise BeadError(
            f"beads file {str(path)!r} not found; pass --beads-file PATH or --repo DIR (a "
            "repository with .beads/issues.jsonl)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BeadError(f"beads file {str(path)!r} cannot be read: {exc}") from None
    found = JsonlIssues(issues=[], problems=[])
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            issue = json.loads(line)
        except json.JSONDecodeError as exc:
            found.problems.append(
                f"{path}:{number} is not valid JSON ({exc.msg}); fix or remove that line"
            )
            continue
        if isinstance(issue, dict) and issue.get("_type", "issue") == "issue":
            found.issues.append((number, issue))
    return found


def parent_id(issue: Mapping[str, Any]) -> str | None:
    """The parent of a child issue: ``parent``, or its ``parent-child`` dependency."""
    if issue.get("parent"):
        return str(issue["parent"])
    for dep in issue.get("dependencies") or ():
        if isinstance(dep, Mapping):
            kind = dep.get("type") or dep.get("dependency_type")
            if kind == "parent-child":
                return str(dep.get("depends_on_id") or dep.get("id"))
    return None


def load_bead_from_jsonl(path: Path, bead_id: str) -> Bead:
    """Load the issue ``bead_id`` from a ``bd`` tracker file (``.beads/issues.jsonl``).

    Raises:
        BeadError: the file is missing or unreadable, or no issue has that id (the message lists
            a few known ids), or the issue is not a valid bead.
    """
    read = read_issues_jsonl(path)
    by_id = {str(issue.get("id")): (number, issue) for number, issue in read.issues}
    if bead_id not in by_id:
        if read.problems:
            raise BeadError(read.problems[0])
        known = list(by_id)
        shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
        raise BeadError(f"no bead with id {bead_id!r} in {path}; known ids: {shown or '(none)'}")
    number, issue = by_id[bead_id]
    parent = by_id.get(parent_id(issue) or "", (0, None))[1]
    bead = bead_from_issue(issue, source=f"{path}:{number} ({bead_id})", parent=parent)
    if bead.repo is None and path.parent.name == ".beads":
        # a tracker file lives in the repository it tracks
        bead = bead.model_copy(update={"repo": str(path.parent.parent.resolve())})
    return bead


def is_bead_file(ref: str) -> bool:
    """Whether a bead reference names a file (``.yaml``/``.yml``/``.json``, or an existing
    file) rather than a tracker id such as ``bd-a1b2.1``."""
    path = Path(ref)
    return path.suffix.lower() in BEAD_FILE_SUFFIXES or path.is_file()


def load_bead(ref: str, *, beads_file: Path | None = None) -> Bead:
    """Load a bead from a file path (YAML/JSON) or, failing that, by id from a tracker file.

    Args:
        ref: A bead file path or an issue id.
        beads_file: The tracker file for ids (default ``.beads/issues.jsonl``).

    Raises:
        BeadError: as :func:`load_bead_file` / :func:`load_bead_from_jsonl`.
    """
    if is_bead_file(ref):
        return load_bead_file(Path(ref))
    return load_bead_from_jsonl(beads_file or Path(".beads/issues.jsonl"), ref)
