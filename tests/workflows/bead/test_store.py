"""The run store: the thread table beside the checkpoints, locks, the per-user thread index."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from beadline.workflows.bead.store import (
    ThreadBusyError,
    ThreadIndex,
    ThreadRecord,
    is_postgres,
    open_store,
    redact,
)
from beadline.workflows.errors import UserError


def test_records_round_trip_and_list_newest_first(tmp_path: Path) -> None:
    with open_store(tmp_path / "s" / "beads.sqlite") as store:
        store.save(ThreadRecord(thread_id="a", bead_id="x", repo="/r", status="running"))
        store.save(ThreadRecord(thread_id="b", bead_id="y", repo=None, status="running"))
        store.update("a", status="passed", last_stage="integration", outcome={"status": "passed"})
        record = store.get("a")
        assert record is not None and record.outcome == {"status": "passed"}
        assert (record.status, record.last_stage, record.repo) == ("passed", "integration", "/r")
        assert [r.thread_id for r in store.threads()] == ["a", "b"]
        assert store.get("zzz") is None and not store.has_checkpoint("a")


def test_a_lock_held_by_another_process_is_seen_and_refused(tmp_path: Path) -> None:
    db = tmp_path / "beads.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from beadline.workflows.bead.store import open_store\n"
            f"store = open_store({str(db)!r})\n"
            "with store.lock('t'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with open_store(db) as store:
            assert store.is_locked("t") and not store.is_locked("u")
            busy = pytest.raises(ThreadBusyError, match=rf"is being run by pid {holder.pid} on")
            with busy, store.lock("t"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with open_store(db) as store:  # the kernel dropped the dead process's lock
        assert not store.is_locked("t")
        with store.lock("t"):
            assert store.is_locked("t")


def test_threads_of_the_first_version_are_imported(tmp_path: Path) -> None:
    db = tmp_path / "beads.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE beadline_runs (thread_id TEXT PRIMARY KEY, options TEXT)")
    conn.execute("INSERT INTO beadline_runs VALUES ('old', ?)", (json.dumps({"bead_id": "sq"}),))
    conn.commit()
    conn.close()
    with open_store(db) as store:
        record = store.get("old")
    assert record is not None and (record.bead_id, record.status) == ("sq", "stopped")


def test_bad_locations_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        open_store(tmp_path)
    assert str(caught.value) == (
        f"--db {str(tmp_path)!r} is a directory; pass a file, e.g. {tmp_path / 'beads.sqlite'}"
    )
    with pytest.raises(UserError) as caught:
        open_store("mysql://db/beads")
    assert str(caught.value) == (
        "--db 'mysql://db/beads' is not a SQLite path or a postgresql:// DSN; e.g. "
        "postgresql://user@host:5432/beads"
    )
    with pytest.raises(UserError) as caught:
        open_store("postgresql://nobody:secret@127.0.0.1:9/none")
    message = str(caught.value)
    assert message.startswith(
        "cannot connect to PostgreSQL at postgresql://nobody@127.0.0.1:9/none"
    )
    assert message.endswith("; check --db") and "secret" not in message


def test_dsns_are_recognised_and_redacted() -> None:
    assert is_postgres("postgresql://u@h/db") and is_postgres("postgres://h/db")
    assert is_postgres("host=h dbname=db user=u") and not is_postgres("/tmp/beads.sqlite")
    assert redact("postgresql://u:pw@h:5432/db?sslmode=require") == (
        "postgresql://u@h:5432/db?sslmode=require"
    )
    assert redact("host=h password='a b' dbname=db") == "host=h dbname=db"
    assert redact("/tmp/x.sqlite") == "/tmp/x.sqlite"


def test_the_index_remembers_stores_without_passwords(tmp_path: Path) -> None:
    index = ThreadIndex(tmp_path / "home" / "threads.sqlite")
    assert index.find("t") is None and index.stores() == []
    index.add("t", db="postgresql://u:pw@h/db", repo="/r", bead_id="b")
    index.add("s", db="/r/.beadline/beads.sqlite", repo="/r", bead_id="b")
    assert index.find("t") == "postgresql://u@h/db"
    assert index.stores() == ["/r/.beadline/beads.sqlite", "postgresql://u@h/db"]
