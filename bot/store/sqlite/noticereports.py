"""What staff see of a notice being sent (SQLite): its rows counted by where they are,
progress over time, the answers to its question and who stopped after it. Inside the
caller's transaction."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from bot.store.noticerows import (
    SENT,
    counts_from,
)
from bot.store.records import (
    NoticeCounts,
    ProgressPoint,
)
from bot.store.sqlite.pipeline import from_utc_text, utc_text

# ---- reports -------------------------------------------------------------------------------


def counts(db: sqlite_utils.Database, notice_id: str) -> NoticeCounts:
    by_status = dict(
        db.execute(
            "SELECT status, count(*) FROM outbox WHERE notice_id = ? AND kind = 'notice' "
            "GROUP BY status",
            [notice_id],
        ).fetchall()
    )
    return counts_from(by_status)


def record_progress(
    db: sqlite_utils.Database, notice_id: str, now: datetime, c: NoticeCounts
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO notice_progress (notice_id, at, queued, sent, delivered, read, "
        "failed) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [notice_id, utc_text(now), c.queued, c.sent, c.delivered, c.read, c.failed],
    )


def progress(db: sqlite_utils.Database, notice_id: str) -> list[ProgressPoint]:
    return [
        ProgressPoint(from_utc_text(r[0]), r[1], r[2], r[3], r[4], r[5])
        for r in db.execute(
            "SELECT at, queued, sent, delivered, read, failed FROM notice_progress "
            "WHERE notice_id = ? ORDER BY at",
            [notice_id],
        )
    ]


def answers(db: sqlite_utils.Database, notice_id: str) -> dict[str, int]:
    return dict(
        db.execute(
            "SELECT choice, count(*) FROM notice_answers WHERE notice_id = ? GROUP BY choice",
            [notice_id],
        ).fetchall()
    )


def stopped_after(db: sqlite_utils.Database, notice_id: str, hours: float = 24) -> int:
    """Recipients who stopped every notice, or this notice's topic, within `hours` of it."""
    span = f"+{int(hours * 3600)} seconds"
    return int(
        db.execute(
            "SELECT count(DISTINCT o.resident_id) FROM outbox o JOIN notices n ON n.id = o.notice_id "
            "JOIN notice_consents c ON c.resident_id = o.resident_id AND c.action = 'stop' "
            "AND (c.topic IS NULL OR c.topic = n.topic) "
            "AND c.at >= coalesce(o.status_at, o.created_at) "
            "AND julianday(c.at) <= julianday(coalesce(o.status_at, o.created_at), ?) "
            f"WHERE o.notice_id = ? AND o.kind = 'notice' AND o.status IN {SENT}",
            [span, notice_id],
        ).fetchone()[0]
    )
