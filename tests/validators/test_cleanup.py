"""Scratch removal (``runtime/cleanup.py``): any depth, any modes, never raises."""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.runtime.cleanup import remove_tree


@pytest.fixture
def tmp_path(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory on a memory file system when there is one (the sandbox's scratch
    lives there too; thousands of directories on a loaded disk take seconds)."""
    if not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    directory = Path(tempfile.mkdtemp(prefix="beadline-cleanup-test-", dir="/dev/shm"))
    try:
        yield directory
    finally:
        remove_tree(str(directory))


def _deep(root: Path, depth: int) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as handle:
            handle.write("x")
    finally:
        os.close(fd)


def test_a_tree_deeper_than_path_max_and_the_recursion_limit(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    depth = max(3000, sys.getrecursionlimit() + 100)  # 2 characters a level: > PATH_MAX too
    _deep(root, depth)
    assert remove_tree(str(root))
    assert not root.exists()


def test_every_mode_and_kind_of_entry(tmp_path: Path) -> None:
    root = tmp_path / "litter"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "f").write_text("x")
    (root / "a" / "b" / "c" / "f").chmod(0)
    for directory in ("a/b/c", "a/b", "a"):
        (root / directory).chmod(0)
    (root / "ro" / "x").mkdir(parents=True)
    (root / "ro" / "x" / "y").write_text("y")
    (root / "ro" / "x").chmod(0o500)
    (root / "ro").chmod(0o100)  # enter only: neither list nor write
    os.mkfifo(root / "fifo")
    (root / "link").symlink_to("/etc/passwd")
    (root / "dangling").symlink_to(root / "nowhere")
    open(os.fsencode(root) + b"/\xff\xfe-not-utf8", "w").close()
    for i in range(300):
        (root / f"wide{i}").mkdir()
    assert remove_tree(str(root))
    assert not root.exists()
    assert Path("/etc/passwd").exists()  # a symlink is removed, never followed


def test_keep_root_files_and_missing_paths(tmp_path: Path) -> None:
    root = tmp_path / "kept"
    (root / "sub").mkdir(parents=True)
    (root / "file").write_text("x")
    root.chmod(0o711)
    assert remove_tree(str(root), keep_root=True)
    assert root.is_dir() and not any(root.iterdir())
    assert root.stat().st_mode & 0o777 == 0o711  # the kept root's mode is left alone
    lone = tmp_path / "lone.txt"
    lone.write_text("x")
    assert remove_tree(str(lone)) and not lone.exists()
    assert remove_tree(str(tmp_path / "never-existed"))


def test_a_deadline_gives_up_without_raising(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(3000):
        (root / str(i)).write_text("")
    assert remove_tree(str(root), deadline_s=0.0) is False
    assert remove_tree(str(root))


_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def _immutable(path: Path, on: bool) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]
        flags = flags | _FS_IMMUTABLE_FL if on else flags & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags))
    finally:
        os.close(fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="setting the immutable flag needs root")
def test_what_nobody_may_remove_is_reported_not_raised(tmp_path: Path) -> None:
    root = tmp_path / "stuck"
    root.mkdir()
    stuck = root / "immutable"
    stuck.write_text("x")
    try:
        _immutable(stuck, True)
    except OSError as exc:
        pytest.skip(f"this file system has no immutable flag: {exc}")
    try:
        assert remove_tree(str(root)) is False
        assert stuck.exists()
    finally:
        _immutable(stuck, False)
    assert remove_tree(str(root))


def test_an_empty_directory_is_removed_without_a_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common case (a run left nothing in its scratch directory) is one rmdir."""
    empty = tmp_path / "empty"
    empty.mkdir()
    opened: list[object] = []
    real_open = os.open

    def counting_open(*args: object, **kwargs: object) -> int:
        opened.append(args[0])
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", counting_open)
    assert remove_tree(str(empty))
    assert not empty.exists()
    assert opened == []  # no directory was opened: the fast path removed it
