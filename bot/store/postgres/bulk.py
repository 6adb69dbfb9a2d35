"""Bulk loading into PostgreSQL for the benchmark's seed: COPY, one transaction per chunk,
then the counters moved past the copied ids and the tables analysed (so the planner knows
their size before the first query)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bot.store.postgres import sealing
from bot.store.postgres.connection import Conn, connect
from bot.store.postgres.schema import migrate
from bot.store.seeding import COLUMNS


class PostgresBulkWriter:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.counts = dict.fromkeys(COLUMNS, 0)

    def write(self, rows: dict[str, list[tuple]]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            for table, columns in COLUMNS.items():
                sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN".encode()
                with cur.copy(sql) as copy:
                    for row in rows.get(table, []):
                        copy.write_row(row)
                self.counts[table] += len(rows.get(table, []))


@contextlib.contextmanager
def bulk_writer(url: str) -> Iterator[PostgresBulkWriter]:
    """Every owner's schema in the (empty) database at `url`, then COPY. The loader's texts
    must be sealed as bot.store.sealed seals them (the seed does): the database is marked
    sealed from its first row."""
    conn = connect(url)
    try:
        migrate(conn)
        sealing.mark_sealed(conn)
        conn.execute("SET synchronous_commit = off")  # a seed needs no durability
        writer = PostgresBulkWriter(conn)
        yield writer
        for table in COLUMNS:
            if table != "conversations" and table != "residents":
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"greatest((SELECT max(id) FROM {table}), 1))".encode()
                )
            conn.execute(f"ANALYZE {table}".encode())
        conn.execute("SELECT setval('inbox_batches', greatest((SELECT max(batch) FROM inbox), 1))")
    finally:
        conn.close()
