"""Loading a bead: from a YAML file, or from a ``bd`` tracker's ``.beads/issues.jsonl`` by id.

Both produce a validated :class:`~beadline.workflows.bead.spec.Bead`
(:func:`~beadline.workflows.bead.spec.parse_bead`); anything invalid raises
:class:`~beadline.workflows.errors.BeadError` naming the field and the fix.

A ``bd`` issue carries the same information as a YAML bead in its text fields: the tests are the
``assert`` lines of fenced code blocks in ``acceptance_criteria`` (or ``design``); the target and
the command are ``key: value`` lines (``file:``, ``function:``, ``signature:``, ``command:``) in
``design`` or ``notes``, or a fenced ``yaml`` block there holding ``target``/``integration``/
``budgets`` like a YAML bead. The function name defaults to the one the tests call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from beadline.workflows.bead.spec import Bead, entry_point_of_tests, parse_bead
from beadline.workflows.errors import BeadError

__all__ = ["bead_from_issue", "load_bead", "load_bead_file", "load_bead_from_jsonl"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


_KEY_LINE = re.compile(
    r"^\s*[-*]?\s*\**(file|function|signature|command|integration)\**\s*:\s*(.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


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


def _fenced(text: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text or "")]


def _assert_lines(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip().startswith("assert ")]


def bead_from_issue(issue: Mapping[str, Any], *, source: str = "") -> Bead:
    """Turn a ``bd`` issue (one JSON object of ``issues.jsonl``) into a bead.

    Raises:
        BeadError: the issue lacks tests, a target file, or holds invalid values.
    """
    issue_id = str(issue.get("id", ""))
    where = source or f"issue {issue_id!r}"
    texts = {
        k: str(issue.get(k) or "")
        for k in ("description", "design", "acceptance_criteria", "notes")
    }
    tests: list[str] = []
    for field in ("acceptance_criteria", "design"):
        for lang, block in _fenced(texts[field]):
            if lang in ("", "python", "py"):
                tests.extend(_assert_lines(block))
    data: dict[str, Any] = {}
    for field in ("design", "notes"):
        for lang, block in _fenced(texts[field]):
            if lang in ("yaml", "yml"):
                try:
                    loaded = yaml.safe_load(block)
                except yaml.YAMLError as exc:
                    raise BeadError(
                        f"{where}: the yaml block in {field} does not parse: {exc}"
                    ) from None
                if isinstance(loaded, dict):
                    data.update(loaded)
    target: dict[str, Any] = dict(data.pop("target", None) or {})
    for field in ("design", "notes"):
        plain = _FENCE.sub("", texts[field])
        for match in _KEY_LINE.finditer(plain):
            key, value = match.group(1).lower(), match.group(2).strip().strip("`")
            if key in ("file", "function", "signature"):
                target.setdefault(key, value)
            elif "integration" not in data:
                data["integration"] = {"command": value}
    if "function" not in target:
        found = entry_point_of_tests(tests)
        if found:
            target["function"] = found
    if "file" not in target:
        raise BeadError(
            f"{where}: no target file; add a line `file: path/to/module.py` to the issue's design "
            "(or a ```yaml block with `target: {file: ..., function: ...}`)"
        )
    if not tests and "tests" not in data and "test_file" not in data:
        raise BeadError(
            f"{where}: no tests; put `assert ...` lines in a fenced ```python block in the "
            "issue's acceptance_criteria (or design)"
        )
    description = texts["description"].strip() or str(issue.get("title") or "").strip()
    data.setdefault("tests", tests)
    data.update(
        id=issue_id,
        title=str(issue.get("title") or ""),
        description=description,
        target=target,
        notes="\n\n".join(t for t in (texts["design"], texts["notes"]) if t.strip()),
    )
    return parse_bead(data, source=where)


def load_bead_from_jsonl(path: Path, bead_id: str) -> Bead:
    """Load the issue ``bead_id`` from a ``bd`` tracker file (``.beads/issues.jsonl``).

    Raises:
        BeadError: the file is missing or unreadable, or no issue has that id (the message lists
            a few known ids), or the issue is not a valid bead.
    """
    if not path.is_file():
        raise BeadError(
            f"beads file {str(path)!r} not found; pass --beads-file PATH or run in a repository "
            "with .beads/issues.jsonl"
        )
    known: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            issue = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BeadError(
                f"{path}:{number} is not valid JSON ({exc.msg}); fix or remove that line"
            ) from None
        if not isinstance(issue, dict):
            continue
        if str(issue.get("id")) == bead_id:
            bead = bead_from_issue(issue, source=f"{path}:{number} ({bead_id})")
            if bead.repo is None and path.parent.name == ".beads":
                # a tracker file lives in the repository it tracks
                bead = bead.model_copy(update={"repo": str(path.parent.parent.resolve())})
            return bead
        known.append(str(issue.get("id")))
    shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
    raise BeadError(f"no bead with id {bead_id!r} in {path}; known ids: {shown or '(none)'}")


def load_bead(ref: str, *, beads_file: Path | None = None) -> Bead:
    """Load a bead from a file path (YAML/JSON) or, failing that, by id from a tracker file.

    Args:
        ref: A bead file path or an issue id.
        beads_file: The tracker file for ids (default ``.beads/issues.jsonl``).

    Raises:
        BeadError: as :func:`load_bead_file` / :func:`load_bead_from_jsonl`.
    """
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        return load_bead_file(path)
    return load_bead_from_jsonl(beads_file or Path(".beads/issues.jsonl"), ref)
