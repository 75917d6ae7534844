"""Writes the ``bd --json`` outputs in this folder, derived from the beads source (no binary).

No ``bd`` binary can be installed here (see README.md), so these outputs are built from the
beads project's Go source at gastownhall/beads@7e3c7fbbe (bd 1.0.3+, May 2026): the JSON tags
and field order of ``internal/types/types.go`` (``Issue``, ``IssueWithCounts``,
``IssueDetails``, ``IssueWithDependencyMetadata``, ``Dependency``), the output calls of
``cmd/bd/{create,show,ready,list,update,close}.go`` and ``cmd/bd/output.go``, and the storage
rules in ``internal/storage/issueops`` (claim, close, ready, dependency counts). Each rule used
is named where it is applied. Re-run with ``python tests/data/bd/_derive.py`` after a change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE  # main(out=...) writes elsewhere (the test that checks these files are current)
ACTOR = "Dev One"  # git config user.name: getActorWithGit() when BEADS_ACTOR is unset
OWNER = "dev@example.com"  # git config user.email: getOwner()


def ts(minute: int, second: int = 0) -> str:
    # Read back from the database: UTC, whole seconds (as in the beads repo's own issues.jsonl).
    return f"2026-12-03T07:{minute:02d}:{second:02d}Z"


def issue(
    id: str,
    title: str,
    *,
    created: str,
    priority: int,
    issue_type: str,
    description: str = "",
    design: str = "",
    acceptance: str = "",
) -> dict[str, Any]:
    """An ``Issue`` as stored; keys in the Go struct's order, omitempty fields left out."""
    record: dict[str, Any] = {"id": id, "title": title}
    for key, value in (
        ("description", description),
        ("design", design),
        ("acceptance_criteria", acceptance),
    ):
        if value:
            record[key] = value
    record.update(
        status="open",
        priority=priority,
        issue_type=issue_type,
        owner=OWNER,
        created_at=created,
        created_by=ACTOR,
        updated_at=created,
    )
    return record


def ordered(record: dict[str, Any]) -> dict[str, Any]:
    """Re-order keys as the Go struct declares them (after updates added some at the end)."""
    order = [
        "id", "title", "description", "design", "acceptance_criteria", "notes", "status",
        "priority", "issue_type", "assignee", "owner", "created_at", "created_by", "updated_at",
        "started_at", "closed_at", "close_reason", "labels", "dependencies", "comments",
    ]  # fmt: skip
    return {key: record[key] for key in order if key in record}


def object_output(record: dict[str, Any]) -> dict[str, Any]:
    """outputJSON(obj): re-marshalled through a map (keys sorted) with schema_version added."""
    return dict(sorted({**record, "schema_version": 1}.items()))


def dep(issue_id: str, depends_on: str, kind: str, created: str) -> dict[str, Any]:
    """A ``Dependency`` record; AddDependencyInTx stores metadata "{}" when none is given."""
    return {
        "issue_id": issue_id,
        "depends_on_id": depends_on,
        "type": kind,
        "created_at": created,
        "created_by": ACTOR,
        "metadata": "{}",
    }


def with_counts(
    record: dict[str, Any], deps: list[dict[str, Any]], dependents: int
) -> dict[str, Any]:
    """``IssueWithCounts`` (list/ready): dependencies are records; counts are 'blocks' edges only
    (GetDependencyCountsInTx); parent comes from a parent-child record."""
    out = ordered({**record, **({"dependencies": deps} if deps else {})})
    out["dependency_count"] = sum(d["type"] == "blocks" for d in deps)
    out["dependent_count"] = dependents
    out["comment_count"] = 0
    parent = next((d["depends_on_id"] for d in deps if d["type"] == "parent-child"), None)
    if parent:
        out["parent"] = parent
    return out


def details(record: dict[str, Any], deps: list[tuple[dict[str, Any], str]],
            dependents: list[tuple[dict[str, Any], str]]) -> dict[str, Any]:  # fmt: skip
    """``IssueDetails`` (show): dependencies/dependents are whole issues + dependency_type."""
    out = ordered(record)
    if deps:
        out["dependencies"] = [{**ordered(i), "dependency_type": t} for i, t in deps]
    if dependents:
        out["dependents"] = [{**ordered(i), "dependency_type": t} for i, t in dependents]
    parent = next((i["id"] for i, t in deps if t == "parent-child"), None)
    if parent:
        out["parent"] = parent
    return out


def go_json(value: Any, **kwargs: Any) -> str:
    """json.dumps as Go's encoder writes it: UTF-8 kept, but <, > and & escaped (EscapeHTML)."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write(name: str, value: Any) -> None:
    # outputJSON: json.Encoder with SetIndent("", "  "), so two-space indent and a final newline.
    (OUT / name).write_text(go_json(value, indent=2) + "\n", encoding="utf-8")


def main(out: Path = HERE) -> None:
    """Write every file of the scenario into ``out``."""
    global OUT
    OUT = out
    feature = issue(
        "bd-k3x",
        "Add a slugify helper",
        created=ts(1),
        priority=1,
        issue_type="feature",
        description="Add `slugify(text: str) -> str` to `textkit/slug.py`.\n\n"
        "- assert slugify('Hello World') == 'hello-world'\n"
        "- assert slugify('  a  b ') == 'a-b'",
        design="Lower-case, replace runs of non-alphanumerics with '-', strip '-' at both ends.",
        acceptance="```python\nassert slugify('Déjà vu') == 'deja-vu'\n```\n"
        "Integration: run the tests\nIntegration: pytest -q tests/test_slug.py",
    )
    task = issue(
        "bd-7qm",
        "Parse config files",
        created=ts(2),
        priority=2,
        issue_type="task",
        description="Read `textkit.toml` into a `Config` dataclass.",
    )
    blocked = issue(
        "bd-a9w",
        "Write the CLI",
        created=ts(3),
        priority=0,
        issue_type="task",
        description="A `textkit` command that slugifies its arguments.",
    )
    child = issue(
        "bd-k3x.1",
        "Handle unicode in slugify",
        created=ts(4),
        priority=1,
        issue_type="task",
        description="Transliterate accents: assert slugify('Ça va') == 'ca-va'",
    )
    # create --json prints the in-memory issue: CreatedAt = time.Now().UTC() at full precision.
    for name, record, created in (
        ("create_feature.json", feature, "2026-12-03T07:01:00.412093811Z"),
        ("create_task.json", task, "2026-12-03T07:02:00.118273645Z"),
        ("create_blocked.json", blocked, "2026-12-03T07:03:00.907152338Z"),
        ("create_child.json", child, "2026-12-03T07:04:00.330418207Z"),
    ):
        write(name, object_output({**record, "created_at": created, "updated_at": created}))

    # bd create "Write the CLI" --deps bd-7qm: a bare id (or depends-on:/blocked-by:) means the
    # new issue depends on it; an explicit blocks:X means the new issue blocks X (create.go).
    blocked_deps = [dep("bd-a9w", "bd-7qm", "blocks", ts(3))]
    child_deps = [dep("bd-k3x.1", "bd-k3x", "parent-child", ts(4))]

    write("show_feature.json", [details(feature, [], [(child, "parent-child")])])
    write("show_blocked.json", [details(blocked, [(task, "blocks")], [])])
    write("show_child.json", [details(child, [(feature, "parent-child")], [])])

    # ready: status open, not blocked by an open 'blocks' edge, parent not blocked; sorted
    # priority ASC, created_at DESC, id ASC (default --sort priority; ready_work.go).
    write(
        "ready.json",
        [
            with_counts(child, child_deps, 0),
            with_counts(feature, [], 0),
            with_counts(task, [], 1),
        ],
    )
    # list (default: everything not closed), same ORDER BY in search.go.
    write(
        "list.json",
        [
            with_counts(blocked, blocked_deps, 0),
            with_counts(child, child_deps, 0),
            with_counts(feature, [], 0),
            with_counts(task, [], 1),
        ],
    )

    # BEADS_ACTOR=beadline bd update bd-k3x.1 --claim --json: ClaimIssueInTx sets assignee,
    # status in_progress, updated_at and (first time) started_at; update prints a list of the
    # re-fetched issues (GetIssue: labels only, no dependencies).
    claimed = {**child, "status": "in_progress", "assignee": "beadline",
               "updated_at": ts(5), "started_at": ts(5)}  # fmt: skip
    write("update_claim.json", [ordered(claimed)])
    noted = {**claimed, "updated_at": ts(6),
             "notes": "beadline: stage 2/3 (partial) failed: assert slugify('Ça va') == 'ca-va'"}  # fmt: skip
    write("update_append_notes.json", [ordered(noted)])
    noted2 = {**noted, "updated_at": ts(7), "notes": noted["notes"]
              + "\nbeadline: stage 2/3 (partial) passed on retry 2"}  # fmt: skip
    write("update_append_notes_again.json", [ordered(noted2)])
    closed = {**noted2, "status": "closed", "updated_at": ts(8), "closed_at": ts(8),
              "close_reason": "beadline: built; report .beadline/reports/bd-k3x.1.md"}  # fmt: skip
    write("close.json", [ordered(closed)])
    blocked_task = {**task, "status": "blocked", "updated_at": ts(9),
                    "notes": "beadline: budget exhausted (120 s) at stage 1/2 (compiles)"}  # fmt: skip
    write("update_blocked.json", [ordered(blocked_task)])

    # After: bd-k3x.1 closed, bd-7qm blocked (status filter), bd-a9w still blocked by bd-7qm
    # (only closed/pinned blockers stop blocking). Only the feature is ready.
    write("ready_after.json", [with_counts(feature, [], 0)])
    # FatalErrorRespectJSON -> jsonStdoutError: {"error": ..., "schema_version": 1} on stdout.
    write("show_missing.json", {"error": "no issues found matching the provided IDs",
                                "schema_version": 1})  # fmt: skip

    # .beads/issues.jsonl (auto-export, export_auto.go): one exportIssueRecord per line:
    # "_type": "issue", the Issue with labels/dependencies/comments, then the counts. Written
    # compactly by json.Encoder (one object per line), ordered as SearchIssues returns them.
    lines = [
        {"_type": "issue", **with_counts(blocked, blocked_deps, 0)},
        {"_type": "issue", **with_counts(closed, child_deps, 0)},
        {"_type": "issue", **with_counts(feature, [], 0)},
        {"_type": "issue", **with_counts(blocked_task, [], 1)},
    ]
    for line in lines:  # the export record has no computed parent field
        line.pop("parent", None)
    (OUT / "issues.jsonl").write_text(
        "".join(go_json(line, separators=(",", ":")) + "\n" for line in lines),
        encoding="utf-8",
    )
    write("scenario.json", SCENARIO)


# The commands, in order, in a scratch git repository (user.name "Dev One", user.email
# dev@example.com) after `bd init --prefix bd --quiet --non-interactive --skip-hooks
# --skip-agents` (exit 0, no output; init has no --json). "stdout" names the file holding the
# command's stdout (null: empty); "stderr" is its stderr text. A failed update/close prints
# nothing on stdout even with --json (update.go/close.go print per-issue errors to stderr and
# exit 1 when nothing was updated); show --json of an unknown id prints a JSON error on stdout.
SCENARIO: list[dict[str, Any]] = [
    {
        "argv": [
            "bd",
            "create",
            "Add a slugify helper",
            "-t",
            "feature",
            "-p",
            "1",
            "-d",
            "...",
            "--design",
            "...",
            "--acceptance",
            "...",
            "--json",
        ],
        "env": {},
        "exit": 0,
        "stdout": "create_feature.json",
        "stderr": "",
    },
    {
        "argv": [
            "bd",
            "create",
            "Parse config files",
            "-t",
            "task",
            "-p",
            "2",
            "-d",
            "...",
            "--json",
        ],
        "env": {},
        "exit": 0,
        "stdout": "create_task.json",
        "stderr": "",
    },
    {
        "argv": [
            "bd",
            "create",
            "Write the CLI",
            "-t",
            "task",
            "-p",
            "0",
            "-d",
            "...",
            "--deps",
            "bd-7qm",
            "--json",
        ],
        "env": {},
        "exit": 0,
        "stdout": "create_blocked.json",
        "stderr": "",
    },
    {
        "argv": [
            "bd",
            "create",
            "Handle unicode in slugify",
            "--parent",
            "bd-k3x",
            "-t",
            "task",
            "-p",
            "1",
            "-d",
            "...",
            "--json",
        ],
        "env": {},
        "exit": 0,
        "stdout": "create_child.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "show", "bd-k3x", "--json"],
        "env": {},
        "exit": 0,
        "stdout": "show_feature.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "show", "bd-a9w", "--json"],
        "env": {},
        "exit": 0,
        "stdout": "show_blocked.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "show", "bd-k3x.1", "--json"],
        "env": {},
        "exit": 0,
        "stdout": "show_child.json",
        "stderr": "",
    },
    {"argv": ["bd", "ready", "--json"], "env": {}, "exit": 0, "stdout": "ready.json", "stderr": ""},
    {"argv": ["bd", "list", "--json"], "env": {}, "exit": 0, "stdout": "list.json", "stderr": ""},
    {
        "argv": ["bd", "update", "bd-k3x.1", "--claim", "--json"],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 0,
        "stdout": "update_claim.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "update", "bd-k3x.1", "--claim", "--json"],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 0,
        "stdout": "update_claim.json",
        "stderr": "",
        "note": "idempotent: re-claiming an in_progress issue you hold succeeds, nothing changes",
    },
    {
        "argv": ["bd", "update", "bd-k3x.1", "--claim", "--json"],
        "env": {"BEADS_ACTOR": "alice"},
        "exit": 1,
        "stdout": None,
        "stderr": "Error claiming bd-k3x.1: issue already claimed by beadline\n",
    },
    {
        "argv": [
            "bd",
            "update",
            "bd-k3x.1",
            "--append-notes",
            "beadline: stage 2/3 (partial) failed: assert slugify('Ça va') == 'ca-va'",
            "--json",
        ],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 0,
        "stdout": "update_append_notes.json",
        "stderr": "",
    },
    {
        "argv": [
            "bd",
            "update",
            "bd-k3x.1",
            "--append-notes",
            "beadline: stage 2/3 (partial) passed on retry 2",
            "--json",
        ],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 0,
        "stdout": "update_append_notes_again.json",
        "stderr": "",
        "note": "--append-notes joins with a newline; --notes replaces",
    },
    {
        "argv": [
            "bd",
            "close",
            "bd-k3x.1",
            "--reason",
            "beadline: built; report .beadline/reports/bd-k3x.1.md",
            "--json",
        ],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 0,
        "stdout": "close.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "update", "bd-k3x.1", "--claim", "--json"],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 1,
        "stdout": None,
        "stderr": "Error claiming bd-k3x.1: issue not claimable: status closed\n",
    },
    {
        "argv": [
            "bd",
            "update",
            "bd-7qm",
            "--status",
            "blocked",
            "--append-notes",
            "beadline: budget exhausted (120 s) at stage 1/2 (compiles)",
            "--json",
        ],
        "env": {"BEADS_ACTOR": "beadline"},
        "exit": 0,
        "stdout": "update_blocked.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "ready", "--json"],
        "env": {},
        "exit": 0,
        "stdout": "ready_after.json",
        "stderr": "",
    },
    {
        "argv": ["bd", "show", "bd-zzz", "--json"],
        "env": {},
        "exit": 1,
        "stdout": "show_missing.json",
        "stderr": 'Error fetching bd-zzz: no issue found matching "bd-zzz"\n',
    },
]


if __name__ == "__main__":
    main()
