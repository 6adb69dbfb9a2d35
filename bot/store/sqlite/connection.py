"""SQLite connections: WAL, synchronous=FULL, one connection per owning thread, and the
in-process write gate that lets them take turns (SQLite has one writer at a time)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

# SQLite's companions of a database file; it creates -wal and -shm with the database
# file's own permissions, so a 0600 database has 0600 companions.
COMPANIONS = ("-wal", "-shm", "-journal")


def private_file(path: Path | str) -> None:
    """Create the database file 0600 before SQLite does (SQLite would make it 0644 less the
    umask: readable by every user of the machine), and take group and world access away
    from an existing one and its companions. Residents' data is personal data."""
    path = str(path)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, *(path + suffix for suffix in COMPANIONS)):
        try:
            mode = os.stat(name).st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(name, mode & 0o700)


def open_database(path: Path | str) -> sqlite_utils.Database:
    """Open (creating folders, the file 0600) with durable settings. Every commit is
    fsync'd (FULL); the pipeline makes commits cheap by grouping many rows into one."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        private_file(path)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    # Deleted and overwritten content is zeroed in the file, not left in free space: the
    # retention job's erasures and replaced conversation states are gone for real.
    conn.execute("PRAGMA secure_delete=ON")
    return db


class WriteGate:
    """One writer at a time among one process's connections, queued on a condition variable.

    Without it, a connection that finds the write lock taken sleeps in SQLite's busy handler
    (1, 2, 5, 10 … 100 ms between tries) while the holder may take the lock again as soon
    as it lets go: an intake commit (a webhook waiting for its 200) could lose to several
    processing batches in a row. Through the gate a waiter is woken the moment the lock is
    free, and `urgent` writers (intake) go before the others; processing checks
    `urgent_waiting` between rows and commits early (after a few ms of work, see
    bot.store.sqlite.store.YIELD_AFTER), so intake waits milliseconds, not a whole batch.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self.urgent_waiting = 0
        self.waiting = 0  # any writer waiting (background work gives way to them)

    def acquire(self, urgent: bool = False) -> None:
        with self._cond:
            self.waiting += 1
            if urgent:
                self.urgent_waiting += 1
            try:
                while self._busy or (not urgent and self.urgent_waiting):
                    self._cond.wait()
            finally:
                self.waiting -= 1
                if urgent:
                    self.urgent_waiting -= 1
            self._busy = True

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()


@contextlib.contextmanager
def write_transaction(
    db: sqlite_utils.Database, gate: WriteGate | None = None, urgent: bool = False
) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

    With two connections in WAL mode, a deferred BEGIN that reads and then writes fails
    at once with SQLITE_BUSY if the other connection committed in between; IMMEDIATE
    waits for the lock (busy_timeout) instead. Inside a transaction: a savepoint.
    Connections that share a WriteGate queue on it first (see WriteGate); `urgent`
    transactions go first."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    if gate is not None:
        gate.acquire(urgent)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        else:
            try:
                db.conn.execute("COMMIT")
            except BaseException:
                db.rollback()
                raise
    finally:
        if gate is not None:
            gate.release()
