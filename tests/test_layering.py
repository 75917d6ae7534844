"""The layering contracts of ``pyproject.toml`` (``[tool.importlinter]``) hold on the tree, and
the same contracts catch what they are there to catch, on a throw-away package.

The contracts (import-linter, on grimp's import graph) count every import statement of a module:
at module level, inside functions (lazy imports) and under ``if TYPE_CHECKING:``. ``layers``
forbids an import from a lower layer to a higher one (validators -> agents/workflows, agents ->
workflows), directly or through a chain; ``acyclic`` forbids any cycle inside a layer, between
modules and between sibling packages (``agents.models`` and ``agents.decoding`` may not import
each other both ways even when no single module cycle results).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = "from importlinter.cli import lint_imports_command as main; main()"


def _lint(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A subprocess: import-linter puts its working directory on sys.path.
    return subprocess.run(
        [sys.executable, "-c", LINT, str(config), "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layering_contracts_hold() -> None:
    done = _lint(ROOT / "pyproject.toml", ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


_CLEAN = {
    "agents/__init__.py": "",
    "agents/models/__init__.py": "",
    "agents/models/base.py": "import tmpbeadline.validators.executor\n",
    "agents/decoding/__init__.py": "",
    "agents/decoding/loop.py": "from tmpbeadline.agents.models import base\n",
    "agents/decoding/step.py": "import tmpbeadline.agents.decoding.loop\n",
    "validators/__init__.py": "",
    "validators/executor.py": "",
    "workflows/__init__.py": "",
    "workflows/graph.py": "from tmpbeadline.agents.decoding import loop\n",
}

_BREAKS = {
    "a module cycle through a lazy import": (
        {"agents/decoding/loop.py": "def f():\n    from tmpbeadline.agents.decoding import step\n"},
        "acyclic",
        "tmpbeadline.agents.decoding",
    ),
    "a module cycle through a TYPE_CHECKING import": (
        {
            "agents/decoding/loop.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from tmpbeadline.agents.decoding.step import X\n"
            )
        },
        "acyclic",
        "tmpbeadline.agents.decoding",
    ),
    "sibling packages importing each other": (
        {"agents/models/base.py": "from tmpbeadline.agents.decoding import step\n"},
        "acyclic",
        "tmpbeadline.agents",
    ),
    "a lower layer importing a higher one": (
        {"validators/executor.py": "def f():\n    import tmpbeadline.agents.models.base\n"},
        "layers",
        "tmpbeadline.validators",
    ),
    "a chain up through a third module": (
        {
            "validators/executor.py": "import tmpbeadline.validators.helper\n",
            "validators/helper.py": "from tmpbeadline.workflows import graph\n",
        },
        "layers",
        "tmpbeadline.workflows",
    ),
}


def _fake_tree(tmp_path: Path, overrides: dict[str, str]) -> Path:
    """A namespace package ``tmpbeadline`` (as ``beadline`` is: no ``__init__.py``) with the three
    layers, checked with this project's contracts (``beadline.`` read as ``tmpbeadline.``);
    returns the config file."""
    for rel, text in {**_CLEAN, **overrides}.items():
        path = tmp_path / "tmpbeadline" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    ours = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = ours[ours.index("[tool.importlinter]") :]
    assert tomllib.loads(section)["tool"]["importlinter"]["contracts"], "no contracts found"
    config = tmp_path / "layering.toml"
    config.write_text(section.replace('"beadline.', '"tmpbeadline.'), encoding="utf-8")
    return config


def test_the_contracts_pass_on_a_clean_fake_tree(tmp_path: Path) -> None:
    done = _lint(_fake_tree(tmp_path, {}), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


@pytest.mark.parametrize("case", sorted(_BREAKS))
def test_the_contracts_catch(tmp_path: Path, case: str) -> None:
    overrides, contract, where = _BREAKS[case]
    done = _lint(_fake_tree(tmp_path, overrides), tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Contracts: 1 kept, 1 broken." in done.stdout, done.stdout
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = {c["id"]: c["name"] for c in ours["tool"]["importlinter"]["contracts"]}
    assert f"{names[contract]} BROKEN" in done.stdout, done.stdout
    assert where in done.stdout.split("Broken contracts", 1)[1], done.stdout
