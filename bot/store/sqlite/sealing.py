"""Rows written before texts were sealed at rest are sealed in place, once.

The SealedStore (bot.store.sealed) seals every text on its way in; a database from before
it still holds plain texts. At the first open with a Codec, every column that holds a
resident's words or ours is sealed in one transaction (all or nothing), recorded in the
migration ledger, and the plain copies are scrubbed from the file: secure_delete zeroes
the old cells, and the WAL (which held the old pages) is truncated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlite_utils

from bot.store.codec import Codec
from bot.store.sqlite.migrations import LEDGER

OWNER, STEP = "sealing", "texts sealed at rest"

# table → its columns of text ("text"), JSON objects ("object"), JSON lists of texts
# ("texts") and texts matched by equality, kept as a keyed hash ("digest"). A new owner's
# table with residents' words is listed here too.
COLUMNS: dict[str, dict[str, str]] = {
    "inbox": {"text": "text", "postback": "text", "payload": "object"},
    "outbox": {"text": "text", "suggestions": "texts"},
    "conversations": {"state": "object"},
    "timers": {"payload": "object"},
    "staff_notes": {"text": "text"},
    "faq_misses": {"key": "digest", "text": "text"},
}


def _sealers(codec: Codec) -> dict[str, Callable[[Any], Any]]:
    return {
        "text": lambda value: None if value is None else codec.text(value),
        "object": lambda value: json.dumps(codec.obj(json.loads(value)), ensure_ascii=False),
        "texts": lambda value: json.dumps(codec.texts(json.loads(value)), ensure_ascii=False),
        "digest": codec.sealer.digest,
    }


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
    sealers = _sealers(codec)
    tables = set(db.table_names())
    changed = 0
    for table, columns in COLUMNS.items():
        if table not in tables:
            continue
        names = list(columns)
        rows = db.execute(f"SELECT rowid, {', '.join(names)} FROM {table}").fetchall()
        assignments = ", ".join(f"{name} = ?" for name in names)
        updates = [
            [sealers[columns[name]](value) for name, value in zip(names, row[1:], strict=True)]
            + [row[0]]
            for row in rows
        ]
        db.conn.executemany(f"UPDATE {table} SET {assignments} WHERE rowid = ?", updates)
        changed += len(updates)
    mark_sealed(db)
    return changed
