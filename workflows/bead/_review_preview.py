"""What a review question shows besides the stage's own code: the function so far and where it
lands in its file.

Used by :func:`beadline.workflows.bead.review.make_payload`. For a stage under review it
assembles the function as it would stand once the stage is accepted (the accepted stages plus
this one), splices it into its module the way the final write does
(:func:`~beadline.workflows.bead.write.write_result`) and returns the unified diff of that file
(:func:`~beadline.workflows.bead.apply.apply_to_repo` with ``dry_run``), with the lines of the stage under review located in it. At ``integration`` the
diff is exactly what approving writes (the setup and the whole function).

Reading the target file is the only thing it does: it runs inside the review node before its
``interrupt``, which must have no side effects.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from beadline.validators.errors import BeadlineError
from beadline.workflows.bead.apply import apply_to_repo
from beadline.workflows.bead.generation import assemble_program, normalize_part
from beadline.workflows.bead.in_repo import open_target
from beadline.workflows.bead.spec import Bead

__all__ = ["review_preview"]

PLACEHOLDER = "    ..."
"""The body shown under a signature that has none yet (``...`` keeps the function parseable)."""


def _function(
    stage: str, part: int, code: str, signature: str, parts: Sequence[str]
) -> tuple[str, list[int]]:
    """The function as it stands once the stage is accepted, and the 1-based line range of the
    stage's code in it (``[]`` when the stage adds no line to the function)."""
    if stage == "signature":
        shown_parts: list[str] = []
        focus_of: tuple[str, int] | None = ("signature", 0)
        signature = code
    elif stage == "body":
        shown_parts = [*parts[:part], *([code] if code.strip() else [])]
        focus_of = ("body", part) if code.strip() else None
    else:
        shown_parts = list(parts)
        focus_of = None
    if not signature.strip():
        return "", []
    layout = assemble_program("", signature, shown_parts, complete=False)
    function = layout.program
    if not any(p.strip() for p in shown_parts):
        function = function.rstrip("\n") + "\n" + PLACEHOLDER + "\n"
    focus: list[int] = []
    for region in layout.regions:
        if focus_of is not None and (region.stage, region.part) == focus_of:
            focus = [region.first, region.last]
    return function, focus


def _locate(lines: Sequence[str], block: Sequence[str]) -> int | None:
    """Where ``block`` starts in ``lines`` (0-based), comparing stripped lines (a method is
    re-indented when it is merged into its class)."""
    wanted = [line.strip() for line in block]
    if not wanted:
        return None
    stripped = [line.strip() for line in lines]
    for start in range(len(stripped) - len(wanted) + 1):
        if stripped[start : start + len(wanted)] == wanted:
            return start
    return None


def _new_lines(old: str, new: str) -> set[int]:
    """1-based numbers of the lines of ``new`` that are not in ``old``."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    found: set[int] = set()
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in ("insert", "replace"):
            found.update(range(j1 + 1, j2 + 1))
    return found


def _ranges(numbers: set[int]) -> list[list[int]]:
    """``{3, 4, 5, 9}`` -> ``[[3, 5], [9, 9]]``."""
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def review_preview(
    bead: Bead, state: Mapping[str, Any], pending: Mapping[str, Any]
) -> dict[str, Any]:
    """The function so far and the file region of a pending stage (payload fields).

    Args:
        bead: The bead (its target file and function).
        state: The graph state (``repo``, ``setup``, ``signature``, ``parts``).
        pending: The stage under review (``stage``, ``part``, ``code``; at integration also
            ``function``).

    Returns:
        ``function`` (the function once this stage is accepted), ``focus`` (``[first, last]``
        lines of this stage's code in it, or ``[]``), ``file`` (the target file, relative),
        ``diff`` (the unified diff the write would make with this function; at integration
        exactly what approving writes), ``focus_file`` (``[[first, last], ...]`` lines of the
        new file holding this stage's code) and ``note`` (why there is no diff, or ``""``).
    """
    stage = str(pending.get("stage", ""))
    part = int(pending.get("part", 0))
    code = str(pending.get("code", ""))
    setup = str(state.get("setup", ""))
    signature = str(state.get("signature", ""))
    parts = [str(p) for p in state.get("parts", ())]
    if stage == "body":
        code = normalize_part(code)
    if stage == "integration":
        function = str(pending.get("function") or "")
        if not function:
            function = assemble_program("", signature, parts).program
        focus: list[int] = []
    else:
        function, focus = _function(stage, part, code, signature, parts)
    if stage == "setup":
        setup = code
    preview: dict[str, Any] = {
        "function": function,
        "focus": focus,
        "file": bead.target.file,
        "diff": "",
        "focus_file": [],
        "note": "",
    }
    repo = state.get("repo")
    if not repo:
        preview["note"] = "no target repository: nothing will be written"
        return preview
    if not function:
        preview["note"] = "the function has no signature yet"
        return preview
    program = f"{setup.strip()}\n\n\n{function}" if setup.strip() else function
    try:
        site = open_target(bead, Path(str(repo)))
        # what the write puts in the file: the whole module with the target spliced in place
        # (at integration, the very text that passed)
        merged = str(pending.get("module_text") or "") or site.splice(program).text
        result = apply_to_repo(site.repo, bead.target.file, merged, dry_run=True)
    except (BeadlineError, OSError, UnicodeDecodeError) as exc:
        preview["note"] = f"cannot place it: {exc}"
        return preview
    preview["diff"] = result.diff
    preview["focus_file"] = _ranges(
        _focus_lines(stage, code, function, focus, site.original, merged)
    )
    return preview


def _focus_lines(
    stage: str, code: str, function: str, focus: list[int], original: str, merged: str
) -> set[int]:
    """Lines of the merged file holding the stage's code (1-based)."""
    lines = merged.splitlines()
    start = _locate(lines, function.splitlines())
    if stage == "setup":
        wanted = {line.strip() for line in code.splitlines() if line.strip()}
        inside = set()
        if start is not None:
            inside = set(range(start + 1, start + len(function.splitlines()) + 1))
        return {
            n
            for n in _new_lines(original, merged)
            if n not in inside and lines[n - 1].strip() in wanted
        }
    if start is None or not focus:
        return set()
    return set(range(start + focus[0], start + focus[1] + 1))
