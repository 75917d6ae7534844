"""The bead: one unit of work (a function to write into a repository) and its loaders.

A bead comes from a YAML file (:func:`load_bead_file`) or from a ``bd`` tracker's
``.beads/issues.jsonl`` by id (:func:`load_bead_from_jsonl`). Both produce a validated
:class:`Bead`; anything invalid raises :class:`~beadline.workflows.errors.BeadError` naming the
field and the fix.

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

A ``bd`` issue carries the same information in its text fields: the tests are the ``assert``
lines of fenced code blocks in ``acceptance_criteria`` (or ``design``); the target and the
command are ``key: value`` lines (``file:``, ``function:``, ``signature:``, ``command:``) in
``design`` or ``notes``, or a fenced ``yaml`` block there holding ``target``/``integration``/
``budgets`` like a YAML bead. The function name defaults to the one the tests call.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from beadline.validators.executor import TestCase
from beadline.workflows.errors import BeadError

__all__ = [
    "Bead",
    "Budgets",
    "Integration",
    "Target",
    "bead_from_issue",
    "entry_point_of_tests",
    "load_bead",
    "load_bead_file",
    "load_bead_from_jsonl",
    "parse_bead",
]

_BUILTIN_CALLS = frozenset({"len", "set", "sorted", "list", "abs", "round", "isinstance", "tuple"})
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_KEY_LINE = re.compile(
    r"^\s*[-*]?\s*\**(file|function|signature|command|integration)\**\s*:\s*(.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


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


def load_bead_file(path: Path) -> Bead:
    """Load a bead from a YAML (or JSON) file. The id defaults to the file's stem.

    Raises:
        BeadError: the file is missing, does not parse, or the bead is invalid.
    """
    if not path.is_file():
        raise BeadError(f"bead file {str(path)!r} not found; pass a YAML bead file or a bead id")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BeadError(f"bead file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise BeadError(f"bead file {str(path)!r} must hold a mapping of fields (id, target, ...)")
    data.setdefault("id", path.stem)
    repo = data.get("repo")
    if isinstance(repo, str) and repo.strip() and not Path(repo).is_absolute():
        data["repo"] = str((path.parent / repo).resolve())
    return parse_bead(data, source=repr(str(path)))


def _fenced(text: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text or "")]


def _assert_lines(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip().startswith("assert ")]


def bead_from_issue(issue: Mapping[str, Any], *, source: str = "") -> Bead:
    """Turn a ``bd`` issue (one JSON object of ``issues.jsonl``) into a bead.

    Raises:
        BeadError: the issue lacks tests, a target file, or holds invalid values.
    """
    issue_id = str(issue.get("id", ""))
    where = source or f"issue {issue_id!r}"
    texts = {
        k: str(issue.get(k) or "")
        for k in ("description", "design", "acceptance_criteria", "notes")
    }
    tests: list[str] = []
    for field in ("acceptance_criteria", "design"):
        for lang, block in _fenced(texts[field]):
            if lang in ("", "python", "py"):
                tests.extend(_assert_lines(block))
    data: dict[str, Any] = {}
    for field in ("design", "notes"):
        for lang, block in _fenced(texts[field]):
            if lang in ("yaml", "yml"):
                try:
                    loaded = yaml.safe_load(block)
                except yaml.YAMLError as exc:
                    raise BeadError(
                        f"{where}: the yaml block in {field} does not parse: {exc}"
                    ) from None
                if isinstance(loaded, dict):
                    data.update(loaded)
    target: dict[str, Any] = dict(data.pop("target", None) or {})
    for field in ("design", "notes"):
        plain = _FENCE.sub("", texts[field])
        for match in _KEY_LINE.finditer(plain):
            key, value = match.group(1).lower(), match.group(2).strip().strip("`")
            if key in ("file", "function", "signature"):
                target.setdefault(key, value)
            elif "integration" not in data:
                data["integration"] = {"command": value}
    if "function" not in target:
        found = entry_point_of_tests(tests)
        if found:
            target["function"] = found
    if "file" not in target:
        raise BeadError(
            f"{where}: no target file; add a line `file: path/to/module.py` to the issue's design "
            "(or a ```yaml block with `target: {file: ..., function: ...}`)"
        )
    if not tests and "tests" not in data and "test_file" not in data:
        raise BeadError(
            f"{where}: no tests; put `assert ...` lines in a fenced ```python block in the "
            "issue's acceptance_criteria (or design)"
        )
    description = texts["description"].strip() or str(issue.get("title") or "").strip()
    data.setdefault("tests", tests)
    data.update(
        id=issue_id,
        title=str(issue.get("title") or ""),
        description=description,
        target=target,
        notes="\n\n".join(t for t in (texts["design"], texts["notes"]) if t.strip()),
    )
    return parse_bead(data, source=where)


def load_bead_from_jsonl(path: Path, bead_id: str) -> Bead:
    """Load the issue ``bead_id`` from a ``bd`` tracker file (``.beads/issues.jsonl``).

    Raises:
        BeadError: the file is missing or unreadable, or no issue has that id (the message lists
            a few known ids), or the issue is not a valid bead.
    """
    if not path.is_file():
        raise BeadError(
            f"beads file {str(path)!r} not found; pass --beads-file PATH or run in a repository "
            "with .beads/issues.jsonl"
        )
    known: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            issue = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BeadError(
                f"{path}:{number} is not valid JSON ({exc.msg}); fix or remove that line"
            ) from None
        if not isinstance(issue, dict):
            continue
        if str(issue.get("id")) == bead_id:
            bead = bead_from_issue(issue, source=f"{path}:{number} ({bead_id})")
            if bead.repo is None and path.parent.name == ".beads":
                # a tracker file lives in the repository it tracks
                bead = bead.model_copy(update={"repo": str(path.parent.parent.resolve())})
            return bead
        known.append(str(issue.get("id")))
    shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
    raise BeadError(f"no bead with id {bead_id!r} in {path}; known ids: {shown or '(none)'}")


def load_bead(ref: str, *, beads_file: Path | None = None) -> Bead:
    """Load a bead from a file path (YAML/JSON) or, failing that, by id from a tracker file.

    Args:
        ref: A bead file path or an issue id.
        beads_file: The tracker file for ids (default ``.beads/issues.jsonl``).

    Raises:
        BeadError: as :func:`load_bead_file` / :func:`load_bead_from_jsonl`.
    """
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        return load_bead_file(path)
    return load_bead_from_jsonl(beads_file or Path(".beads/issues.jsonl"), ref)
