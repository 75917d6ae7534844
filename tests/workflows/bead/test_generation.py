"""Stage generators: program assembly, block extraction, the EG-CFG generator's prompts and
its free-function fallback (with the decoder replaced by a recording fake)."""

from __future__ import annotations

from typing import Any

import pytest

from beadline.agents.decoding import Decoded
from beadline.agents.record import DecodeRecord
from beadline.agents.settings import DecoderSettings
from beadline.agents.task import Cost, Task
from beadline.agents.testing import FunctionModel
from beadline.validators.testing import FakeExecutor
from beadline.workflows.bead import generation
from beadline.workflows.bead.generation import (
    EgcfgGenerator,
    Feedback,
    ScriptedGenerator,
    StageRequest,
    assemble_program,
    first_new_block,
    is_final_part,
    module_names_missing,
)
from beadline.workflows.bead.spec import Bead, parse_bead

BEAD: Bead = parse_bead(
    {
        "id": "g",
        "description": "Return the sum of the squares of xs.",
        "target": {"file": "m.py", "function": "f", "signature": "def f(xs):"},
        "tests": ["assert f([1, 2]) == 5"],
    }
)


def test_assemble_program_maps_lines_to_stages() -> None:
    layout = assemble_program(
        "import math",
        "def f(xs):",
        ["total = 0", "    for x in xs:\n        total += x", "return total"],
    )
    assert layout.program == (
        "import math\n\n\ndef f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
    )
    assert [(r.stage, r.part, r.first, r.last) for r in layout.regions] == [
        ("setup", 0, 1, 1),
        ("signature", 0, 4, 4),
        ("body", 0, 5, 5),
        ("body", 1, 6, 7),
        ("body", 2, 8, 8),
    ]
    region = layout.region_of(7)
    assert region is not None and (region.stage, region.part) == ("body", 1)
    assert assemble_program("", "def f(xs):", []).program == "def f(xs):\n    pass\n"
    assert assemble_program("", 'def f(xs):\n    """Doc."""', []).program.endswith('"""Doc."""\n')


def test_first_new_block_takes_one_statement_beyond_the_prefix() -> None:
    prefix = "def f(xs):\n    total = 0\n"
    program = prefix + "    for x in xs:\n        total += x\n    return total\n"
    assert first_new_block(prefix, program, "f") == ("    for x in xs:\n        total += x", False)
    assert first_new_block(prefix, "    return total\n", "f") == ("    return total", True)
    assert first_new_block(prefix, prefix, "f") == ("", True)
    assert first_new_block(prefix, "garbage (((", "f") == ("", True)


def test_small_helpers() -> None:
    assert is_final_part("    return x") and is_final_part("raise ValueError()")
    assert not is_final_part("    if x:\n        return 1")
    assert module_names_missing(
        ["NameError: name 'math' is not defined", "name 'foo' is not defined"]
    ) == ["math"]


def test_scripted_generator_replays_per_stage_and_repeats_the_last() -> None:
    gen = ScriptedGenerator({"body[0]": ["a = 1", "a = 2"]})
    req = StageRequest(bead=BEAD, stage="body", part=0)
    assert [gen.generate(req).code for _ in range(3)] == ["a = 1", "a = 2", "a = 2"]
    assert gen.generate(StageRequest(bead=BEAD, stage="signature")).code == "def f(xs):"
    assert gen.generate(StageRequest(bead=BEAD, stage="setup")).code == ""
    end = gen.generate(StageRequest(bead=BEAD, stage="body", part=1))
    assert end.code == "" and end.done
    assert len(gen.calls) == 6


class _FakeDecoder:
    """Stands in for ``decode``: answers by whether a code prefix was given; records tasks."""

    def __init__(self, with_prefix: str | None, free: str) -> None:
        self.with_prefix = with_prefix
        self.free = free
        self.tasks: list[Task] = []
        self.settings: list[DecoderSettings] = []

    def __call__(self, task: Task, model: Any, executor: Any, settings: DecoderSettings) -> Decoded:
        self.tasks.append(task)
        self.settings.append(settings)
        assert type(executor).__name__ == "_ObservedExecutor"  # progress events per run
        program = self.free if task.prompt is None else task.prompt + (self.with_prefix or "")
        record = DecodeRecord(task_id=task.task_id, entry_point=task.entry_point, program=program)
        return Decoded(
            program=program, status="unsolved", cost=Cost(tokens_generated=7), record=record
        )


@pytest.fixture
def model() -> FunctionModel:
    return FunctionModel(lambda ctx: {"a": 0.0})


def test_egcfg_body_part_continues_the_accepted_prefix(
    monkeypatch: pytest.MonkeyPatch, model: FunctionModel
) -> None:
    fake = _FakeDecoder(
        with_prefix="    for x in xs:\n        total += x * x\n    return total\n", free=""
    )
    monkeypatch.setattr(generation, "decode", fake)
    gen = EgcfgGenerator(model, FakeExecutor())
    feedback = Feedback(
        stage="body",
        summary="NameError: name 'y' is not defined",
        evidence=("trace: L3",),
        hint="square x",
    )
    out = gen.generate(
        StageRequest(
            bead=BEAD,
            stage="body",
            part=1,
            signature="def f(xs):",
            parts=("    total = 0",),
            feedback=feedback,
            attempt=2,
        )
    )
    assert out.code == "    for x in xs:\n        total += x * x"
    assert not out.done and out.cost.tokens_generated == 7
    (task,) = fake.tasks
    assert task.prompt == "def f(xs):\n    total = 0\n"
    assert (
        "NameError: name 'y' is not defined" in task.description
        and "Reviewer's hint: square x" in task.description
    )
    assert fake.settings[0].stop_after_blocks == 1
    assert fake.settings[0].seed == 1 and fake.settings[0].temperature == 0.7  # a retry samples


def test_egcfg_falls_back_to_a_whole_function_and_hands_it_out_part_by_part(
    monkeypatch: pytest.MonkeyPatch, model: FunctionModel
) -> None:
    free = 'def f(values):\n    """Doc."""\n    total = 0\n    for v in values:\n        total += v * v\n    return total\n'
    fake = _FakeDecoder(with_prefix=None, free=free)
    monkeypatch.setattr(generation, "decode", fake)
    gen = EgcfgGenerator(model, FakeExecutor())
    parts: list[str] = []
    for i in range(3):
        out = gen.generate(
            StageRequest(
                bead=BEAD, stage="body", part=i, signature="def f(xs):", parts=tuple(parts)
            )
        )
        parts.append(out.code)
    # the parameter is renamed to the signature's; the docstring is not a part
    assert parts == [
        "    total = 0",
        "    for v in xs:\n        total += v * v",
        "    return total",
    ]
    assert out.done
    # one prefix attempt (nothing new), one free decode; later parts come from the kept function
    assert [t.prompt is not None for t in fake.tasks] == [True, False]


def test_egcfg_signature_and_setup(monkeypatch: pytest.MonkeyPatch, model: FunctionModel) -> None:
    fake = _FakeDecoder(with_prefix=None, free="import re\nLIMIT = 3\n\ndef f(xs):\n    return 1\n")
    monkeypatch.setattr(generation, "decode", fake)
    bead = parse_bead({**BEAD.model_dump(mode="json"), "target": {"file": "m.py", "function": "f"}})
    gen = EgcfgGenerator(model, FakeExecutor())
    assert gen.generate(StageRequest(bead=bead, stage="signature")).code == "def f(xs):"
    assert gen.generate(StageRequest(bead=bead, stage="setup")).code == "import re\nLIMIT = 3"
    fb = Feedback(stage="body", evidence=("NameError: name 'math' is not defined",))
    assert (
        gen.generate(StageRequest(bead=bead, stage="setup", feedback=fb)).code
        == "import re\nLIMIT = 3\nimport math"
    )
    given = EgcfgGenerator(model, FakeExecutor()).generate(
        StageRequest(bead=BEAD, stage="signature")
    )
    assert given.code == "def f(xs):" and len(fake.tasks) == 1  # a given signature costs nothing
