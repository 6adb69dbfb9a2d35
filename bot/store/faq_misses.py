"""Questions the city FAQ could not answer, counted for staff (`bot faq misses`).

Only the redacted text is kept, never who asked: numbers that could identify someone
(マイナンバー, card and phone numbers) are masked before it is stored. The same question
written the same way (ignoring width, case and spacing) is one row with a count.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.redact import redact
from bot.store.queries import utc_text

MAX_TEXT = 200
# Phone numbers, postcodes, account numbers…: 4 digits or more (hyphens allowed).
_LONG_NUMBER = re.compile(r"\d[\d\-‐－ー]{3,}\d")


def ensure_schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS faq_misses (
            key TEXT PRIMARY KEY,            -- the text folded (NFKC, lower case, no spaces)
            text TEXT NOT NULL,              -- redacted, as first written
            count INTEGER NOT NULL DEFAULT 1,
            first_at TEXT NOT NULL,          -- UTC ISO 8601
            last_at TEXT NOT NULL
        )
        """
    )


def clean(text: str) -> str:
    """The text as staff may see it: sensitive numbers masked, one line, capped."""
    masked, _ = redact(unicodedata.normalize("NFKC", text))
    masked = _LONG_NUMBER.sub("＊＊＊", masked)
    return " ".join(masked.split())[:MAX_TEXT]


def record(db: sqlite_utils.Database, text: str, now: datetime) -> None:
    shown = clean(text)
    key = "".join(shown.lower().split())
    if not key:
        return
    at = utc_text(now)
    db.execute(
        "INSERT INTO faq_misses (key, text, count, first_at, last_at) VALUES (?, ?, 1, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
        [key, shown, at, at],
    )


def most_frequent(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """Unanswered questions, the most asked first (then the most recent)."""
    cursor = db.execute(
        "SELECT text, count, first_at, last_at FROM faq_misses "
        "ORDER BY count DESC, last_at DESC LIMIT ?",
        [limit],
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
