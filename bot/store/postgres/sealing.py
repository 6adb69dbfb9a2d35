"""Rows written before texts were sealed at rest are sealed in place, once (as the SQLite
backend does: bot.store.sqlite.sealing).

A PostgreSQL database made by a version before texts were sealed holds plain texts. At the
first open with a Codec, every column of bot.store.codec.AT_REST is sealed in one
transaction (all or nothing) and the database is marked sealed in the migration ledger;
processes starting together take the migration lock, so one seals and the others find the
mark. A fresh database is marked at once (nothing to seal), and so is one `bot migrate
--from` filled (bot.store.migrate copies sealed texts, sealing plain ones on the way).

PostgreSQL keeps an updated row's old version in the table's file until it is vacuumed, so
the tables that held plain texts are rewritten right after (VACUUM FULL: new files, the old
ones removed). The plain texts stay in WAL archives and dumps taken before: take a new base
backup after the upgrade and retire the old ones as your retention allows.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Json

from bot.store.codec import AT_REST, SEALED_STEP, Codec
from bot.store.postgres.connection import Conn
from bot.store.postgres.migrations import LEDGER, MIGRATION_LOCK

OWNER, STEP = SEALED_STEP
JSON_KINDS = ("object", "texts")


def is_sealed(conn: Conn) -> bool:
    found = conn.execute(
        f"SELECT 1 FROM {LEDGER} WHERE owner = %s AND name = %s", [OWNER, STEP]
    ).fetchone()
    return found is not None


def mark_sealed(conn: Conn) -> None:
    conn.execute(
        f"INSERT INTO {LEDGER} (owner, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [OWNER, STEP],
    )


def seal_value(codec: Codec, kind: str, value: Any) -> Any:
    """A plain value of a column of AT_REST as psycopg reads it (JSON decoded), sealed and
    ready to be written back."""
    sealed = codec.at_rest(kind, value)
    return Json(sealed) if kind in JSON_KINDS and sealed is not None else sealed


def seal_once(conn: Conn, codec: Codec) -> int:
    """Seal every plain text in place unless the database is marked sealed; returns the rows
    changed. One transaction, under the migration lock (many processes may start at once),
    then the tables rewritten (`conn` is in autocommit mode, as the pool's are)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        if is_sealed(conn):
            return 0
        changed, touched = 0, []
        for table, columns in AT_REST.items():
            names = list(columns)
            rows = conn.execute(
                f"SELECT ctid::text AS tid, {', '.join(names)} FROM {table}".encode()
            ).fetchall()
            if not rows:
                continue
            assignments = ", ".join(f"{name} = %s" for name in names)
            with conn.cursor() as cur:
                cur.executemany(
                    f"UPDATE {table} SET {assignments} WHERE ctid = %s::tid".encode(),
                    [
                        [seal_value(codec, columns[name], row[name]) for name in names]
                        + [row["tid"]]
                        for row in rows
                    ],
                )
            changed += len(rows)
            touched.append(table)
        mark_sealed(conn)
    for table in touched:
        conn.execute(f"VACUUM FULL {table}".encode())
    return changed
