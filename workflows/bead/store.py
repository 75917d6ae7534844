"""Where bead runs are kept: LangGraph checkpoints plus one row per thread, in SQLite or PostgreSQL.

A store is one database (:func:`open_store`):

* ``REPO/.beadline/beads.sqlite`` (the default; :func:`default_db`), or any SQLite path;
* ``postgresql://…`` — LangGraph's ``PostgresSaver`` (``pip install 'beadline[postgres]'``),
  so several workers, machines or a LangGraph server share the threads.

Beside the checkpoints it keeps a ``beadline_threads`` table: the bead, the repository, the
options the run was started with (the model choice among them, so a resume uses the same
model), the status and last stage (for ``beadline bead threads``) and, once the run ended, its
outcome (so a finished thread is shown, never run again). A thread being run holds a lock that
the operating system (SQLite: ``fcntl`` on a lock file) or the server (PostgreSQL: a session
advisory lock) drops when the process dies, so a killed run is resumable at once and two
workers never run one thread together.

:class:`ThreadIndex` is a small per-user SQLite file mapping thread ids to their store, so
``beadline bead resume THREAD`` works from any directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from beadline.workflows.errors import UserError

__all__ = [
    "DB_NAME",
    "PostgresStore",
    "RunStore",
    "SqliteStore",
    "ThreadBusyError",
    "ThreadIndex",
    "ThreadRecord",
    "default_db",
    "is_postgres",
    "open_store",
    "redact",
    "validate_thread_id",
]

DB_NAME = "beads.sqlite"
"""The default store's file name, in ``REPO/.beadline/``."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS beadline_threads (
    thread_id TEXT PRIMARY KEY,
    bead_id TEXT NOT NULL,
    repo TEXT,
    status TEXT NOT NULL,
    last_stage TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    options TEXT NOT NULL,
    outcome TEXT
)
"""
_COLUMNS = "thread_id, bead_id, repo, status, last_stage, created_at, updated_at, options, outcome"
_UPSERT = (
    f"INSERT INTO beadline_threads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (thread_id) DO UPDATE SET bead_id = excluded.bead_id, repo = excluded.repo, "
    "status = excluded.status, last_stage = excluded.last_stage, "
    "updated_at = excluded.updated_at, options = excluded.options, outcome = excluded.outcome"
)
_THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")


class ThreadBusyError(UserError):
    """Raised by :meth:`RunStore.lock` when another process is running the thread."""


def validate_thread_id(thread_id: str) -> str:
    """Check a thread id (letters, digits, ``. _ : -``; it names files too).

    Raises:
        UserError: the id has other characters; the message says which are allowed.
    """
    if not _THREAD_ID.match(thread_id):
        raise UserError(
            f"thread id {thread_id!r} is not valid: use letters, digits and . _ : - "
            "(at most 200, starting with a letter or digit)"
        )
    return thread_id


@dataclass(kw_only=True)
class ThreadRecord:
    """One bead run (a LangGraph thread) as the store lists it."""

    thread_id: str
    bead_id: str
    repo: str | None
    """The repository the bead is built in (absolute)."""
    status: str
    """``running``, ``waiting_review``, ``interrupted``, ``stopped`` or a final status
    (``passed``, ``failed``, ``baseline_failed``, ``invalid``, ``aborted``)."""
    last_stage: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    options: dict[str, Any] = field(default_factory=dict)
    """What the run was started with (``BeadRunOptions`` as JSON, resolved)."""
    outcome: dict[str, Any] | None = None
    """The final ``RunOutcome`` as JSON, once the run ended."""

    def row(self) -> tuple[Any, ...]:
        return (
            self.thread_id,
            self.bead_id,
            self.repo,
            self.status,
            self.last_stage,
            self.created_at,
            self.updated_at,
            json.dumps(self.options),
            json.dumps(self.outcome) if self.outcome is not None else None,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...] | Mapping[str, Any]) -> ThreadRecord:
        values = list(row.values()) if isinstance(row, Mapping) else list(row)
        thread_id, bead_id, repo, status, last_stage, created, updated, options, outcome = values
        return cls(
            thread_id=str(thread_id),
            bead_id=str(bead_id),
            repo=str(repo) if repo else None,
            status=str(status),
            last_stage=str(last_stage or ""),
            created_at=float(created),
            updated_at=float(updated),
            options=dict(json.loads(options)),
            outcome=dict(json.loads(outcome)) if outcome else None,
        )


class RunStore(ABC):
    """Checkpoints (``checkpointer``, for the graph) and the thread table, in one database."""

    location: str
    """The database: a file path or a password-free DSN."""
    checkpointer: Any
    """The LangGraph checkpointer."""

    @abstractmethod
    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders); the rows it returns."""

    @abstractmethod
    def lock(self, thread_id: str) -> contextlib.AbstractContextManager[None]:
        """Hold the thread while running it. Raises :class:`ThreadBusyError` when held."""

    @abstractmethod
    def is_locked(self, thread_id: str) -> bool:
        """Whether some process is running the thread now."""

    @abstractmethod
    def close(self) -> None:
        """Close the connections."""

    def save(self, record: ThreadRecord) -> None:
        """Insert or replace the thread's row (``updated_at`` set to now)."""
        record.updated_at = time.time()
        self._execute(_UPSERT, record.row())

    def get(self, thread_id: str) -> ThreadRecord | None:
        """The thread's row, or ``None``."""
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM beadline_threads WHERE thread_id = ?", (thread_id,)
        )
        return ThreadRecord.from_row(rows[0]) if rows else None

    def update(self, thread_id: str, **fields: Any) -> None:
        """Change some of a thread's columns (``status``, ``last_stage``, ``outcome``)."""
        allowed = {"status", "last_stage", "outcome"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = {
            k: (json.dumps(v) if k == "outcome" and v is not None else v) for k, v in fields.items()
        }
        sets = ", ".join(f"{k} = ?" for k in values)
        self._execute(
            f"UPDATE beadline_threads SET {sets}, updated_at = ? WHERE thread_id = ?",
            (*values.values(), time.time(), thread_id),
        )

    def threads(self) -> list[ThreadRecord]:
        """Every thread, most recently updated first."""
        rows = self._execute(f"SELECT {_COLUMNS} FROM beadline_threads ORDER BY updated_at DESC")
        return [ThreadRecord.from_row(r) for r in rows]

    def has_checkpoint(self, thread_id: str) -> bool:
        """Whether LangGraph saved anything for the thread."""
        config = {"configurable": {"thread_id": thread_id}}
        return self.checkpointer.get_tuple(config) is not None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteStore(RunStore):
    """A store in one SQLite file (created with its directory)."""

    def __init__(self, path: Path) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = path.expanduser().resolve()
        if path.is_dir():
            raise UserError(
                f"--db {str(path)!r} is a directory; pass a file, e.g. {path / DB_NAME}"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # one connection for the saver, one for the thread table: the saver commits on
            # its own schedule, and sharing its connection interleaves the two transactions
            self.saver_conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            self.conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            with self.conn:
                self.conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the state database {str(path)!r}: {exc}") from None
        self.path = path
        self.location = str(path)
        self.checkpointer = SqliteSaver(self.saver_conn)
        self._lock = threading.Lock()
        self._import_legacy()
        self._locks: dict[str, TextIO] = {}

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self.conn:
            return list(self.conn.execute(sql, params).fetchall())

    def _import_legacy(self) -> None:
        # beadline 0.1 kept only (thread_id, options) in `beadline_runs`
        tables = self._execute("SELECT name FROM sqlite_master WHERE name = 'beadline_runs'")
        if not tables:
            return
        for thread_id, options in self._execute("SELECT thread_id, options FROM beadline_runs"):
            if self.get(thread_id) is None:
                loaded = dict(json.loads(options))
                record = ThreadRecord(
                    thread_id=thread_id,
                    bead_id=str(loaded.get("bead_id", "?")),
                    repo=None,
                    status="stopped",
                    options=loaded,
                )
                self.save(record)

    def _lock_path(self, thread_id: str) -> Path:
        digest = hashlib.sha256(thread_id.encode()).hexdigest()[:16]
        return self.path.parent / "locks" / f"{digest}.lock"

    @contextlib.contextmanager
    def lock(self, thread_id: str) -> Iterator[None]:
        path = self._lock_path(thread_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ThreadBusyError(
                f"thread {thread_id!r} is being run by {holder}; wait for it to finish "
                "(`beadline bead threads` shows it), or stop that process"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def is_locked(self, thread_id: str) -> bool:
        path = self._lock_path(thread_id)
        if not path.exists():
            return False
        with path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    def close(self) -> None:
        self.conn.close()
        self.saver_conn.close()


class PostgresStore(RunStore):
    """A store in a PostgreSQL database (``langgraph-checkpoint-postgres`` + ``psycopg``)."""

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
        except ImportError:
            raise UserError(
                "--db postgresql://... needs the postgres extra: pip install 'beadline[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.location = redact(dsn)
        try:
            # the saver's connection: as PostgresSaver.from_conn_string makes it
            self.saver_conn = psycopg.connect(
                dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row
            )
            self.conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"cannot connect to PostgreSQL at {self.location}: {reason}; check --db"
            ) from None
        self.checkpointer = PostgresSaver(self.saver_conn)
        self.checkpointer.setup()
        self._execute(_SCHEMA)
        self._held: set[str] = set()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(sql.replace("?", "%s"), params)
        return list(cursor.fetchall()) if cursor.description else []

    @staticmethod
    def _key(thread_id: str) -> int:
        digest = hashlib.sha256(f"beadline:{thread_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def lock(self, thread_id: str) -> Iterator[None]:
        key = self._key(thread_id)
        [(ok,)] = self._execute("SELECT pg_try_advisory_lock(?)", (key,))
        if not ok:
            raise ThreadBusyError(
                f"thread {thread_id!r} is being run by another worker on {self.location}; wait "
                "for it to finish (`beadline bead threads` shows it), or stop that worker"
            )
        self._held.add(thread_id)
        try:
            yield
        finally:
            self._held.discard(thread_id)
            self._execute("SELECT pg_advisory_unlock(?)", (key,))

    def is_locked(self, thread_id: str) -> bool:
        if thread_id in self._held:
            return True
        key = self._key(thread_id)
        [(ok,)] = self._execute("SELECT pg_try_advisory_lock(?)", (key,))
        if ok:
            self._execute("SELECT pg_advisory_unlock(?)", (key,))
        return not ok

    def close(self) -> None:
        self.conn.close()
        self.saver_conn.close()


_CONNINFO = re.compile(r"^\s*(host|hostaddr|dbname|user|port|service)\s*=")


def is_postgres(db: str) -> bool:
    """Whether ``db`` is a PostgreSQL DSN: a ``postgresql://``/``postgres://`` URL or a libpq
    keyword string (``host=... dbname=...``)."""
    return db.startswith(("postgresql://", "postgres://")) or bool(_CONNINFO.match(db))


def redact(dsn: str) -> str:
    """``dsn`` without its password (for messages and the thread index)."""
    if not is_postgres(dsn):
        return dsn
    if not dsn.startswith(("postgresql://", "postgres://")):
        return re.sub(r"\s*password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", "", dsn).strip()
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def default_db(repo: Path) -> Path:
    """``REPO/.beadline/beads.sqlite``."""
    return repo / ".beadline" / DB_NAME


def open_store(db: str | Path) -> RunStore:
    """Open (creating if needed) the store at ``db``: a SQLite path or a PostgreSQL DSN.

    Raises:
        UserError: the database cannot be opened; the message says why.
    """
    text = str(db)
    if is_postgres(text):
        return PostgresStore(text)
    if "://" in text:
        raise UserError(
            f"--db {text!r} is not a SQLite path or a postgresql:// DSN; e.g. "
            "postgresql://user@host:5432/beads"
        )
    return SqliteStore(Path(text))


class ThreadIndex:
    """Per-user index: thread id → the store holding it (``resume`` from any directory).

    Args:
        path: The index file (the CLI uses ``$BEADLINE_HOME/threads.sqlite``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30)
        try:
            with conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS threads (thread_id TEXT PRIMARY KEY, db TEXT NOT "
                    "NULL, repo TEXT, bead_id TEXT, created_at DOUBLE PRECISION)"
                )
                yield conn
        finally:
            conn.close()

    def add(self, thread_id: str, *, db: str, repo: str | None, bead_id: str) -> None:
        """Remember where a thread lives (its DSN without the password)."""
        with contextlib.suppress(OSError, sqlite3.Error), self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO threads VALUES (?, ?, ?, ?, ?)",
                (thread_id, redact(db), repo, bead_id, time.time()),
            )

    def find(self, thread_id: str) -> str | None:
        """The store of ``thread_id``, or ``None``."""
        if not self.path.is_file():
            return None
        with self._connect() as conn:
            row = conn.execute(
                "SELECT db FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def stores(self) -> list[str]:
        """Every store a thread was recorded in, most recent first."""
        if not self.path.is_file():
            return []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT db, MAX(created_at) AS last FROM threads GROUP BY db ORDER BY last DESC"
            ).fetchall()
        return [str(r[0]) for r in rows]
