"""tests._tmux drives a program in a real terminal: fixed size, typed input, screen reads."""

from __future__ import annotations

import shutil
import signal
import sys

import pytest

from tests._tmux import TmuxSession

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PROGRAM = """
import shutil, sys
print("size", *shutil.get_terminal_size(), "tty", sys.stdin.isatty())
name = input("name? ")
print("hello", name)
lines = []
while (line := input("> ")) != ".":
    lines.append(line)
print("block", repr("\\n".join(lines)))
sys.exit(3)
"""


def test_types_into_a_program_and_reads_its_screen() -> None:
    with TmuxSession.start([sys.executable, "-c", PROGRAM], width=100, height=30) as term:
        assert "size 100 30 tty True" in term.wait_for(r"name\?")
        term.type_text("Ada")
        term.wait_for("hello Ada")
        term.type_text("def f():\n    return 1\n.")
        screen = term.wait_for(r"block ")
        assert "block 'def f():\\n    return 1'" in screen
        assert term.exit_status(timeout=10) == 3
        # remain-on-exit: the last screen is still readable after the program ended.
        assert "hello Ada" in term.screen()


def test_wait_for_reports_the_screen_when_the_pattern_never_shows() -> None:
    with TmuxSession.start("echo nothing to see; sleep 30") as term:
        with pytest.raises(AssertionError, match="nothing to see"):
            term.wait_for("never printed", timeout=1)
        term.keys("C-c")
        assert term.exit_status(timeout=10) == -signal.SIGINT
