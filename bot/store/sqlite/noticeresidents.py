"""A resident's side of notices (SQLite), from a turn's transaction: subscriptions to topics
with each consent kept as evidence (time and channel, never the message), the question a
resident may be answering, and the answer (sealed by bot.store.sealed_notices)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlite_utils

from bot.store.noticerows import (
    SENT,
)
from bot.store.records import (
    NoticeContent,
    OpenAsk,
    Subscription,
)
from bot.store.sqlite.pipeline import from_utc_text, utc_text

# ---- subscriptions and consent --------------------------------------------------------------


def subscriptions(db: sqlite_utils.Database, resident_id: str) -> list[Subscription]:
    return [
        Subscription(row[0], bool(row[1]), from_utc_text(row[2]))
        for row in db.execute(
            "SELECT topic, active, since FROM notice_subscriptions WHERE resident_id = ? "
            "ORDER BY topic",
            [resident_id],
        )
    ]


def consent(
    db: sqlite_utils.Database,
    resident_id: str,
    topic: str | None,
    action: str,
    via: str,
    now: datetime,
) -> None:
    db.execute(
        "INSERT INTO notice_consents (resident_id, topic, action, via, at) VALUES (?, ?, ?, ?, ?)",
        [resident_id, topic, action, via, utc_text(now)],
    )


def set_topics(
    db: sqlite_utils.Database,
    resident_id: str,
    topics: Sequence[str],
    active: bool,
    via: str,
    now: datetime,
) -> list[str]:
    """Subscribe to (or stop) these topics; the ones that changed, each with its consent."""
    current = {s.topic: s.active for s in subscriptions(db, resident_id)}
    changed = [t for t in topics if current.get(t) != active and (active or t in current)]
    stamp = utc_text(now)
    for topic in changed:
        db.execute(
            "INSERT INTO notice_subscriptions (resident_id, topic, active, since) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(resident_id, topic) DO UPDATE SET "
            "active = excluded.active, since = excluded.since",
            [resident_id, topic, int(active), stamp],
        )
        consent(db, resident_id, topic, "subscribe" if active else "stop", via, now)
    return changed


# ---- answers ------------------------------------------------------------------------------


def open_ask(
    db: sqlite_utils.Database, resident_id: str, now: datetime, hours: float
) -> OpenAsk | None:
    """The newest notice with a question sent to the resident within `hours`."""
    since = utc_text(now - timedelta(hours=hours))
    rows = list(
        db.query(
            "SELECT o.id AS outbox_id, coalesce(o.status_at, o.created_at) AS at, n.id, n.title, "
            "n.topic, n.content FROM outbox o JOIN notices n ON n.id = o.notice_id "
            "WHERE o.resident_id = ? AND o.notice_id IS NOT NULL AND n.suggestions != '[]' "
            f"AND o.status IN {SENT} AND o.created_at >= ? ORDER BY o.id DESC LIMIT 1",
            [resident_id, since],
        )
    )
    if not rows:
        return None
    row = rows[0]
    content = NoticeContent.from_json(json.loads(row["content"]))
    assert content.ask is not None
    later = db.execute(
        "SELECT 1 FROM outbox WHERE resident_id = ? AND id > ? AND notice_id IS NULL LIMIT 1",
        [resident_id, row["outbox_id"]],
    ).fetchone()
    return OpenAsk(
        notice_id=row["id"],
        title=row["title"],
        topic=row["topic"],
        choices=content.ask.choices,
        handoff=content.ask.handoff,
        sent_at=from_utc_text(row["at"]),
        latest=later is None,
    )


def answer(
    db: sqlite_utils.Database, notice_id: str, resident_id: str, choice: str, now: datetime
) -> None:
    """The resident's answer (a later one replaces it: one answer per resident)."""
    db.execute(
        "INSERT INTO notice_answers (notice_id, resident_id, choice, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(notice_id, resident_id) DO UPDATE SET choice = excluded.choice, "
        "at = excluded.at",
        [notice_id, resident_id, choice, utc_text(now)],
    )
