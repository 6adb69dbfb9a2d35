"""Bulk loading for the benchmark's seed (bot.bench.seed): plain executemany in big
transactions with durability off (a seed needs none; the server reopens the file with its
own FULL settings). Rows are tuples in the column order of bot.store.seeding.COLUMNS."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bot.store.seeding import COLUMNS
from bot.store.sqlite import sealing
from bot.store.sqlite.connection import open_database
from bot.store.sqlite.schema import migrate

# Tables only the SQLite seed fills (bot bench --notice: residents' notice topics).
SQLITE_COLUMNS = {**COLUMNS, "notice_subscriptions": ("resident_id", "topic", "active", "since")}
_INSERTS = {
    table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    for table, cols in SQLITE_COLUMNS.items()
}


class BulkWriter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.counts = dict.fromkeys(SQLITE_COLUMNS, 0)

    def write(self, rows: dict[str, list[tuple]]) -> None:
        """One transaction for every table's rows (tables in COLUMNS order)."""
        self.conn.execute("BEGIN")
        for table, sql in _INSERTS.items():
            self.conn.executemany(sql, rows.get(table, []))
            self.counts[table] += len(rows.get(table, []))
        self.conn.execute("COMMIT")


@contextlib.contextmanager
def bulk_writer(path: Path) -> Iterator[BulkWriter]:
    """A fresh database at `path` (every owner's schema), opened for fast loading. The
    loader's texts must be sealed as bot.store.sealed seals them (the seed does): the
    database is marked as sealed from its first row."""
    db = open_database(path)
    migrate(db)
    with db.atomic():
        sealing.mark_sealed(db)
    db.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    try:
        yield BulkWriter(conn)
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
