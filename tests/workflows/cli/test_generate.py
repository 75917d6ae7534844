"""``beadline generate`` through click's CliRunner, on the packaged models."""

from __future__ import annotations

from click.testing import CliRunner

from beadline.agents.decoding.guidance import guide
from beadline.agents.models.llama_cpp import LlamaCppModel
from beadline.workflows.cli import cli
from beadline.workflows.cli.generate import signal_context

PROMPT = "def add(a, b):\n    return"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["generate", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_plain_generation_prints_the_greedy_continuation() -> None:
    code, out = _run("-m", "smollm2-135m", "-p", PROMPT, "-n", "4")
    assert code == 0
    with LlamaCppModel("smollm2-135m", n_ctx=256) as model:
        (c,) = model.complete(model.tokenize(PROMPT, add_bos=True), max_tokens=4)
    assert out == c.text + "\n"


def test_guided_generation_follows_the_guided_argmax() -> None:
    signal = "# add(2, 3) must return 6"
    code, out = _run("-m", "smollm2-135m", "-p", PROMPT, "-s", signal, "-g", "3", "-n", "1")
    assert code == 0
    with LlamaCppModel("smollm2-135m", n_ctx=256) as model:
        plain = model.new_session(model.tokenize(PROMPT, add_bos=True)).next_logprobs()
        sig = model.new_session(
            model.tokenize(signal_context(signal, PROMPT), add_bos=True)
        ).next_logprobs()
        best = guide(plain, sig, 3.0).top(1)[0][0]
        assert out == model.detokenize([best]) + "\n"


def test_show_guidance_prints_a_table_per_step() -> None:
    code, out = _run(
        "-m", "tiny-test", "-p", "x = 1", "-s", "# y", "-n", "2", "--show-guidance", "--top", "3"
    )
    assert code == 0
    assert out.count("step ") == 2 and "plain p(x|P)" in out and "guided (γ=1)" in out
    assert "continuation (2 tokens, length)" in out


def test_bad_input_gives_one_line_errors() -> None:
    code, out = _run("-p", "x", "-s", "y", "-g", "nan")
    assert code == 1 and out.startswith("Error: guidance strength gamma") and out.count("\n") == 1
    code, out = _run("-p", "x", "-m", "nope")
    assert code == 1 and "unknown model 'nope'" in out
    code, out = _run("-p", "x", "-g", "2")
    assert code == 2 and "--gamma needs --signal" in out
    code, out = _run("-p", "x", "-m", "tiny-test", "--chat")
    assert code == 2 and "no chat template" in out
    code, out = _run("-p", "x", "-m", "tiny-test", "-t", "-0.5")
    assert code == 1 and "temperature must be 0 (greedy) or a positive number" in out


def test_signal_context_definition() -> None:
    assert signal_context("# s", "p") == "# s\np"
    assert signal_context("# s\n", "p") == "# s\np"
    assert signal_context("", "p") == "p"
