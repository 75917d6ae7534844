"""Repository snapshots: what is copied, read-only modes, reuse, module names, bad input."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.runtime.commands import populate
from beadline.validators.snapshot import (
    ModuleContext,
    RepoSnapshot,
    SnapshotError,
    SnapshotStore,
    module_context,
)

from .conftest import copy_fixture


@pytest.fixture
def store(open_tmp: Path) -> Iterator[SnapshotStore]:
    made = SnapshotStore(open_tmp / "store")
    yield made
    made.close()


def test_copies_the_repository_read_only_without_vcs_venvs_or_caches(
    store: SnapshotStore, open_tmp: Path
) -> None:
    repo = copy_fixture(open_tmp)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: main\n")
    env = repo / "env-of-mine"  # a virtual environment under any name
    env.mkdir()
    (env / "pyvenv.cfg").write_text("home = /usr\n")
    (repo / "shop" / "__pycache__").mkdir()
    (repo / "shop" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"junk")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o700)
    (repo / "shop" / "models.py").chmod(0o600)

    snap = store.snapshot(repo)

    assert snap.origin == repo.resolve()
    assert snap.import_roots == (".",)
    tree = snap.path
    assert (tree / "shop" / "pricing.py").read_text() == (repo / "shop/pricing.py").read_text()
    assert not (tree / ".git").exists() and not (tree / "env-of-mine").exists()
    assert not (tree / "shop" / "__pycache__" / "stale.cpython-311.pyc").exists()
    # the byte code of the package was written into the snapshot
    assert list((tree / "shop" / "__pycache__").glob("models.*.pyc"))
    for path in [tree, *tree.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert path.lstat().st_uid == os.getuid()
        if path.is_dir():
            assert mode == 0o755, path
        elif path.name == "run.sh":
            assert mode == 0o755
        else:
            assert mode == 0o644, path
    assert snap.files == sum(1 for p in repo.rglob("*") if p.is_file()) - 3  # .git, venv, pyc


def test_links_inside_are_kept_links_outside_are_copied_or_listed(
    store: SnapshotStore, open_tmp: Path
) -> None:
    repo = copy_fixture(open_tmp)
    outside = open_tmp / "outside.txt"
    outside.write_text("data\n")
    (repo / "inner").symlink_to("shop/models.py")
    (repo / "outer").symlink_to(outside)
    (repo / "outdir").symlink_to(open_tmp)
    (repo / "dangling").symlink_to(open_tmp / "nothing")

    snap = store.snapshot(repo)

    assert os.readlink(snap.path / "inner") == "shop/models.py"
    assert not (snap.path / "outer").is_symlink()
    assert (snap.path / "outer").read_text() == "data\n"
    assert set(snap.skipped) == {"outdir", "dangling"}


def test_reused_while_unchanged_and_replaced_when_the_repository_changes(
    store: SnapshotStore, open_tmp: Path
) -> None:
    repo = copy_fixture(open_tmp)
    first = store.snapshot(repo)
    assert store.snapshot(repo) is first
    assert store.snapshot(repo) is first
    assert store.copies == 1

    pricing = repo / "shop" / "pricing.py"
    pricing.write_text(pricing.read_text() + "\nEXTRA = 1\n")
    second = store.snapshot(repo)
    assert store.copies == 2
    assert second.fingerprint != first.fingerprint
    assert "EXTRA = 1" in (second.path / "shop" / "pricing.py").read_text()
    assert not first.path.exists() and not first.exists()  # the stale copy is gone
    (repo / "shop" / "new.py").write_text("X = 1\n")
    assert store.snapshot(repo).fingerprint != second.fingerprint


def test_json_round_trip_and_a_removed_snapshot(store: SnapshotStore, open_tmp: Path) -> None:
    snap = store.snapshot(copy_fixture(open_tmp))
    data = json.loads(json.dumps(snap.to_json()))
    assert RepoSnapshot.from_json(data) == snap
    context = module_context(snap, "shop/auth.py", target="AuthService.authenticate")
    assert ModuleContext.from_json(json.loads(json.dumps(context.to_json()))) == context
    store.release(snap)
    with pytest.raises(SnapshotError, match="no longer exists; make a new one"):
        RepoSnapshot.from_json(data)


def test_close_removes_what_the_store_made(open_tmp: Path) -> None:
    store = SnapshotStore(open_tmp / "store")
    snap = store.snapshot(copy_fixture(open_tmp))
    store.close()
    assert not snap.path.exists()
    assert list((open_tmp / "store").iterdir()) == []


def test_snapshots_of_dead_processes_are_removed(open_tmp: Path) -> None:
    leftover = open_tmp / "store" / "old-1234"
    (leftover / "repo").mkdir(parents=True)
    (leftover / "snapshot.json").write_text(json.dumps({"pid": 2**22 + 12345}))
    SnapshotStore(open_tmp / "store").close()
    assert not leftover.exists()


def test_module_names_from_files(store: SnapshotStore, open_tmp: Path) -> None:
    snap = store.snapshot(copy_fixture(open_tmp))
    assert module_context(snap, "shop/pricing.py").module == "shop.pricing"
    init = module_context(snap, "shop/__init__.py")
    assert (init.module, init.is_package, init.exists) == ("shop", True, True)
    new = module_context(snap, "shop/coupons.py", target="apply")
    assert (new.module, new.exists, new.original_text()) == ("shop.coupons", False, "")


def test_src_layout_is_detected(store: SnapshotStore, open_tmp: Path) -> None:
    repo = copy_fixture(open_tmp, src_layout=True)
    snap = store.snapshot(repo)
    assert snap.import_roots == ("src", ".")
    assert module_context(snap, "src/shop/models.py").module == "shop.models"
    assert store.snapshot(repo, import_roots=["."]).import_roots == (".",)


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("/etc/passwd.py", "must be a path relative to the repository root"),
        ("../x.py", "must be a path relative"),
        ("shop/models.txt", "is not a Python file"),
        ("my-pkg/x.py", "'my-pkg' is not a Python identifier"),
        ("nowhere/x.py", "package directory 'nowhere' of 'nowhere/x.py' does not exist"),
    ],
)
def test_bad_module_files(store: SnapshotStore, open_tmp: Path, file: str, message: str) -> None:
    repo = copy_fixture(open_tmp)
    (repo / "my-pkg").mkdir()
    snap = store.snapshot(repo)
    with pytest.raises(SnapshotError, match=message):
        module_context(snap, file)


def test_bad_targets_and_roots(store: SnapshotStore, open_tmp: Path) -> None:
    repo = copy_fixture(open_tmp)
    snap = store.snapshot(repo)
    with pytest.raises(SnapshotError, match="is not a qualified name"):
        module_context(snap, "shop/auth.py", target="AuthService.")
    with pytest.raises(SnapshotError, match="import root 'lib' is not a directory"):
        store.snapshot(repo, import_roots=["lib"])
    with pytest.raises(SnapshotError, match="must be a directory relative"):
        store.snapshot(repo, import_roots=["/abs"])
    with pytest.raises(SnapshotError, match="is under none of the import roots"):
        module_context(store.snapshot(repo, import_roots=["shop"]), "tests/test_auth.py")


def test_a_repository_that_is_not_a_directory(store: SnapshotStore, open_tmp: Path) -> None:
    with pytest.raises(SnapshotError, match="is not a directory; pass an existing repository"):
        store.snapshot(open_tmp / "missing")
    (open_tmp / "file").write_text("x")
    with pytest.raises(SnapshotError, match="is not a directory"):
        store.snapshot(open_tmp / "file")


def test_a_store_writable_by_others_is_refused(open_tmp: Path) -> None:
    shared = open_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(SnapshotError, match="writable by others; remove it"):
        SnapshotStore(shared)


def test_overwritten_modules_lose_their_copied_byte_code(open_tmp: Path) -> None:
    root = open_tmp / "scratch"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"old")
    (root / "pkg" / "__pycache__" / "other.cpython-311.pyc").write_bytes(b"keep")
    populate(str(root), None, {"pkg/mod.py": "X = 2\n"})
    assert (root / "pkg" / "mod.py").read_text() == "X = 2\n"
    assert sorted(p.name for p in (root / "pkg" / "__pycache__").iterdir()) == [
        "other.cpython-311.pyc"
    ]


def test_beadline_state_and_the_tracker_are_left_out_and_do_not_renew_it(
    store: SnapshotStore, open_tmp: Path
) -> None:
    repo = copy_fixture(open_tmp)
    (repo / ".beadline").mkdir()
    (repo / ".beadline" / "beads.sqlite").write_bytes(b"state")
    (repo / ".beads").mkdir()
    (repo / ".beads" / "issues.jsonl").write_text("{}\n")
    snap = store.snapshot(repo)
    assert not (snap.path / ".beadline").exists() and not (snap.path / ".beads").exists()
    (repo / ".beadline" / "beads.sqlite").write_bytes(b"state after the next stage")
    assert store.snapshot(repo) is snap
