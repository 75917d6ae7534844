"""Drive a terminal program in a real terminal: tmux, detached, at a fixed size.

For the review-screen tests (prompts, tables, $EDITOR) that a ``CliRunner`` cannot show::

    with TmuxSession.start(["beadline", "bead", "run", ...], cwd=repo) as term:
        term.wait_for(r"Approve\\?")
        term.type_text("e")       # literal text, then Enter
        term.keys("C-d")          # tmux key names: Enter, Escape, C-c, Up, ...
        term.paste("a\n  b\n")    # all at once, as a terminal paste
        screen = term.wait_for("written")
        assert term.exit_status(timeout=30) == 0

Each session runs on a tmux server of its own (a private socket in a temp directory), so it
never touches a person's tmux, and ``close`` (or leaving the ``with``) kills that server.
``remain-on-exit`` keeps the pane after the program ends, so its last screen can be read.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

# Runs the program as its child and writes its exit status to a file: tmux 3.3 sometimes marks
# a pane dead without ever filling #{pane_dead_status}. It ignores SIGINT itself (after the
# child started, so the child keeps the default), so C-c reaches only the program.
_LAUNCHER = """\
import os, signal, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
signal.signal(signal.SIGINT, signal.SIG_IGN)
code = child.wait()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(code))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
sys.exit(code if code >= 0 else 128 - code)
"""

_CONFIG = """\
set -g remain-on-exit on
set -g history-limit 10000
set -g default-terminal screen-256color
set -g status off
set -g default-size {width}x{height}
"""


def _server_env() -> dict[str, str]:
    # COLUMNS/LINES (set to 80/24 under pytest) would override the terminal's real size for
    # the program (shutil.get_terminal_size, rich, click read them first).
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.setdefault("TERM", "xterm-256color")
    return env


class TmuxSession:
    """One program in a detached tmux session; see the module docstring."""

    def __init__(self, socket_dir: Path, width: int, height: int) -> None:
        self._dir = socket_dir
        self.socket = socket_dir / "tmux.sock"
        self._status = socket_dir / "status"
        self.width = width
        self.height = height

    @classmethod
    def start(
        cls,
        command: Sequence[str] | str,
        *,
        width: int = 120,
        height: int = 40,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TmuxSession:
        """Start ``command`` (argv list, or a shell string) in a ``width`` x ``height`` terminal.

        Args:
            command: the program: an argv list, or a string run by ``/bin/sh -c``.
            width: terminal columns.
            height: terminal rows.
            cwd: working directory (default: the current one).
            env: variables set for the program (on top of the tmux server's environment).

        Raises:
            RuntimeError: tmux is not installed or the session did not start.
        """
        tmux = shutil.which("tmux")
        if tmux is None:
            raise RuntimeError("tmux is not installed (apt-get install tmux)")
        socket_dir = Path(tempfile.mkdtemp(prefix="beadline-tmux-"))
        (socket_dir / "tmux.conf").write_text(
            _CONFIG.format(width=width, height=height), encoding="utf-8"
        )
        session = cls(socket_dir, width, height)
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        if env:
            argv = ["env", *(f"{k}={v}" for k, v in env.items()), *argv]
        line = shlex.join([sys.executable, "-c", _LAUNCHER, str(session._status), *argv])
        # The size comes from the config's default-size: with -x/-y the program starts at
        # 80x24 and is resized a moment later (tmux 3.3), so it may read the wrong size.
        args = ["new-session", "-d", "-s", "main"]
        if cwd is not None:
            args += ["-c", str(cwd)]
        try:
            session._tmux(*args, line)
        except RuntimeError:
            session.close()
            raise
        return session

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", str(self._dir / "tmux.conf"), *args],
            capture_output=True,
            text=True,
            check=False,
            env=_server_env(),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def keys(self, *names: str) -> None:
        """Send tmux key names (``Enter``, ``Escape``, ``C-c``, ``Up``, ``BSpace`` ...)."""
        self._tmux("send-keys", "-t", "main", *names)

    def type_text(self, text: str, *, enter: bool = True) -> None:
        """Type ``text`` literally (no key-name lookup), then Enter unless ``enter=False``.

        A newline in ``text`` is sent as Enter, so a multi-line block is typed line by line.
        """
        for i, line in enumerate(text.split("\n")):
            if i:
                self.keys("Enter")
            if line:
                self._tmux("send-keys", "-t", "main", "-l", line)
        if enter:
            self.keys("Enter")

    def paste(self, text: str) -> None:
        """Paste ``text`` as a terminal paste does: all of it at once (newlines as Enter)."""
        self._tmux("set-buffer", "-b", "paste", "--", text)
        self._tmux("paste-buffer", "-d", "-b", "paste", "-t", "main")

    def screen(self, *, history: bool = False) -> str:
        """The visible screen as text (``history=True``: with the scrollback above it).

        tmux drops trailing spaces of each line: match ``r"name\\?"``, not ``"name? "``.
        """
        args = ["capture-pane", "-p", "-t", "main"]
        if history:
            args += ["-S", "-"]
        return self._tmux(*args)

    def wait_for(self, pattern: str, *, timeout: float = 30.0, history: bool = False) -> str:
        """Wait until the screen matches the regular expression ``pattern``; return the screen.

        Raises:
            AssertionError: not seen within ``timeout`` seconds (the message shows the screen).
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(history=history)
            if regex.search(text):
                return text
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{pattern!r} not on the screen after {timeout:.0f} s; screen:\n{text}"
                )
            time.sleep(0.1)

    def exit_status(self, *, timeout: float = 30.0) -> int:
        """Wait for the program to end; return its exit status (``-N``: killed by signal N).

        Raises:
            AssertionError: still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not self._status.exists():
            if time.monotonic() >= deadline:
                raise AssertionError(f"still running after {timeout:.0f} s:\n{self.screen()}")
            time.sleep(0.05)
        return int(self._status.read_text(encoding="utf-8"))

    def close(self) -> None:
        """Kill this session's tmux server (and so the program) and remove its socket."""
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, check=False
        )
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> TmuxSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
