"""The result report of a bead run: JSON for tools, Markdown for people.

Built from the graph's final state (:class:`~beadline.workflows.bead.graph.BeadOutput`): the verdict,
each stage's attempts with their validations and evidence, the cost, the baseline check, the
final code and — when it was applied — where it went.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["build_report", "render_markdown", "write_report"]


def _stage_label(entry: Mapping[str, Any]) -> str:
    stage = str(entry.get("stage", "?"))
    if stage == "body":
        return f"body part {int(entry.get('part', 0)) + 1}"
    return stage


def build_report(
    state: Mapping[str, Any],
    *,
    thread_id: str = "",
    applied: Mapping[str, Any] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """A JSON-serialisable report of a finished (or stopped) bead run.

    Args:
        state: The graph's final state values.
        thread_id: The checkpoint thread (for ``bead resume``).
        applied: What was written to the repository (path, backup, diff, dry_run); default:
            the state's ``applied`` (set by a graph built with ``apply=True``).
        seconds: Wall time of the run, when measured by the caller.

    Returns:
        ``{"bead", "status", "message", "stages": [...], "attempts": [...], "cost", ...}``.
    """
    history = list(state.get("history") or [])
    stages: dict[str, dict[str, Any]] = {}
    for entry in history:
        label = _stage_label(entry)
        row = stages.setdefault(label, {"stage": label, "attempts": 0, "ok": False, "summary": ""})
        if entry.get("source") != "reviewer":
            row["attempts"] += 1
        row["ok"] = bool(entry.get("ok")) or bool(entry.get("approved"))
        row["summary"] = str(entry.get("summary", ""))
    bead = state.get("bead") or {}
    return {
        "bead": state.get("bead_id") or bead.get("id", ""),
        "title": bead.get("title", ""),
        "target": bead.get("target", {}),
        "thread_id": thread_id,
        "status": state.get("status", "unknown"),
        "message": state.get("message", ""),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": seconds,
        "baseline": state.get("baseline"),
        "stages": list(stages.values()),
        "attempts": [
            {
                "stage": _stage_label(e),
                "attempt": e.get("attempt"),
                "source": e.get("source"),
                "ok": bool(e.get("ok")),
                "summary": e.get("summary", ""),
                "code": e.get("code", ""),
                "validations": e.get("validations", []),
                "evidence": e.get("evidence", []),
            }
            for e in history
        ],
        "cost": dict(state.get("cost") or {}),
        "program": state.get("program", ""),
        "function": state.get("function", ""),
        "last_feedback": state.get("feedback"),
        "applied": dict(applied) if applied else state.get("applied"),
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown."""
    lines = [
        f"# Bead `{report['bead']}` — {report['status']}",
        "",
    ]
    if report.get("title"):
        lines += [f"**{report['title']}**", ""]
    if report.get("message"):
        lines += [str(report["message"]), ""]
    target = report.get("target") or {}
    if target:
        lines += [f"Target: `{target.get('file')}` · function `{target.get('function')}`", ""]
    if report.get("thread_id"):
        lines += [f"Thread: `{report['thread_id']}`", ""]
    baseline = report.get("baseline")
    if baseline:
        mark = "passed" if baseline.get("ok") else "FAILED"
        lines += [f"Baseline (unchanged repository): {mark} — {baseline.get('summary', '')}", ""]
    lines += [
        "## Stages",
        "",
        "| stage | attempts | result | last validation |",
        "|---|---|---|---|",
    ]
    for row in report.get("stages", []):
        summary = str(row["summary"]).replace("|", "\\|")
        lines.append(
            f"| {row['stage']} | {row['attempts']} | {'ok' if row['ok'] else 'failed'} | {summary} |"
        )
    cost = report.get("cost") or {}
    lines += ["", "## Cost", ""]
    if report.get("seconds") is not None:
        lines.append(f"- wall time: {float(report['seconds']):.1f} s")
    for name in ("tokens_evaluated", "tokens_generated", "programs_executed", "seconds"):
        if name in cost:
            shown = f"{cost[name]:.1f}" if name == "seconds" else f"{int(cost[name])}"
            lines.append(
                f"- {name.replace('_', ' ')}{' (generation)' if name == 'seconds' else ''}: {shown}"
            )
    failed = [a for a in report.get("attempts", []) if not a["ok"]]
    if failed:
        lines += ["", "## Failed attempts", ""]
        for a in failed:
            lines += [
                f"### {a['stage']}, attempt {a['attempt']} ({a['source']})",
                "",
                a["summary"],
                "",
            ]
            if a.get("code"):
                lines += ["```python", a["code"], "```", ""]
            for item in a.get("evidence", [])[:3]:
                lines += ["```text", str(item), "```", ""]
    if report.get("program"):
        lines += ["", "## Code", "", "```python", str(report["program"]).rstrip(), "```"]
    applied = report.get("applied")
    if applied:
        lines += ["", "## Applied", ""]
        if applied.get("dry_run"):
            lines.append(f"Dry run: `{applied.get('path')}` was not changed.")
        else:
            lines.append(f"Written to `{applied.get('path')}`; backup `{applied.get('backup')}`.")
        if applied.get("diff"):
            lines += ["", "```diff", str(applied["diff"]).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_report(report: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write ``<bead>.json`` and ``<bead>.md`` into ``directory``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = str(report.get("bead") or "bead")
    if report.get("thread_id"):
        stem = str(report["thread_id"])
    json_path = directory / f"{stem}.json"
    md_path = directory / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
