"""A resident's side of notices from a turn's transaction (PostgreSQL), as
bot/store/sqlite/noticeresidents.py: the question a resident may be answering, and the
answer. (Subscriptions and consents are bot/store/postgres/notices.py's.)"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.store.noticerows import (
    SENT,
)
from bot.store.postgres.connection import Conn
from bot.store.records import (
    NoticeContent,
    OpenAsk,
)


def open_ask(conn: Conn, resident_id: str, now: datetime, hours: float) -> OpenAsk | None:
    """The newest notice with a question sent to the resident within `hours`."""
    row = conn.execute(
        "SELECT o.id AS outbox_id, coalesce(o.status_at, o.created_at) AS at, n.id, n.title, "
        "n.topic, n.content FROM outbox o JOIN notices n ON n.id = o.notice_id "
        "WHERE o.resident_id = %s AND o.notice_id IS NOT NULL AND n.suggestions != '[]' "
        "AND o.status = ANY(%s) AND o.created_at >= %s ORDER BY o.id DESC LIMIT 1",
        [resident_id, list(SENT), now - timedelta(hours=hours)],
    ).fetchone()
    if row is None:
        return None
    content = NoticeContent.from_json(json.loads(row["content"]))
    assert content.ask is not None
    later = conn.execute(
        "SELECT 1 FROM outbox WHERE resident_id = %s AND id > %s AND notice_id IS NULL LIMIT 1",
        [resident_id, row["outbox_id"]],
    ).fetchone()
    return OpenAsk(
        notice_id=row["id"],
        title=row["title"],
        topic=row["topic"],
        choices=content.ask.choices,
        handoff=content.ask.handoff,
        sent_at=row["at"],
        latest=later is None,
    )


def answer(conn: Conn, notice_id: str, resident_id: str, choice: str, now: datetime) -> None:
    """The resident's answer (a later one replaces it: one answer per resident)."""
    conn.execute(
        "INSERT INTO notice_answers (notice_id, resident_id, choice, at) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (notice_id, resident_id) DO UPDATE SET "
        "choice = excluded.choice, at = excluded.at",
        [notice_id, resident_id, choice, now],
    )
