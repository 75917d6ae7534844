"""Command runs in the worker: prepare a scratch directory, exec, read a JUnit XML report.

The fork and the limits are the worker's (:mod:`.worker`); this module holds the rest:
copying ``directory``, writing ``files`` safely inside the scratch directory, the command's
environment and its ``exec`` in the child, parsing a JUnit report with ``xml.etree`` and turning
what the child did into the protocol's result.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from .outcomes import Outcome, ended_without_result

__all__ = [
    "ScratchError",
    "chown_tree",
    "command_env",
    "command_result",
    "exec_body",
    "parse_junit",
    "populate",
    "python_path",
    "read_junit",
]


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


def exec_body(argv: list[str], env: dict[str, str], result_fd: int) -> NoReturn:
    """A command's child: exec the command (or report why it cannot run)."""
    for number in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        reason = (
            f"command not found: {argv[0]}"
            if exc.errno == errno.ENOENT
            else f"cannot run {argv[0]}: {exc.strerror}"
        )
        with contextlib.suppress(OSError):
            os.write(result_fd, json.dumps({"exec_error": reason}).encode())
    os._exit(127)


def command_env(run_dir: str) -> dict[str, str]:
    """The environment of a command: a minimal PATH, UTF-8, no bytecode, home = scratch."""
    return {
        "PATH": os.pathsep.join(
            [os.path.dirname(sys.executable), os.environ.get("PATH", "/usr/bin:/bin")]
        ),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": run_dir,
        "TMPDIR": run_dir,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
    }


def read_junit(run_dir: str, relative: Any) -> tuple[list[dict[str, Any]], str]:
    """The JUnit cases of a command's report, read only from inside its scratch directory
    (the worker may read more than the command could: a symlink out is refused)."""
    if not relative:
        return [], ""
    path = os.path.realpath(os.path.join(run_dir, str(relative)))
    if not path.startswith(os.path.realpath(run_dir) + os.sep):
        return [], f"the JUnit report {relative!r} is outside the working directory"
    try:
        return parse_junit(path)
    except OSError as exc:
        return [], f"cannot read the JUnit report: {exc}"


def command_result(
    outcome: Outcome, limits: dict[str, Any], junit: list[dict[str, Any]], problem: str
) -> dict[str, Any]:
    """The protocol result of a command from what its child did."""
    cap = int(limits["output_bytes"])
    result: dict[str, Any] = {
        "exit_code": None,
        "stdout": outcome.stdout[:cap].decode("utf-8", "replace"),
        "stderr": outcome.stderr[:cap].decode("utf-8", "replace"),
        "duration_s": round(outcome.duration_s, 6),
        "junit": junit,
    }
    exec_error = ""
    if outcome.result:
        with contextlib.suppress(ValueError, AttributeError):
            exec_error = str(json.loads(outcome.result).get("exec_error", ""))
    if outcome.timed_out:
        result.update(status="timeout", message=f"timed out after {limits['wall_s']} s")
    elif outcome.output_exceeded:
        result.update(status="killed", message="output limit exceeded")
    elif exec_error:
        result.update(status="error", message=exec_error)
    elif os.WIFEXITED(outcome.wait_status):
        code = os.WEXITSTATUS(outcome.wait_status)
        result.update(
            status="passed" if code == 0 else "failed",
            exit_code=code,
            message=f"exit status {code}" + (f"; {problem}" if problem else ""),
        )
    else:
        status, message = ended_without_result(outcome, limits)
        result.update(status=status, message=message)
    return result


def python_path(run_dir: str, relative: Any, site: Sequence[str]) -> str:
    """``PYTHONPATH`` of a command: its import roots inside the scratch copy, then ``site``."""
    entries: list[str] = []
    for item in relative or ():
        path = os.path.normpath(os.path.join(run_dir, str(item)))
        if path == run_dir or path.startswith(run_dir + os.sep):
            entries.append(path)
    return os.pathsep.join([*entries, *site])
