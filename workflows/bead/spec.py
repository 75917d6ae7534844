"""The bead: one unit of work (a function to write into a repository), validated.

A bead comes from a YAML file or from a ``bd`` tracker's ``.beads/issues.jsonl`` by id (the
loaders are :mod:`beadline.workflows.bead.loaders`). Both produce a validated :class:`Bead`
(:func:`parse_bead`); anything invalid raises :class:`~beadline.workflows.errors.BeadError`
naming the field and the fix.

A YAML bead::

    id: text-1
    title: Slugify a title
    description: Lower-case the text and join its words with single dashes.
    target:
      file: sample_pkg/text.py          # relative to the repository
      function: slugify
      signature: "def slugify(text: str) -> str:"   # optional
    tests:
      - assert slugify("Hello World") == "hello-world"
    integration:
      command: python -m unittest discover -s tests -q
    budgets: {body_part: 3}
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from beadline.validators.executor import TestCase
from beadline.workflows.errors import BeadError

__all__ = [
    "Bead",
    "Budgets",
    "Integration",
    "Target",
    "entry_point_of_tests",
    "parse_bead",
]

_BUILTIN_CALLS = frozenset({"len", "set", "sorted", "list", "abs", "round", "isinstance", "tuple"})


class Target(BaseModel):
    """Where the bead's function goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="Path of the file, relative to the repository root.")
    function: str = Field(description="Name of the function to write (or replace).")
    signature: str | None = Field(
        default=None,
        description="A given `def` line (optionally with a docstring); generated when absent.",
    )
    setup: str | None = Field(
        default=None,
        description="Given module-level code (imports, constants); generated when absent.",
    )

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(value.replace("\\", "/"))
        if not value.strip() or path.is_absolute() or ".." in path.parts:
            raise ValueError(
                f"{value!r} must be a path inside the repository, e.g. 'pkg/module.py'"
            )
        if path.suffix != ".py":
            raise ValueError(f"{value!r} is not a Python file; point target.file at a .py file")
        return str(path)

    @field_validator("function")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"{value!r} is not a Python identifier; give the function's name")
        return value

    @model_validator(mode="after")
    def _signature_matches(self) -> Target:
        if self.signature is not None:
            try:
                module = ast.parse(self.signature.strip() + "\n    pass\n")
            except SyntaxError as exc:
                raise ValueError(
                    f"signature {self.signature!r} does not parse ({exc.msg}); write a complete "
                    "`def name(args):` line"
                ) from None
            defs = [n for n in module.body if isinstance(n, ast.FunctionDef)]
            if not defs or defs[0].name != self.function:
                raise ValueError(
                    f"signature {self.signature!r} does not define {self.function!r}; make its "
                    "`def` name match target.function"
                )
        return self


class Integration(BaseModel):
    """The repository's own check, run after the function passes its unit tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: tuple[str, ...] = Field(
        description="The command (a list or a shell-like string); `python` is the sandbox's Python."
    )
    expect_fail_before: bool = Field(
        default=False,
        description="True when the command tests the new function and so fails before the "
        "change; otherwise it must pass on the unchanged repository.",
    )
    timeout_s: float = Field(default=120.0, gt=0, le=3600, description="Wall-clock limit.")

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:
                raise ValueError(f"command {value!r} does not parse ({exc})") from None
        return value

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(value):
            raise ValueError("the command is empty; e.g. 'python -m pytest -q tests'")
        return value


class Budgets(BaseModel):
    """Attempts each stage may take before the bead fails (or asks a person, in review mode)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signature: int = Field(default=2, ge=1, le=20, description="Attempts at the signature.")
    setup: int = Field(default=2, ge=1, le=20, description="Attempts at the setup code.")
    body_part: int = Field(default=3, ge=1, le=20, description="Attempts at each body part.")
    integration: int = Field(
        default=3, ge=1, le=20, description="Integration runs (each failure re-opens one stage)."
    )
    max_body_parts: int = Field(default=12, ge=1, le=100, description="Body parts at most.")


class Bead(BaseModel):
    """One unit of work: write (or replace) one function in a repository, tested."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable id (the tracker's id or the file's).")
    title: str = Field(default="", description="One line.")
    description: str = Field(description="What the function must do, in words.")
    target: Target
    tests: tuple[str, ...] = Field(
        default=(), description="Unit tests: MBPP-style `assert f(x) == y` lines."
    )
    test_file: str | None = Field(
        default=None,
        description="A pytest file in the repository run as the unit stage (besides `tests`).",
    )
    integration: Integration | None = None
    context: tuple[str, ...] = Field(
        default=(), description="Repository files whose text the model may see (relative)."
    )
    budgets: Budgets = Field(default_factory=Budgets)
    notes: str = Field(default="", description="Anything else (the tracker's design/notes).")
    repo: str | None = Field(
        default=None,
        description="The target repository; a relative path is relative to the bead file "
        "(the loaders resolve it). `--repo` overrides it.",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} must be a non-empty id without spaces, e.g. 'text-1'")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say in words what the function must do")
        return value.strip()

    @field_validator("tests", mode="before")
    @classmethod
    def _tests_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(line for line in value.splitlines() if line.strip())
        return value

    @field_validator("tests")
    @classmethod
    def _asserts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for line in value:
            text = line.strip()
            try:
                tree = ast.parse(text)
            except SyntaxError as exc:
                raise ValueError(
                    f"test {text!r} does not parse ({exc.msg}); fix its syntax"
                ) from None
            if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
                raise ValueError(f"test {text!r} must be one `assert ...` line")
            out.append(text)
        return tuple(out)

    @model_validator(mode="after")
    def _has_tests(self) -> Bead:
        if not self.tests and self.test_file is None:
            raise ValueError(
                "the bead has no unit tests: add `tests:` (assert lines) or `test_file:`"
            )
        return self

    def unit_tests(self) -> tuple[TestCase, ...]:
        """The assert lines as sandbox test cases."""
        return tuple(TestCase.from_assert(line) for line in self.tests)


def entry_point_of_tests(tests: tuple[str, ...] | list[str]) -> str | None:
    """The function most tests call first (``assert f(x) == y`` → ``f``), if any."""
    counts: dict[str, int] = {}
    for line in tests:
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id not in _BUILTIN_CALLS
            ):
                counts[node.func.id] = counts.get(node.func.id, 0) + 1
                break
    return max(counts, key=lambda k: counts[k]) if counts else None


def _explain(error: ValidationError, source: str) -> BeadError:
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(bead)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required; add it"
        elif item["type"] == "extra_forbidden":
            message = "is not a bead field; remove it or check its spelling"
        problems.append(f"{where}: {message}")
    return BeadError(f"invalid bead {source}: " + "; ".join(problems))


def parse_bead(data: Mapping[str, Any], *, source: str = "") -> Bead:
    """Validate a mapping as a bead.

    Raises:
        BeadError: a field is missing or invalid; the message names it and the fix.
    """
    if not isinstance(data, Mapping):
        raise BeadError(
            f"invalid bead {source}: expected a mapping of fields, got {type(data).__name__}"
        )
    try:
        return Bead.model_validate(dict(data))
    except ValidationError as exc:
        raise _explain(exc, source) from None
