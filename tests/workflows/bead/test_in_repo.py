"""The target's place in its repository and the signature a bead builds on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from beadline.agents.splice import locate_target
from beadline.workflows.bead.in_repo import effective_signature, open_target
from beadline.workflows.bead.spec import parse_bead
from beadline.workflows.errors import BeadError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inventory_repo"
STUB = '''class Account:
    @property
    def label(self) -> str:
        """The owner, upper-cased."""
        raise NotImplementedError
'''


def _bead(signature: str | None, function: str = "Account.label") -> object:
    target = {"file": "m.py", "function": function}
    if signature is not None:
        target["signature"] = signature
    return parse_bead({"id": "b", "description": "d", "target": target, "tests": ["assert 1"]})


def test_a_stub_keeps_its_decorators_and_docstring_unless_the_bead_replaces_them() -> None:
    site = locate_target(STUB, "Account.label")
    assert effective_signature(_bead(None), site) == (  # type: ignore[arg-type]
        '@property\ndef label(self) -> str:\n    """The owner, upper-cased."""'
    )
    # a given def line without decorators or docstring gets the stub's
    assert effective_signature(_bead("def label(self) -> str:"), site) == (  # type: ignore[arg-type]
        '@property\ndef label(self) -> str:\n    """The owner, upper-cased."""'
    )
    # a given signature with its own decorator and docstring replaces them
    own = '@functools.cached_property\ndef label(self) -> str:\n    """Cached."""'
    assert effective_signature(_bead(own), site) == own  # type: ignore[arg-type]
    # a new target builds on the bead's signature alone
    new = locate_target(STUB, "Account.other", create=True)
    assert effective_signature(_bead(None, "Account.other"), new) is None  # type: ignore[arg-type]


def test_open_target_names_the_module_and_the_fix(tmp_path: Path) -> None:
    repo = tmp_path / "inventory_repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    bead = parse_bead(
        {
            "id": "b",
            "description": "d",
            "target": {"file": "inventory/auth.py", "function": "AuthService.authenticate"},
            "tests": ["assert 1"],
        }
    )
    target = open_target(bead, repo)
    assert target.context.module == "inventory.auth"
    assert target.site.exists and target.site.indent == "    "
    assert (
        target.module.splice(target.site.signature + "\n    return True\n").text.count(
            "raise NotImplementedError"
        )
        == 0
    )
    with pytest.raises(BeadError, match=r"bead b: repository .* is not a directory"):
        open_target(bead, repo / "README.md")
    missing = bead.model_copy(
        update={"target": bead.target.model_copy(update={"function": "AuthService.logout"})}
    )
    with pytest.raises(
        BeadError, match=r"method AuthService.logout not found in inventory/auth.py"
    ):
        open_target(missing, repo)
