"""Named migration sets in PostgreSQL DDL, one per owner of tables (as in the SQLite
backend: bot.store.sqlite.migrations). Steps run once each, in declaration order, each in
its own transaction, recorded in `store_migrations (owner, name)`. Many processes may start
at once: an advisory lock lets one apply while the others wait, then find nothing to do.
Never edit or reorder a step that has shipped: add a new one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from bot.store import migration_sets

LEDGER = "store_migrations"
MIGRATION_LOCK = 7_410_001  # pg_advisory_lock key: one migrating process at a time


class MigrationSet(migration_sets.MigrationSet[psycopg.Connection[Any]]):
    """An owner's steps on a PostgreSQL database (bot.store.migration_sets)."""

    def ddl(self, name: str, script: str) -> None:
        """A step that is one DDL script (statements separated by `;`, no parameters)."""

        def run(conn: psycopg.Connection[Any]) -> None:
            conn.execute(script.encode())

        self.step(name)(run)


def apply(conn: psycopg.Connection[Any], sets: Iterable[MigrationSet]) -> list[str]:
    """Apply every pending step on an autocommit connection; returns them as `owner:name`."""
    conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER} (owner text NOT NULL, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (owner, name))"
        )
        done = {(row[0], row[1]) for row in _rows(conn, f"SELECT owner, name FROM {LEDGER}")}
        applied = []
        for migrations in sets:
            for name, step in migrations.steps:
                if (migrations.owner, name) in done:
                    continue
                with conn.transaction():
                    step(conn)
                    conn.execute(
                        f"INSERT INTO {LEDGER} (owner, name) VALUES (%s, %s)",
                        [migrations.owner, name],
                    )
                applied.append(f"{migrations.owner}:{name}")
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


def _rows(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor(row_factory=psycopg.rows.tuple_row) as cur:
        return list(cur.execute(sql).fetchall())
