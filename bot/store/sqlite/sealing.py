"""Rows written before texts were sealed at rest are sealed in place, once.

The SealedStore (bot.store.sealed) seals every text on its way in; a database from before
it still holds plain texts. At the first open with a Codec, every column that holds a
resident's words or ours is sealed in one transaction (all or nothing), recorded in the
migration ledger, and the plain copies are scrubbed from the file: secure_delete zeroes
the old cells, and the WAL (which held the old pages) is truncated.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from bot.store.codec import AT_REST, SEALED_STEP, Codec
from bot.store.sqlite.migrations import LEDGER

OWNER, STEP = SEALED_STEP
JSON_KINDS = ("object", "texts")  # stored as JSON text in SQLite


def seal_value(codec: Codec, kind: str, value: Any) -> Any:
    """A plain value of a column of AT_REST as SQLite stores it, sealed."""
    if kind in JSON_KINDS and value is not None:
        return json.dumps(codec.at_rest(kind, json.loads(value)), ensure_ascii=False)
    return codec.at_rest(kind, value)


def is_sealed(db: sqlite_utils.Database) -> bool:
    found = db.execute(
        f"SELECT 1 FROM {LEDGER} WHERE owner = ? AND name = ?", [OWNER, STEP]
    ).fetchone()
    return found is not None


def mark_sealed(db: sqlite_utils.Database) -> None:
    """For a database whose texts are sealed from its first row (a fresh one, a seed)."""
    db.execute(
        f"INSERT OR IGNORE INTO {LEDGER} (owner, name, applied_at) VALUES (?, ?, datetime('now'))",
        [OWNER, STEP],
    )


def seal_existing(db: sqlite_utils.Database, codec: Codec) -> int:
    """Seal every plain text in place (inside the caller's write transaction); returns the
    rows changed. Values are sealed whatever they look like: before this step ran, nothing
    sealed could have been written."""
    tables = set(db.table_names())
    changed = 0
    for table, columns in AT_REST.items():
        if table not in tables:
            continue
        names = list(columns)
        rows = db.execute(f"SELECT rowid, {', '.join(names)} FROM {table}").fetchall()
        assignments = ", ".join(f"{name} = ?" for name in names)
        updates = [
            [
                seal_value(codec, columns[name], value)
                for name, value in zip(names, row[1:], strict=True)
            ]
            + [row[0]]
            for row in rows
        ]
        db.conn.executemany(f"UPDATE {table} SET {assignments} WHERE rowid = ?", updates)
        changed += len(updates)
    mark_sealed(db)
    return changed
