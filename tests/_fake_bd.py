"""A stand-in ``bd`` (the beads issue tracker) for the bd loop's tests: no real bd installs here.

It implements the subset beadline uses — ``show``, ``ready``, ``list``, ``update`` (``--claim``,
``--append-notes``, ``--notes``, ``--status``), ``close --reason`` — all with ``--json``, keeping
its state in ``.beads/issues.jsonl`` of the current directory (the export a real bd writes, here
always current). Shapes, field order, claim rules, error texts and exit codes are those of the
outputs recorded in ``tests/data/bd`` (derived from bd 1.0.3's source; see the README there);
``tests/workflows/bead/test_fake_bd.py`` replays that recorded scenario against this program
and requires the same stdout, stderr and exit status at every step, and the same export at the
end. The actor is ``--actor``, else ``BEADS_ACTOR``; the clock is ``BD_FAKE_NOW`` when set.

Usage (the ``fake_bd`` fixture puts it on PATH as ``bd``)::

    python tests/_fake_bd.py show bd-k3x --json
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_DERIVE = Path(__file__).resolve().parent / "data" / "bd" / "_derive.py"
_spec = importlib.util.spec_from_file_location("bd_derive", _DERIVE)
assert _spec is not None and _spec.loader is not None
derive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(derive)

BLOCKING = {"blocks", "waits-for", "conditional-blocks"}
DONE = {"closed", "pinned"}
EXPORT = Path(".beads") / "issues.jsonl"
_DERIVED = {"dependency_count", "dependent_count", "comment_count", "parent", "_type"}


class Fail(Exception):
    """A bd error: stderr text, optional JSON on stdout, exit status 1."""

    def __init__(self, stderr: str, stdout: Any = None) -> None:
        super().__init__(stderr)
        self.stderr = stderr
        self.stdout = stdout


def now() -> str:
    return os.environ.get("BD_FAKE_NOW") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def load() -> dict[str, dict[str, Any]]:
    """id -> stored issue (the ``Issue`` fields plus ``dependencies`` edge records)."""
    if not EXPORT.is_file():
        raise Fail("Error: no beads database found (run bd init)\n")
    issues: dict[str, dict[str, Any]] = {}
    for line in EXPORT.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            issues[record["id"]] = {k: v for k, v in record.items() if k not in _DERIVED}
    return issues


def edges(issues: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for i in issues.values() for d in i.get("dependencies", [])]


def counted(issue: dict[str, Any], issues: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``IssueWithCounts`` (list/ready/export)."""
    own = list(issue.get("dependencies", []))
    base = {k: v for k, v in issue.items() if k != "dependencies"}
    dependents = sum(
        1 for d in edges(issues) if d["depends_on_id"] == issue["id"] and d["type"] == "blocks"
    )
    return derive.with_counts(base, own, dependents)


def ordered(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """priority ASC, created_at DESC, id ASC (bd's --sort priority)."""
    by_id = sorted(issues, key=lambda i: i["id"])
    by_age = sorted(by_id, key=lambda i: i["created_at"], reverse=True)
    return sorted(by_age, key=lambda i: i["priority"])


def save(issues: dict[str, dict[str, Any]]) -> None:
    lines = []
    for issue in ordered(list(issues.values())):
        record = {"_type": "issue", **counted(issue, issues)}
        record.pop("parent", None)  # the export record has no computed parent
        lines.append(derive.go_json(record, separators=(",", ":")) + "\n")
    EXPORT.write_text("".join(lines), encoding="utf-8")


def plain(issue: dict[str, Any]) -> dict[str, Any]:
    """What update/close print: the issue re-fetched without its dependencies."""
    return derive.ordered({k: v for k, v in issue.items() if k != "dependencies"})


def blocked(issue: dict[str, Any], issues: dict[str, dict[str, Any]], depth: int = 0) -> bool:
    for dep in issue.get("dependencies", []):
        other = issues.get(dep["depends_on_id"])
        if dep["type"] in BLOCKING and (other is None or other["status"] not in DONE):
            return True
    parent = next(
        (d["depends_on_id"] for d in issue.get("dependencies", []) if d["type"] == "parent-child"),
        None,
    )
    return bool(
        parent and parent in issues and depth < 8 and blocked(issues[parent], issues, depth + 1)
    )


def cmd_show(args: list[str], issues: dict[str, dict[str, Any]], actor: str) -> Any:
    out = []
    for issue_id in args:
        if issue_id not in issues:
            raise Fail(
                f'Error fetching {issue_id}: no issue found matching "{issue_id}"\n',
                {"error": "no issues found matching the provided IDs", "schema_version": 1},
            )
        issue = issues[issue_id]
        base = {k: v for k, v in issue.items() if k != "dependencies"}
        deps = [
            (issues[d["depends_on_id"]], d["type"])
            for d in issue.get("dependencies", [])
            if d["depends_on_id"] in issues
        ]
        dependents = [
            (issues[d["issue_id"]], d["type"])
            for d in edges(issues)
            if d["depends_on_id"] == issue_id
        ]
        strip = lambda i: {k: v for k, v in i.items() if k != "dependencies"}  # noqa: E731
        out.append(
            derive.details(
                base,
                [(strip(i), t) for i, t in deps],
                [(strip(i), t) for i, t in dependents],
            )
        )
    return out


def cmd_ready(args: list[str], issues: dict[str, dict[str, Any]], actor: str) -> Any:
    ready = [i for i in issues.values() if i["status"] == "open" and not blocked(i, issues)]
    return [counted(i, issues) for i in ordered(ready)]


def cmd_list(args: list[str], issues: dict[str, dict[str, Any]], actor: str) -> Any:
    shown = [i for i in issues.values() if i["status"] != "closed"]
    return [counted(i, issues) for i in ordered(shown)]


def _options(
    args: list[str], flags: set[str], valued: set[str]
) -> tuple[list[str], dict[str, Any]]:
    ids: list[str] = []
    opts: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in flags:
            opts[arg] = True
        elif arg in valued:
            i += 1
            opts[arg] = args[i]
        elif arg.startswith("-"):
            raise Fail(f"Error: unknown flag: {arg}\n")
        else:
            ids.append(arg)
        i += 1
    return ids, opts


def cmd_update(args: list[str], issues: dict[str, dict[str, Any]], actor: str) -> Any:
    ids, opts = _options(args, {"--claim"}, {"--append-notes", "--notes", "--status"})
    if "--append-notes" in opts and "--notes" in opts:
        raise Fail("Error: cannot use --notes and --append-notes together\n")
    out = []
    for issue_id in ids:
        if issue_id not in issues:
            raise Fail(f'Error resolving {issue_id}: no issue found matching "{issue_id}"\n')
        issue = issues[issue_id]
        stamp = now()
        if opts.get("--claim"):
            holder = issue.get("assignee")
            if holder and holder != actor:
                raise Fail(f"Error claiming {issue_id}: issue already claimed by {holder}\n")
            if issue["status"] == "open":
                issue.update(assignee=actor, status="in_progress", updated_at=stamp)
                issue.setdefault("started_at", stamp)
            elif not (issue["status"] == "in_progress" and holder == actor):
                raise Fail(
                    f"Error claiming {issue_id}: issue not claimable: status {issue['status']}\n"
                )
        if "--append-notes" in opts:
            old = issue.get("notes", "")
            issue["notes"] = f"{old}\n{opts['--append-notes']}" if old else opts["--append-notes"]
            issue["updated_at"] = stamp
        if "--notes" in opts:
            issue["notes"] = opts["--notes"]
            issue["updated_at"] = stamp
        if "--status" in opts:
            issue["status"] = opts["--status"]
            issue["updated_at"] = stamp
        issues[issue_id] = derive.ordered(issue)
        out.append(plain(issues[issue_id]))
    save(issues)
    return out


def cmd_close(args: list[str], issues: dict[str, dict[str, Any]], actor: str) -> Any:
    ids, opts = _options(args, {"--force"}, {"--reason", "-r"})
    reason = opts.get("--reason") or opts.get("-r") or "Closed"
    out = []
    for issue_id in ids:
        if issue_id not in issues:
            raise Fail(f'Error resolving {issue_id}: no issue found matching "{issue_id}"\n')
        issue = issues[issue_id]
        if blocked(issue, issues) and not opts.get("--force"):
            raise Fail(f"cannot close {issue_id}: blocked by open issues (use --force)\n")
        stamp = now()
        issue.update(status="closed", updated_at=stamp, closed_at=stamp, close_reason=reason)
        issues[issue_id] = derive.ordered(issue)
        out.append(plain(issues[issue_id]))
    save(issues)
    return out


COMMANDS = {
    "show": cmd_show,
    "ready": cmd_ready,
    "list": cmd_list,
    "update": cmd_update,
    "close": cmd_close,
}


def seed_recorded(directory: Path) -> Path:
    """Write the recorded tracker as it was after the scenario's four ``bd create`` steps
    (``tests/data/bd/list.json``) into ``directory/.beads/issues.jsonl``; returns that file."""
    (directory / ".beads").mkdir(parents=True, exist_ok=True)
    lines = []
    listed = json.loads((_DERIVE.parent / "list.json").read_text(encoding="utf-8"))
    for issue in listed:
        issue.pop("parent", None)
        lines.append(json.dumps({"_type": "issue", **issue}, ensure_ascii=False) + "\n")
    path = directory / ".beads" / "issues.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    args = list(argv)
    actor = os.environ.get("BEADS_ACTOR") or os.environ.get("BD_ACTOR") or "Dev One"
    if "--actor" in args:
        at = args.index("--actor")
        actor = args[at + 1]
        del args[at : at + 2]
    if "--json" not in args:
        sys.stderr.write("fake bd: only --json output is implemented\n")
        return 2
    args.remove("--json")
    if not args or args[0] not in COMMANDS:
        sys.stderr.write(f'Error: unknown command {args[:1]!r} for "bd"\n')
        return 1
    try:
        result = COMMANDS[args[0]](args[1:], load(), actor)
    except Fail as exc:
        if exc.stdout is not None:
            sys.stdout.write(derive.go_json(exc.stdout, indent=2) + "\n")
        sys.stderr.write(exc.stderr)
        return 1
    sys.stdout.write(derive.go_json(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
