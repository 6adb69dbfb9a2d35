"""The city FAQ's table in SQLite (owner "faq"): questions it could not answer, counted for
staff (`bot faq misses`, the console). Only the redacted text is kept, never who asked."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from bot.store.records import FaqMiss, FaqMissCount
from bot.store.sqlite.migrations import MigrationSet

MIGRATIONS = MigrationSet("faq")


@MIGRATIONS.step("faq misses")
def _faq_misses(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE faq_misses (
            key TEXT PRIMARY KEY,            -- the text folded (NFKC, lower case, no spaces)
            text TEXT NOT NULL,              -- redacted, as first written
            count INTEGER NOT NULL DEFAULT 1,
            first_at TEXT NOT NULL,          -- UTC ISO 8601
            last_at TEXT NOT NULL
        )
        """
    )


def record(db: sqlite_utils.Database, miss: FaqMiss, stamp: str) -> None:
    """Count one more asking of `miss` (inside the caller's transaction: the turn's)."""
    db.execute(
        "INSERT INTO faq_misses (key, text, count, first_at, last_at) VALUES (?, ?, 1, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
        [miss.key, miss.text, stamp, stamp],
    )


def most_frequent(db: sqlite_utils.Database, limit: int) -> list[FaqMissCount]:
    """Unanswered questions, the most asked first (then the most recent)."""
    return [
        FaqMissCount(
            row["text"],
            int(row["count"]),
            datetime.fromisoformat(row["first_at"]),
            datetime.fromisoformat(row["last_at"]),
        )
        for row in db.query(
            "SELECT text, count, first_at, last_at FROM faq_misses "
            "ORDER BY count DESC, last_at DESC LIMIT ?",
            [limit],
        )
    ]
