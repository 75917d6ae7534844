"""Prompts of the EG-CFG decoder, built from the data files in ``agents/prompts/templates/``.

The templates live in ``templates/templates.yaml`` and the few-shot examples (MBPP problems 1–10,
CC-BY-4.0, attribution in the file) in ``templates/mbpp_shots.yaml``; this module only fills them.

A :class:`Prompt` is cut where the dynamic signal goes, *before the answer*::

    head  [signal block]  tail  answer_lead  program_prefix  <generated code>

so the plain context P is ``head + tail + answer_lead + program_prefix + code`` and the signal
context P+S has the signal block inserted after ``head``. ``program_prefix`` is code the model
continues (a given prompt, signature, or the chat prefill ``def <entry_point>(``) and belongs to
the program; ``answer_lead`` (``[BEGIN]``, a code fence) does not.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from beadline.agents._code import body_indent
from beadline.agents.errors import UserError
from beadline.agents.models.base import Model
from beadline.agents.task import Task

__all__ = [
    "PROMPTS_DIR",
    "Prompt",
    "build_prompt",
    "invocation",
    "load_shots",
    "load_templates",
    "resolve_prompt_type",
    "show_tests",
]

PROMPTS_DIR = Path(__file__).resolve().parent / "templates"
"""The folder holding the prompt data files."""

_SENTINEL = "\x00BEADLINE-SIGNAL\x00"

ConcretePromptType = Literal["fewshot", "chat", "humaneval"]
"""A prompt type after ``auto`` was resolved."""


@functools.cache
def load_templates() -> dict[str, Any]:
    """The parsed ``templates.yaml`` (cached)."""
    data = yaml.safe_load((PROMPTS_DIR / "templates.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):  # pragma: no cover - packaging error
        raise UserError(f"{PROMPTS_DIR / 'templates.yaml'} is not a mapping")
    return data


@functools.cache
def load_shots() -> dict[int, dict[str, Any]]:
    """The few-shot MBPP examples by task id (cached)."""
    data = yaml.safe_load((PROMPTS_DIR / "mbpp_shots.yaml").read_text(encoding="utf-8"))
    return {int(s["task_id"]): s for s in data["shots"]}


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """A prompt cut at the signal's insertion point (see the module docstring)."""

    prompt_type: ConcretePromptType
    """The form used."""
    head: str
    """Text before the dynamic signal."""
    tail: str
    """Text after the signal, before the answer."""
    answer_lead: str
    """Opens the answer; not part of the program."""
    program_prefix: str
    """Code the model continues; part of the program."""
    stop: tuple[str, ...]
    """Stop sequences of the answer."""
    comment_signal: bool = False
    """Write the signal as ``#`` comments (when the whole prompt is code)."""

    def text(self, signal: str | None = None, *, after_code: bool = False) -> str:
        """The full context text up to the generated code, with ``signal`` inserted if given.

        Args:
            signal: the dynamic signal (``None``/empty: the plain context).
            after_code: put the signal as ``#`` comments after the last complete line of
                ``program_prefix`` (at the indent of the line being written) instead of after
                ``head``: all of the prompt before it stays the plain context's, so a KV cache
                shared with it keeps everything but the signal and the code.
        """
        if not signal:
            return self.head + self.tail + self.answer_lead + self.program_prefix
        block = signal if signal.endswith("\n") else signal + "\n"
        if after_code:
            cut = self.program_prefix.rfind("\n") + 1
            before, last = self.program_prefix[:cut], self.program_prefix[cut:]
            indent = last if last and not last.strip() else ""
            comments = "".join(f"{indent}# {line}".rstrip() + "\n" for line in block.splitlines())
            return self.head + self.tail + self.answer_lead + before + comments + last
        if self.comment_signal:
            block = "".join(f"# {line}".rstrip() + "\n" for line in block.splitlines())
        return self.head + block + self.tail + self.answer_lead + self.program_prefix


def show_tests(task: Task) -> str:
    """The visible assert tests as prompt lines (other test kinds are not shown)."""
    return "\n".join(t.source for t in task.tests if t.kind == "assert")


def resolve_prompt_type(prompt_type: str, model: Model, task: Task) -> ConcretePromptType:
    """Resolve ``auto``: ``chat`` when the model has a chat template, else ``fewshot``.

    Raises:
        UserError: an unknown prompt type, ``chat`` on a model without a template, or
            ``humaneval`` for a task without a code prompt or signature.
    """
    if prompt_type == "auto":
        return "chat" if model.capabilities.chat_template else "fewshot"
    if prompt_type == "chat" and not model.capabilities.chat_template:
        raise UserError(
            f"prompt type 'chat' needs a model with a chat template; {model.name} has none: "
            "use --prompt-type fewshot"
        )
    if prompt_type == "humaneval" and not (task.prompt or task.signature):
        raise UserError(
            f"task {task.task_id!r}: prompt type 'humaneval' needs a code prompt or a signature"
        )
    if prompt_type not in ("fewshot", "chat", "humaneval"):
        raise UserError(
            f"unknown prompt type {prompt_type!r}: use fewshot, chat, humaneval or auto"
        )
    return prompt_type  # type: ignore[return-value]


def _given_code(task: Task) -> str:
    """The code the model continues. When it stops inside the target function (after its
    docstring, or after accepted body statements), the body's indentation is prefilled too: a
    small model otherwise tends to close the code block right there."""
    code = task.prompt if task.prompt is not None else (task.signature or "")
    if code and not code.endswith("\n"):
        code += "\n"
    indent = body_indent(code, task.entry_point) if code else None
    # all but one space: BPE tokenizers carry a leading space on the next word's token
    return code + indent[:-1] if indent else code


def _context(task: Task, tpl: dict[str, Any], *, comment: bool = False) -> str:
    """The repository code block of a task in a repository (empty for a standalone task)."""
    code = task.code_context.strip("\n")
    if not code:
        return ""
    if comment:
        code = "\n".join(f"# {line}".rstrip() for line in code.splitlines())
    return str(tpl["context"].format(code=code))


def _fewshot(task: Task, n_shots: int) -> Prompt:
    tpl = load_templates()["fewshot"]
    shots = load_shots()
    parts = [tpl["intro"]]
    for task_id in tpl["shot_order"][:n_shots]:
        shot = shots[int(task_id)]
        parts.append(tpl["task"].format(description=shot["text"], tests="\n".join(shot["tests"])))
        parts.append(tpl["shot_answer"].format(code=shot["code"]))
    parts.append(_context(task, tpl))
    parts.append(tpl["task"].format(description=task.description.strip(), tests=show_tests(task)))
    return Prompt(
        prompt_type="fewshot",
        head="".join(parts),
        tail="",
        answer_lead=tpl["answer_lead"],
        program_prefix=_given_code(task),
        stop=tuple(tpl["stop"]),
    )


def _chat(task: Task, model: Model) -> Prompt:
    tpl = load_templates()["chat"]
    user = tpl["user"].format(
        description=task.description.strip(),
        tests=show_tests(task) or "(none given)",
        entry_point=task.entry_point,
    )
    # Given code (a HumanEval prompt, the accepted stages of a bead) starts the ANSWER, after
    # the fence opener (prefill); it is not shown as a closed ```python block in the user
    # message: a small model copies such a block and closes its answer at once.
    given = _given_code(task)
    messages = []
    if tpl["system"]:
        messages.append({"role": "system", "content": tpl["system"]})
    messages.append({"role": "user", "content": _context(task, tpl) + user + _SENTINEL})
    rendered = model.apply_chat_template(messages, add_generation_prompt=True)
    if rendered.count(_SENTINEL) != 1:  # pragma: no cover - a template that rewrites content
        raise UserError(f"the chat template of {model.name} does not keep the user message intact")
    head, tail = rendered.split(_SENTINEL)
    prefix = given or tpl["prefill"].format(entry_point=task.entry_point)
    return Prompt(
        prompt_type="chat",
        head=head if head.endswith("\n") else head + "\n",
        tail=tail,
        answer_lead=tpl["answer_lead"],
        program_prefix=prefix,
        stop=tuple(tpl["stop"]),
    )


def _humaneval(task: Task) -> Prompt:
    tpl = load_templates()["humaneval"]
    return Prompt(
        prompt_type="humaneval",
        head=tpl["intro"] + _context(task, tpl, comment=True),
        tail="",
        answer_lead=tpl["answer_lead"],
        program_prefix=_given_code(task),
        stop=tuple(tpl["stop"]),
        comment_signal=True,
    )


def build_prompt(
    task: Task, model: Model, *, prompt_type: str = "auto", n_shots: int = 3
) -> Prompt:
    """Build the prompt of ``task`` for ``model``.

    Args:
        task: the task (its visible assert tests are shown; held-out tests never are).
        model: the model (its chat template is used for ``chat``).
        prompt_type: ``fewshot``, ``chat``, ``humaneval`` or ``auto``.
        n_shots: solved examples in the few-shot prompt (0–10).

    Returns:
        The prompt, cut where the dynamic signal goes.

    Raises:
        UserError: see :func:`resolve_prompt_type`.
    """
    kind = resolve_prompt_type(prompt_type, model, task)
    if kind == "fewshot":
        return _fewshot(task, n_shots)
    if kind == "chat":
        return _chat(task, model)
    return _humaneval(task)


def invocation(source: str, entry_point: str) -> str:
    """The call of ``entry_point`` inside an assert line (``assert f(2) == 4`` → ``f(2)``).

    Falls back to the source itself when no such call is found.
    """
    try:
        tree = ast.parse(source.strip())
    except SyntaxError:
        return source.strip()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == entry_point
        ):
            return ast.get_source_segment(source.strip(), node) or source.strip()
    return source.strip()
