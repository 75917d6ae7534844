"""Command runs in the worker: prepare a scratch directory, read a JUnit XML report.

The fork/exec and the limits are the worker's (:mod:`.worker`); this module holds the parts
that need no process: copying ``directory``, writing ``files`` safely inside the scratch
directory, and parsing a JUnit report with ``xml.etree``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ScratchError", "chown_tree", "parse_junit", "populate", "python_path"]


class ScratchError(Exception):
    """The scratch directory could not be prepared (bad path, missing directory)."""


def _inside(root: str, relative: str) -> str:
    if not relative or os.path.isabs(relative):
        raise ScratchError(f"file path {relative!r} must be relative to the working directory")
    path = os.path.normpath(os.path.join(root, relative))
    if path != root and not path.startswith(root + os.sep):
        raise ScratchError(f"file path {relative!r} leaves the working directory")
    return path


def populate(root: str, directory: str | None, files: Mapping[str, str]) -> None:
    """Fill the (existing, empty) scratch ``root`` with a copy of ``directory`` and ``files``.

    Raises:
        ScratchError: ``directory`` is missing or a file path is absolute or leaves ``root``.
    """
    if directory:
        if not os.path.isdir(directory):
            raise ScratchError(f"directory {directory!r} does not exist or is not a directory")
        try:
            shutil.copytree(directory, root, symlinks=True, dirs_exist_ok=True)
        except (OSError, shutil.Error) as exc:
            raise ScratchError(f"could not copy {directory!r}: {exc}") from exc
    for relative, text in files.items():
        path = _inside(root, str(relative))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _drop_byte_code(path)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(str(text))


def _drop_byte_code(path: str) -> None:
    """Remove the copied ``__pycache__`` entries of a module about to be overwritten.

    A byte-code file is trusted when the source's size and modification second match its
    header; a new text of the same size written in the same second as the original would
    otherwise run the old code.
    """
    base, ext = os.path.splitext(os.path.basename(path))
    if ext != ".py":
        return
    cache = os.path.join(os.path.dirname(path), "__pycache__")
    try:
        names = os.listdir(cache)
    except OSError:
        return
    for name in names:
        if name.startswith(base + ".") and name.endswith(".pyc"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(cache, name))


def chown_tree(root: str, uid: int, gid: int) -> None:
    """Give the scratch tree to the unprivileged user the command will run as."""
    os.chown(root, uid, gid)
    for parent, dirs, names in os.walk(root):
        for name in dirs + names:
            try:
                os.chown(os.path.join(parent, name), uid, gid, follow_symlinks=False)
            except OSError:
                continue


def parse_junit(path: str, *, message_chars: int = 400) -> tuple[list[dict[str, Any]], str]:
    """Read the test cases of a JUnit XML report.

    Returns:
        ``(cases, problem)``: each case as ``{"name", "classname", "status", "message"}``; and
        an empty string, or why the report could not be read.
    """
    if not os.path.isfile(path):
        return [], f"no JUnit report was written at {os.path.basename(path)}"
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as exc:
        return [], f"the JUnit report is not valid XML: {exc}"
    cases: list[dict[str, Any]] = []
    for element in tree.getroot().iter("testcase"):
        status = "passed"
        message = ""
        for child in element:
            if child.tag in ("failure", "error", "skipped"):
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = child.get("message") or (child.text or "").strip()
                break
        message = " ".join(message.split())
        if len(message) > message_chars:
            message = message[: message_chars - 3] + "..."
        cases.append(
            {
                "name": element.get("name", ""),
                "classname": element.get("classname", ""),
                "status": status,
                "message": message,
            }
        )
    return cases, ""


def python_path(run_dir: str, relative: Any, site: Sequence[str]) -> str:
    """``PYTHONPATH`` of a command: its import roots inside the scratch copy, then ``site``."""
    entries: list[str] = []
    for item in relative or ():
        path = os.path.normpath(os.path.join(run_dir, str(item)))
        if path == run_dir or path.startswith(run_dir + os.sep):
            entries.append(path)
    return os.pathsep.join([*entries, *site])
