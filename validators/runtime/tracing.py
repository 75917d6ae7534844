"""A ``sys.settrace`` recorder of the program under test (runs inside the sandbox child).

Only frames whose code comes from the program (``co_filename == filename``) are recorded: the
harness, the test's own code and the standard library are invisible, but a call from the test
into the program is seen. Events are plain dicts in the JSON form of
``beadline.validators.executor.Trace`` (empty fields omitted):

- ``call``: a traced function was entered; ``locals`` holds its arguments;
- ``line``: a line is about to run; ``locals`` holds the locals that changed since the previous
  event of that frame (truncated ``repr`` strings);
- ``return``: the function returned ``value`` (not recorded when it is left by an exception);
- ``exception``: ``value`` is ``"Type: message"`` raised at ``line`` (recorded once per exception).

Caps on the number of events and on the characters recorded stop the recording and set
``truncated``. Reprs are deterministic for deterministic code: memory addresses are masked and
the worker runs with ``PYTHONHASHSEED=0``.
"""

from __future__ import annotations

import reprlib
import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from .outcomes import clip

__all__ = ["Tracer", "exc_text", "safe_repr"]

_SIMPLE = (int, float, bool, complex, type(None))
_IMMUTABLE = (int, float, bool, complex, str, bytes, type(None), frozenset)


class _ShortRepr(reprlib.Repr):
    """reprlib limits for big containers: bounded work however large the value is."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 12
        self.maxdict = 8
        self.maxarray = 12
        self.maxstring = limit
        self.maxlong = limit
        self.maxother = limit
        self.maxlevel = 4


_SHORT: dict[int, _ShortRepr] = {}


def _mask_addresses(text: str) -> str:
    # ``<Foo object at 0x7f...>`` differs run to run (ASLR); keep reprs deterministic.
    out = []
    i = 0
    while True:
        j = text.find(" at 0x", i)
        if j < 0:
            out.append(text[i:])
            break
        k = j + 6
        while k < len(text) and text[k] in "0123456789abcdefABCDEF":
            k += 1
        out.append(text[i:j] + " at 0x…")
        i = k
    return "".join(out)


def safe_repr(value: object, limit: int) -> str:
    """``repr(value)`` cut to ``limit`` characters, never raising and with bounded work.

    Args:
        value: Any object (a user ``__repr__`` may raise or be slow on huge data).
        limit: Characters kept; longer reprs end in ``...``.
    """
    kind = type(value)
    try:
        if kind in _SIMPLE:
            text = repr(value)
        elif kind is str:
            text = repr(value[: limit + 2]) if len(value) > limit + 2 else repr(value)  # type: ignore[index, arg-type]
        else:
            size = -1
            try:
                size = len(value)  # type: ignore[arg-type]
            except Exception:
                size = -1
            if size > 48:
                short = _SHORT.get(limit)
                if short is None:
                    short = _SHORT[limit] = _ShortRepr(limit)
                text = short.repr(value)
            else:
                text = repr(value)
            if " at 0x" in text:
                text = _mask_addresses(text)
    except BaseException as exc:  # a hostile __repr__ must not break the trace
        text = f"<unrepresentable {kind.__name__}: {type(exc).__name__}>"
    if len(text) > limit:
        text = text[: max(1, limit - 3)] + "..."
    return text


def exc_text(exc_type: type[BaseException], exc: BaseException | None, limit: int) -> str:
    """``"Type: message"`` of an exception on one line, cut to ``limit`` characters (a cut
    message ends in :data:`~.outcomes.TRUNCATED`)."""
    try:
        message = str(exc) if exc is not None else ""
    except BaseException:  # a hostile __str__
        message = "<unprintable message>"
    message = " ".join(message.split())
    text = f"{exc_type.__name__}: {message}" if message else exc_type.__name__
    return clip(text, max(1, limit))


class Tracer:
    """Records events of one program file while installed with :meth:`start`.

    Args:
        filename: The ``co_filename`` the program was compiled with.
        source: The program source (to quote lines).
        function: When given, record only inside calls of this function (and what it calls in
            the program); otherwise record all program frames. A dotted name
            (``AuthService.authenticate``) is matched against the qualified name, a plain one
            against the function's name.
        max_events: Events kept before the trace is marked truncated.
        max_chars: Characters (sources, names, reprs) kept before it is marked truncated.
        repr_chars: Characters kept of each repr.
        package_dir: Module mode: the program is a module of the package tree in this
            directory. Events name functions by qualified name; inside ``function`` every line
            of it (and of functions nested in it) is recorded, while a call it makes into other
            code of the tree or of the program is recorded one level deep (its ``call`` with the
            arguments and its ``return``, at the calling line, none of its own lines).
    """

    def __init__(
        self,
        filename: str,
        source: str,
        *,
        function: str | None = None,
        max_events: int = 200,
        max_chars: int = 6000,
        repr_chars: int = 80,
        package_dir: str | None = None,
    ) -> None:
        self.filename = filename
        self.lines = source.splitlines()
        self.function = function
        self.max_events = max_events
        self.max_chars = max_chars
        self.repr_chars = repr_chars
        self.events: list[dict[str, Any]] = []
        self.truncated = False
        self._chars = 0
        self._stopped = False
        self._depth = 0
        self._active = 0  # open calls of ``function`` (when filtering)
        self._snapshots: dict[FrameType, dict[str, tuple[object, str]]] = {}
        self._unwinding: set[FrameType] = set()
        self._last_exc: object = None
        self._qualified = function is not None and "." in function
        self._module_mode = package_dir is not None
        self._tree = package_dir.rstrip("/") + "/" if package_dir else ""
        self._full: set[FrameType] = set()  # frames whose lines are recorded (module mode)
        self._targets: set[str] = set()  # qualnames of the target seen (module mode)

    # -- installation -------------------------------------------------------------------
    def start(self) -> None:
        """Install the tracer on the current thread."""
        if not self._stopped:
            sys.settrace(self._global)

    def stop(self) -> None:
        """Remove the tracer (events recorded so far are kept)."""
        sys.settrace(None)

    def to_json(self) -> dict[str, Any]:
        """The recorded trace in ``Trace.to_json`` form."""
        return {"events": self.events, "truncated": self.truncated}

    # -- recording ----------------------------------------------------------------------
    def _source(self, line: int) -> str:
        if 0 < line <= len(self.lines):
            return self.lines[line - 1].strip()
        return ""

    def _add(self, event: dict[str, Any]) -> bool:
        size = len(event.get("source", "")) + len(event.get("value") or "")
        for key, value in event.get("locals", {}).items():
            size += len(key) + len(value) + 2
        if len(self.events) >= self.max_events or self._chars + size > self.max_chars:
            self.truncated = True
            self._stopped = True
            sys.settrace(None)
            self._snapshots.clear()
            return False
        self._chars += size
        self.events.append(event)
        return True

    def _changed(self, frame: FrameType) -> dict[str, str]:
        old = self._snapshots.get(frame)
        if old is None:
            old = self._snapshots[frame] = {}
        changed: dict[str, str] = {}
        limit = self.repr_chars
        for name, value in frame.f_locals.items():
            if name[:1] == ".":
                continue  # a comprehension's hidden iterator (``.0``): noise in a trace
            prev = old.get(name)
            if prev is not None and prev[0] is value and type(value) in _IMMUTABLE:
                continue
            text = safe_repr(value, limit)
            if prev is None or prev[1] != text:
                changed[name] = text
            old[name] = (value, text)
        return changed

    def _is_target(self, code: CodeType) -> bool:
        if self.function is None:
            return False
        if self._qualified:
            return _qualname(code) == self.function
        return code.co_name == self.function

    def _label(self, frame: FrameType) -> str:
        """The ``function`` of an event: the name, or in module mode the qualified name (and
        the module for package code)."""
        code = frame.f_code
        if not self._module_mode:
            return code.co_name
        if code.co_filename == self.filename:
            return _qualname(code)
        module = frame.f_globals.get("__name__")
        return f"{module}.{_qualname(code)}" if isinstance(module, str) else _qualname(code)

    def _classify(self, frame: FrameType) -> str | None:
        """``full`` (record lines), ``shallow`` (call and return only) or ``None`` (ignore)."""
        code = frame.f_code
        if code.co_filename == self.filename:
            if self.function is None:
                return "full"
            if self._is_target(code):
                self._active += 1
                self._targets.add(_qualname(code))
                return "full"
            if not self._active:
                return None
            if not self._module_mode:
                return "full"
            qualname = _qualname(code)
            if any(qualname.startswith(t + ".") for t in self._targets):
                return "full"  # a function, lambda or comprehension nested in the target
            return "shallow" if frame.f_back in self._full else None
        if (
            self._tree
            and code.co_filename.startswith(self._tree)
            and (self.function is None or self._active)
            and frame.f_back in self._full
        ):
            return "shallow"
        return None

    def _global(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if self._stopped or event != "call":
            return None
        mode = self._classify(frame)
        if mode is None:
            return None
        depth = self._depth
        self._depth += 1
        shallow = mode == "shallow"
        if not shallow and self._module_mode:
            self._full.add(frame)
        if not frame.f_code.co_name.startswith("<"):
            line = frame.f_back.f_lineno if shallow and frame.f_back else frame.f_lineno
            event_dict: dict[str, Any] = {
                "kind": "call",
                "line": line,
                "source": self._source(line),
                "function": self._label(frame),
            }
            args = self._changed(frame)
            if args:
                event_dict["locals"] = args
            if depth:
                event_dict["depth"] = depth
            if not self._add(event_dict):
                return None
        if shallow:
            frame.f_trace_lines = False
            return self._shallow
        return self._local

    def _end(self, frame: FrameType) -> bool:
        """Book-keeping of a frame that returns; True when it was unwinding (an exception)."""
        self._depth -= 1
        if self._is_target(frame.f_code):
            self._active -= 1
        self._full.discard(frame)
        unwinding = frame in self._unwinding
        self._unwinding.discard(frame)
        return unwinding

    def _shallow(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if self._stopped:
            return None
        if event == "exception":
            self._unwinding.add(frame)
        elif event == "return":
            unwinding = self._end(frame)
            self._snapshots.pop(frame, None)
            if unwinding or frame.f_code.co_name.startswith("<"):
                return None
            line = frame.f_back.f_lineno if frame.f_back else 0
            event_dict: dict[str, Any] = {
                "kind": "return",
                "line": line,
                "source": self._source(line),
                "function": self._label(frame),
                "value": safe_repr(arg, self.repr_chars),
            }
            if self._depth > 0:
                event_dict["depth"] = self._depth
            self._add(event_dict)
            return None
        return self._shallow

    def _local(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if self._stopped:
            return None
        depth = self._depth - 1
        if event == "line":
            self._unwinding.discard(frame)
            event_dict: dict[str, Any] = {
                "kind": "line",
                "line": frame.f_lineno,
                "source": self._source(frame.f_lineno),
                "function": self._label(frame),
            }
            changed = self._changed(frame)
            if changed:
                event_dict["locals"] = changed
            if depth > 0:
                event_dict["depth"] = depth
            return self._local if self._add(event_dict) else None
        if event == "return":
            unwinding = self._end(frame)
            changed = self._changed(frame)
            self._snapshots.pop(frame, None)
            if unwinding or frame.f_code.co_name.startswith("<"):
                return None
            event_dict = {
                "kind": "return",
                "line": frame.f_lineno,
                "source": self._source(frame.f_lineno),
                "function": self._label(frame),
                "value": safe_repr(arg, self.repr_chars),
            }
            if changed:
                event_dict["locals"] = changed
            if depth > 0:
                event_dict["depth"] = depth
            self._add(event_dict)
            return None
        if event == "exception":
            self._unwinding.add(frame)
            exc_type, exc_value, _tb = arg
            if exc_value is self._last_exc:
                return self._local
            self._last_exc = exc_value
            event_dict = {
                "kind": "exception",
                "line": frame.f_lineno,
                "source": self._source(frame.f_lineno),
                "function": self._label(frame),
                "value": exc_text(exc_type, exc_value, 2 * self.repr_chars),
            }
            if depth > 0:
                event_dict["depth"] = depth
            return self._local if self._add(event_dict) else None
        return self._local


def _qualname(code: CodeType) -> str:
    return str(getattr(code, "co_qualname", code.co_name))
