"""``beadline bead run`` in a real repository: the examples end to end, and bad input.

The example beads (``examples/beads/inventory-*.yaml``) run with their scripted stages through
the whole pipeline — the graph, the sandbox (local and docker), the merge, the write and the
re-check — on a private copy of ``examples/inventory_repo``. Bad input ends with one clear line
and exit code 1, and leaves the repository as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from beadline.workflows.cli import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BEADS = EXAMPLES / "beads"
EXAMPLE_BEADS = [
    "inventory-1-authenticate",
    "inventory-2-order-total",
    "inventory-3-inventory-value",
]
TARGETS = {
    "inventory-1-authenticate": "inventory/auth.py",
    "inventory-2-order-total": "inventory/pricing.py",
    "inventory-3-inventory-value": "inventory/reports.py",
}


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    repo = tmp_path / "inventory_repo"
    shutil.copytree(EXAMPLES / "inventory_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _run(tmp_path: Path, bead: str | Path, repo: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli,
        [
            "bead",
            "run",
            str(bead),
            "--repo",
            str(repo),
            "--db",
            str(tmp_path / "state.sqlite"),
            "--report-dir",
            str(tmp_path / "reports"),
            *args,
        ],
        catch_exceptions=False,
    )


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("sandbox", ["local", pytest.param("docker", marks=pytest.mark.docker)])
@pytest.mark.parametrize("name", EXAMPLE_BEADS)
def test_example_beads_pass_end_to_end_with_the_scripted_model(
    tmp_path: Path, inventory: Path, name: str, sandbox: str
) -> None:
    before = (inventory / TARGETS[name]).read_text()
    result = _run(
        tmp_path,
        BEADS / f"{name}.yaml",
        inventory,
        "-m",
        f"scripted:{BEADS / 'scripted' / f'{name}.yaml'}",
        "--sandbox",
        sandbox,
        "--thread",
        "t",
    )
    assert result.exit_code == 0, result.output
    assert (
        "all stages validated" in result.output
        and "re-checked: 3/3 unit tests passed" in result.output
    )
    report = json.loads((tmp_path / "reports" / "t.json").read_text())
    written = (inventory / TARGETS[name]).read_text()
    # what landed is the module text that passed integration, byte for byte
    assert written == report["module_text"] and written != before
    assert (inventory / f"{TARGETS[name]}.bak").read_text() == before
    assert report["applied"]["recheck"]["ok"] is True
    # the tests of the other stubs failed before and still do: listed, not blocking
    assert report["pre_existing_failures"]
    assert all(TARGETS[name].split("/")[1][:-3] not in i for i in report["pre_existing_failures"])


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, inventory: Path) -> None:
    model = f"scripted:{BEADS / 'scripted' / 'inventory-2-order-total.yaml'}"
    original = (BEADS / "inventory-2-order-total.yaml").read_text()
    before = _digest(inventory)
    cases: list[tuple[str, str]] = [
        (
            original.replace("function: order_total", "function: order_totals"),
            "function order_totals not found in inventory/pricing.py; add `create: true`",
        ),
        (
            original.replace("function: order_total", "function: Cart.total"),
            "class Cart not found in inventory/pricing.py; create the class first",
        ),
        (
            original.replace("function: order_total", "function: round_money.inner"),
            "round_money in inventory/pricing.py is a function: a target inside a function is "
            "not supported",
        ),
        (
            original.replace("command: python -m pytest -q tests", "command: no-such-tool-xyz"),
            "integration command not found",
        ),
        (
            original.replace("file: inventory/pricing.py", "file: inventory/missing/x.py"),
            "the package directory 'inventory/missing' of 'inventory/missing/x.py' does not exist",
        ),
    ]
    for i, (text, message) in enumerate(cases):
        bead = tmp_path / f"bad{i}.yaml"
        bead.write_text(text)
        result = _run(tmp_path, bead, inventory, "-m", model, "--sandbox", "local")
        assert result.exit_code == 1, result.output
        assert message in _error_line(result.output), result.output
    # a repository that is not a directory
    result = _run(
        tmp_path, BEADS / "inventory-2-order-total.yaml", inventory / "README.md", "-m", model
    )
    assert result.exit_code == 1
    assert "is not a directory; pass an existing directory" in _error_line(result.output)
    assert _digest(inventory) == before


def test_a_module_that_does_not_import_is_refused_before_any_model_time(
    tmp_path: Path, inventory: Path
) -> None:
    pricing = inventory / "inventory" / "pricing.py"
    pricing.write_text(
        pricing.read_text().replace("from .models", "import not_installed_xyz\nfrom .models")
    )
    before = _digest(inventory)
    result = _run(
        tmp_path,
        BEADS / "inventory-2-order-total.yaml",
        inventory,
        "-m",
        f"scripted:{BEADS / 'scripted' / 'inventory-2-order-total.yaml'}",
        "--sandbox",
        "local",
        "--thread",
        "noimport",
    )
    assert result.exit_code == 1
    line = _error_line(result.output)
    assert (
        "module inventory.pricing (inventory/pricing.py) does not import before the bead starts"
        in line
    )
    assert "ModuleNotFoundError: No module named 'not_installed_xyz'" in line
    report = json.loads((tmp_path / "reports" / "noimport.json").read_text())
    assert report["status"] == "invalid" and report["attempts"] == []  # nothing was generated
    assert _digest(inventory) == before


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A directory the sandbox's unprivileged uid can read (pytest's ``tmp_path`` is private)."""
    path = Path(tempfile.mkdtemp(prefix="beadline-deps-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_repositorys_own_dependencies_come_from_site_packages(
    tmp_path: Path, inventory: Path, readable_dir: Path
) -> None:
    deps = readable_dir
    (deps / "moneyfmt").mkdir(parents=True)
    (deps / "moneyfmt" / "__init__.py").write_text("def cents(x):\n    return round(x, 2)\n")
    pricing = inventory / "inventory" / "pricing.py"
    pricing.write_text(pricing.read_text().replace("from .models", "import moneyfmt\nfrom .models"))
    args = [
        "-m",
        f"scripted:{BEADS / 'scripted' / 'inventory-2-order-total.yaml'}",
        "--sandbox",
        "local",
    ]
    bead = BEADS / "inventory-2-order-total.yaml"
    refused = _run(tmp_path, bead, inventory, *args, "--thread", "no-deps")
    assert refused.exit_code == 1
    assert "No module named 'moneyfmt'" in _error_line(refused.output)
    assert "--site-packages" in _error_line(refused.output)
    result = _run(
        tmp_path, bead, inventory, *args, "--site-packages", str(deps), "--thread", "deps"
    )
    assert result.exit_code == 0, result.output
    assert (
        "import moneyfmt" in pricing.read_text() and "round_money(subtotal" in pricing.read_text()
    )
