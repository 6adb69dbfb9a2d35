"""The city FAQ's table in PostgreSQL (owner "faq"), as bot.store.sqlite.faq: questions it
could not answer, counted for staff. Only the redacted text is kept, never who asked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store.postgres.connection import Conn, Lane
from bot.store.postgres.migrations import MigrationSet
from bot.store.records import FaqMiss, FaqMissCount

MIGRATIONS = MigrationSet("faq")
MIGRATIONS.ddl(
    "faq misses",
    """
    CREATE TABLE faq_misses (
        key text PRIMARY KEY,            -- the text folded (NFKC, lower case, no spaces)
        text text NOT NULL,              -- redacted, as first written
        count integer NOT NULL DEFAULT 1,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL
    );
    """,
)


def record_all(conn: Conn, misses: Sequence[FaqMiss], now: datetime) -> None:
    """Count these askings (a batch's turns: one statement, the same question once per key)."""
    if not misses:
        return
    counted: dict[str, tuple[str, int]] = {}
    for miss in misses:
        text, n = counted.get(miss.key, (miss.text, 0))
        counted[miss.key] = (text, n + 1)
    conn.execute(
        "INSERT INTO faq_misses AS f (key, text, count, first_at, last_at) "
        "SELECT key, text, n, %(now)s, %(now)s FROM unnest(%(keys)s::text[], %(texts)s::text[], "
        "%(counts)s::int[]) AS u(key, text, n) "
        "ON CONFLICT (key) DO UPDATE SET count = f.count + excluded.count, "
        "last_at = excluded.last_at",
        {
            "now": now,
            "keys": list(counted),
            "texts": [text for text, _ in counted.values()],
            "counts": [n for _, n in counted.values()],
        },
    )


def most_frequent(conn: Conn, limit: int) -> list[FaqMissCount]:
    """Unanswered questions, the most asked first (then the most recent)."""
    rows = conn.execute(
        "SELECT text, count, first_at, last_at FROM faq_misses "
        "ORDER BY count DESC, last_at DESC LIMIT %s",
        [limit],
    ).fetchall()
    return [
        FaqMissCount(row["text"], int(row["count"]), row["first_at"], row["last_at"])
        for row in rows
    ]


class PostgresFaqMisses:
    """bot.store.base.FaqMisses (the turns write them with their completions)."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    async def most_frequent(self, limit: int) -> list[FaqMissCount]:
        return await self.lane.run(most_frequent, limit)
