"""The distribution maps the three folders to beadline.* and never installs bare names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("agents", "validators", "workflows")


def _run_outside(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # From a directory outside the repository, so the checkout itself is not on sys.path.
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )


def test_layers_import_as_beadline_subpackages(tmp_path: Path) -> None:
    done = _run_outside(
        "import beadline.agents, beadline.validators, beadline.workflows, pathlib;"
        "print(pathlib.Path(beadline.agents.__file__).parent.name)",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "agents"


@pytest.mark.parametrize("bare", ["agents", "validators", "workflows"])
def test_bare_names_do_not_find_our_code(tmp_path: Path, bare: str) -> None:
    done = _run_outside(
        f"import importlib.util, pathlib; s = importlib.util.find_spec({bare!r});"
        f"print('none' if s is None else s.origin)",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    origin = done.stdout.strip()
    assert origin == "none" or not origin.startswith(str(ROOT)), origin


def test_every_subpackage_is_mapped(tmp_path: Path) -> None:
    """Every folder with an __init__.py under the layers imports under beadline.*."""
    names = []
    for layer in LAYERS:
        for init in sorted((ROOT / layer).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT).as_posix().replace("/", ".")
            names.append(f"beadline.{rel}")
    assert "beadline.agents.models" in names
    done = _run_outside(
        "import importlib;" + ";".join(f"importlib.import_module({n!r})" for n in names), tmp_path
    )
    assert done.returncode == 0, done.stderr


def test_layers_ship_py_typed() -> None:
    for layer in LAYERS:
        assert (ROOT / layer / "py.typed").is_file()


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    """Importing the packages prints nothing and loads no heavy backend."""
    done = _run_outside(
        "import sys, beadline.agents, beadline.validators, beadline.workflows, beadline.workflows.cli;"
        "print(sorted(m for m in ('llama_cpp', 'torch', 'docker', 'langgraph') if m in sys.modules))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
