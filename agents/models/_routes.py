"""Where the OpenAI backend sends a request: a server URL and, on llama.cpp's ``llama-server``,
a slot.

An OpenAI-compatible server keeps the prompt it last evaluated in a KV cache — one per
``llama_cpp.server`` process, one per slot of ``llama-server`` — and evaluates only what differs
from it. EG-CFG asks for two contexts at every token (the plain one and the one with the dynamic
signal): sent to one cache they evict each other and every request re-reads the whole prompt. A
:class:`RouteTable` therefore gives each open session a *route* of its own while there are
enough (the one whose last prompt shares the longest prefix with the session's, so a reopened
context finds its cache again), shares the best-matching route when there are not, and sends a
request without a session (a candidate sample) to a route no session holds, if any.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from beadline.agents.models.base import common_prefix

__all__ = ["Route", "RouteTable"]


@dataclass(eq=False, kw_only=True)
class Route:
    """One server cache requests can be pinned to."""

    index: int
    """Position in the table (ties go to the lowest)."""
    client: Any
    """The ``openai.OpenAI`` client of the route's server."""
    url: str
    """The server's base URL (for messages)."""
    slot: int | None = None
    """The ``llama-server`` slot (``id_slot``), or ``None`` to let the server choose."""
    last: list[int] = field(default_factory=list)
    """The pieces of the prompt last sent here (what the server's cache holds)."""
    holder: weakref.ref[object] | None = None
    """The session this route is reserved for, while it is open."""

    def extra_body(self) -> dict[str, Any]:
        """The request fields that pin a request to this route's slot."""
        if self.slot is None:
            return {}
        return {"id_slot": self.slot, "cache_prompt": True}

    @property
    def free(self) -> bool:
        """No open session holds this route."""
        return self.holder is None or self.holder() is None


class RouteTable:
    """The routes of one model, and which session holds which (thread-safe).

    Args:
        routes: at least one; a table of one route sends everything there (the behaviour of a
            plain single-server model).
    """

    def __init__(self, routes: Sequence[Route]) -> None:
        if not routes:
            raise ValueError("a RouteTable needs at least one route")
        self.routes = list(routes)
        self._lock = threading.Lock()

    def acquire(self, owner: object, tokens: Sequence[int]) -> Route:
        """A route for ``owner`` (a session) about to send ``tokens``: a free one, reserved
        for it, when there is one; else the busy one whose cache matches ``tokens`` best."""
        with self._lock:
            free = [r for r in self.routes if r.free]
            route = self._best(free or self.routes, tokens)
            if route.free:
                route.holder = weakref.ref(owner)
            return route

    def pick(self, tokens: Sequence[int], *, prefer: Route | None = None) -> Route:
        """A route for one request outside any session: the best-matching free route, else
        ``prefer`` (the caller's own route), else the best-matching one."""
        with self._lock:
            free = [r for r in self.routes if r.free]
            if free:
                return self._best(free, tokens)
            return prefer if prefer is not None else self._best(self.routes, tokens)

    def release(self, owner: object, route: Route) -> None:
        """Hand ``route`` back (the session closed); its cache stays for the next taker."""
        with self._lock:
            if route.holder is not None and route.holder() is owner:
                route.holder = None

    def sent(self, route: Route, tokens: Sequence[int]) -> int:
        """Note that ``tokens`` goes to ``route``; returns how many of them the server must
        evaluate if it keeps the last prompt per route (the estimate for cost accounting)."""
        with self._lock:
            kept = common_prefix(route.last, tokens)
            route.last = list(tokens)
        return max(len(tokens) - kept, 1 if tokens else 0)

    @staticmethod
    def _best(routes: Sequence[Route], tokens: Sequence[int]) -> Route:
        return max(routes, key=lambda r: (common_prefix(r.last, tokens), -r.index))
