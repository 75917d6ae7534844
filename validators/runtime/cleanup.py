"""Removing whatever a sandboxed program left behind: any depth, any modes, no recursion.

A program owns its scratch directory and may leave anything there: a tree thousands of levels
deep (deeper than ``PATH_MAX`` allows to name, deeper than Python's recursion limit), directories
of mode 000, read-only directories and files, FIFOs, sockets, names that are not UTF-8. :func:`remove_tree`
walks such a tree iteratively with one directory descriptor at a time (paths are always
relative to an open directory, so depth never makes a name too long), lists each directory once,
and gives the owner access to a directory it may not read, enter or write before retrying. It never raises:
it returns whether the tree is gone, so the worker can recycle itself when it is not.

It must only run once every process of the program is dead (the worker's clean-up order), so
nothing renames entries under it while it walks.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from functools import partial

__all__ = ["remove_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_dir(name: str, parent_fd: int | None) -> int:
    """Open directory ``name`` (relative to ``parent_fd``), making it accessible if needed."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        # A mode-000 directory of the program's own uid: the owner (or root) may chmod it.
        os.chmod(name, stat.S_IRWXU, dir_fd=parent_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _list_and_unlink(fd: int, stop_at: float | None) -> list[str]:
    """Unlink every non-directory in the open directory ``fd``; return its subdirectories.

    Raises:
        TimeoutError: ``stop_at`` passed (checked every 1024 entries).
    """
    subdirs: list[str] = []
    with os.scandir(fd) as entries:
        names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for index, (name, is_dir) in enumerate(names):
        if stop_at is not None and not index % 1024 and time.monotonic() > stop_at:
            raise TimeoutError
        if is_dir:
            subdirs.append(name)
            continue
        try:
            _retry_writable(fd, partial(os.unlink, name, dir_fd=fd))
        except IsADirectoryError:  # replaced meanwhile: treat as a directory
            subdirs.append(name)
        except FileNotFoundError:
            continue
    return subdirs


def _retry_writable(fd: int, action: Callable[[], None]) -> None:
    """Run ``action`` (an unlink or rmdir in directory ``fd``); when the directory is not
    writable, give its owner full access and try once more."""
    try:
        action()
    except PermissionError:
        _make_writable(fd)
        action()


def _make_writable(fd: int) -> None:
    """Give the owner full access to the open directory ``fd`` (read-only directories)."""
    with contextlib.suppress(OSError):
        os.chmod(fd, stat.S_IRWXU)


def remove_tree(path: str, *, keep_root: bool = False, deadline_s: float | None = None) -> bool:
    """Delete ``path`` and everything under it; never raises, never recurses.

    Args:
        path: The directory to remove (a file or symlink there is simply unlinked).
        keep_root: Empty ``path`` but keep the directory itself.
        deadline_s: Give up after this many seconds (a tree of millions of files); the caller
            then treats the tree as not removable.

    Returns:
        True when everything is gone (or was already), False when something could not be
        removed or the deadline passed.
    """
    stop_at = None if deadline_s is None else time.monotonic() + deadline_s
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        try:
            os.unlink(path)
        except OSError:
            return False
        return True
    if not keep_root:
        # Most runs leave their scratch directory empty: one rmdir, no walk.
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return True
        except OSError:
            pass  # not empty (or not ours to remove): walk it
        else:
            return True
    try:
        _walk_and_remove(path, stop_at)
    except (OSError, TimeoutError):
        return False
    if keep_root:
        return True
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _walk_and_remove(root: str, stop_at: float | None) -> None:
    """Empty ``root``. Depth-first with an explicit stack of pending names per level."""
    fd = _open_dir(root, None)
    # stack[i]: subdirectories of level i not yet entered; names[i]: the directory entered
    # from level i (so it can be removed once empty, from its parent).
    stack: list[list[str]] = []
    names: list[str] = []
    try:
        stack.append(_list_and_unlink(fd, stop_at))
        while stack:
            if stop_at is not None and time.monotonic() > stop_at:
                raise TimeoutError
            pending = stack[-1]
            if pending:
                name = pending.pop()
                try:
                    child = _open_dir(name, fd)
                except FileNotFoundError:
                    continue
                os.close(fd)
                fd = child
                names.append(name)
                stack.append(_list_and_unlink(fd, stop_at))
                continue
            stack.pop()
            if not names:
                break  # the root is empty
            leftover = _list_and_unlink(fd, stop_at)  # nothing should have appeared; be sure
            if leftover:
                stack.append(leftover)
                continue
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            name = names.pop()
            _retry_writable(fd, partial(os.rmdir, name, dir_fd=fd))
    finally:
        os.close(fd)
