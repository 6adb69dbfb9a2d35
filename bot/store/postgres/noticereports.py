"""What staff see of a notice being sent (PostgreSQL), as bot/store/sqlite/noticereports.py:
its rows counted by where they are, progress over time, the answers to its question and who
stopped after it. Inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from bot.store.noticerows import (
    SENT,
    counts_from,
)
from bot.store.postgres.connection import Conn
from bot.store.records import (
    NoticeCounts,
    ProgressPoint,
)


def counts(conn: Conn, notice_id: str) -> NoticeCounts:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM outbox WHERE notice_id = %s AND kind = 'notice' "
        "GROUP BY status",
        [notice_id],
    ).fetchall()
    return counts_from({row["status"]: int(row["n"]) for row in rows})


def record_progress(conn: Conn, notice_id: str, now: datetime, c: NoticeCounts) -> None:
    conn.execute(
        "INSERT INTO notice_progress (notice_id, at, queued, sent, delivered, read, failed) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (notice_id, at) DO UPDATE SET "
        "queued = excluded.queued, sent = excluded.sent, delivered = excluded.delivered, "
        "read = excluded.read, failed = excluded.failed",
        [notice_id, now, c.queued, c.sent, c.delivered, c.read, c.failed],
    )


def progress(conn: Conn, notice_id: str) -> list[ProgressPoint]:
    return [
        ProgressPoint(r["at"], r["queued"], r["sent"], r["delivered"], r["read"], r["failed"])
        for r in conn.execute(
            "SELECT at, queued, sent, delivered, read, failed FROM notice_progress "
            "WHERE notice_id = %s ORDER BY at",
            [notice_id],
        ).fetchall()
    ]


def answers(conn: Conn, notice_id: str) -> dict[str, int]:
    return {
        row["choice"]: int(row["n"])
        for row in conn.execute(
            "SELECT choice, count(*) AS n FROM notice_answers WHERE notice_id = %s GROUP BY choice",
            [notice_id],
        ).fetchall()
    }


def stopped_after(conn: Conn, notice_id: str, hours: float = 24) -> int:
    """Recipients who stopped every notice, or this notice's topic, within `hours` of it."""
    row = conn.execute(
        "SELECT count(DISTINCT o.resident_id) AS n FROM outbox o "
        "JOIN notices n ON n.id = o.notice_id "
        "JOIN notice_consents c ON c.resident_id = o.resident_id AND c.action = 'stop' "
        "AND (c.topic IS NULL OR c.topic = n.topic) "
        "AND c.at >= coalesce(o.status_at, o.created_at) "
        "AND c.at <= coalesce(o.status_at, o.created_at) + %s * interval '1 second' "
        "WHERE o.notice_id = %s AND o.kind = 'notice' AND o.status = ANY(%s)",
        [hours * 3600, notice_id, list(SENT)],
    ).fetchone()
    return int(row["n"]) if row else 0


# ---- answers (a turn's) -------------------------------------------------------------------
