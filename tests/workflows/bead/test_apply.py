"""Merging the result into the target file and writing it atomically with a backup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from beadline.workflows.bead.apply import ApplyError, apply_to_repo, merge_function, split_program

ORIGINAL = '''"""Module doc."""

import os

LIMIT = 3


@decorated
def target(x):
    return 0


def other():
    return 1
'''


def test_merge_replaces_an_existing_function_with_its_decorators() -> None:
    merged = merge_function(ORIGINAL, "def target(x):\n    return x + 1\n", "", "target")
    assert "@decorated" not in merged
    assert "def target(x):\n    return x + 1\n" in merged
    assert merged.count("def other") == 1 and merged.startswith('"""Module doc."""')


def test_merge_appends_and_adds_missing_setup_after_the_imports() -> None:
    setup = "import os\nimport math\nSCALE = 2"
    merged = merge_function(
        ORIGINAL, "def new(x):\n    return math.floor(x) * SCALE\n", setup, "new"
    )
    lines = merged.splitlines()
    assert lines.count("import os") == 1
    assert lines.index("import math") == lines.index("import os") + 1
    assert "SCALE = 2" in lines
    assert merged.rstrip().endswith("return math.floor(x) * SCALE")
    compile(merged, "m", "exec")


def test_merge_into_a_new_file_and_bad_files() -> None:
    assert (
        merge_function("", "def f():\n    return 1", "import re", "f")
        == "import re\n\n\ndef f():\n    return 1\n"
    )
    with pytest.raises(ApplyError, match="the target file does not parse"):
        merge_function("def broken(:\n", "def f():\n    pass", "", "f")


def test_split_program_gives_the_stages_back() -> None:
    setup, signature, parts = split_program(
        'import re\n\ndef f(s):\n    """Doc."""\n    s = s.strip()\n    if s:\n        return 1\n    return 0\n',
        "f",
    )
    assert setup == "import re"
    assert signature == 'def f(s):\n    """Doc."""'
    assert parts == ["    s = s.strip()", "    if s:\n        return 1", "    return 0"]
    with pytest.raises(ApplyError, match="no top-level `def g"):
        split_program("def f():\n    pass\n", "g")


def test_apply_writes_atomically_and_keeps_a_backup(tmp_path: Path) -> None:
    target = tmp_path / "pkg" / "m.py"
    target.parent.mkdir()
    target.write_text("old = 1\n")
    os.chmod(target, 0o640)
    result = apply_to_repo(tmp_path, "pkg/m.py", "new = 2\n")
    assert result.written and not result.created
    assert target.read_text() == "new = 2\n"
    assert result.backup == tmp_path / "pkg" / "m.py.bak"
    assert result.backup.read_text() == "old = 1\n"
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert "-old = 1\n+new = 2" in result.diff
    second = apply_to_repo(tmp_path, "pkg/m.py", "newer = 3\n")
    assert second.backup == tmp_path / "pkg" / "m.py.bak.1"  # earlier backups are kept
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.py", "m.py.bak", "m.py.bak.1"]


def test_dry_run_only_shows_the_diff(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = 1\n")
    result = apply_to_repo(tmp_path, "m.py", "a = 2\n", dry_run=True)
    assert not result.written and result.backup is None
    assert "+a = 2" in result.diff
    assert (tmp_path / "m.py").read_text() == "a = 1\n"
    assert list(tmp_path.iterdir()) == [tmp_path / "m.py"]
    created = apply_to_repo(tmp_path, "new/n.py", "b = 1\n")
    assert created.created and created.backup is None and (tmp_path / "new" / "n.py").is_file()


def test_a_failed_write_leaves_the_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m.py").write_text("a = 1\n")

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ApplyError, match="disk full; the previous file is unchanged"):
        apply_to_repo(tmp_path, "m.py", "a = 2\n")
    assert (tmp_path / "m.py").read_text() == "a = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py", "m.py.bak"]
    with pytest.raises(ApplyError, match=r"repository .* not found"):
        apply_to_repo(tmp_path / "nope", "m.py", "")
