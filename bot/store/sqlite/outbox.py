"""The outbox's rows in SQLite (owner "pipeline"'s table): a reply, reminder or notice row
written, what a resident was sent read back (for the simulator, replay and chat), rows in
flight at a crash put back in doubt, and the providers' receipts moving a row's status
forward only. The delivery worker's own bookkeeping is bot/store/sqlite/delivery.py.

Every function takes the Database of the connection's owning thread, inside the caller's
transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.records import (
    REMINDER_PRIORITY,
    REPLY_PRIORITY,
    STATUS_RANK,
    SentMessage,
)
from bot.store.sqlite.pipeline import from_utc_text, utc_text


def add_outbox(
    db: sqlite_utils.Database,
    resident_id: str,
    provider: str,
    channel: str,
    kind: str,
    text: str,
    suggestions: list[str],
    inbox_id: int | None,
    stamp: str,
    status: str,
    idempotency_key: str,
    priority: int = REPLY_PRIORITY,
    notice_id: str | None = None,
) -> int:
    cursor = db.execute(
        "INSERT INTO outbox (resident_id, provider, channel, kind, text, suggestions, inbox_id, "
        "created_at, status, idempotency_key, next_attempt_at, priority, notice_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            resident_id,
            provider,
            channel,
            kind,
            text,
            json.dumps(suggestions, ensure_ascii=False),
            inbox_id,
            stamp,
            status,
            idempotency_key,
            stamp,
            priority,
            notice_id,
        ],
    )
    return int(cursor.lastrowid or 0)


def default_priority(kind: str) -> int:
    return REMINDER_PRIORITY if kind == "notice" else REPLY_PRIORITY


# What the simulator, replay and chat show a resident: not what was suppressed, nor a staff
# notice's row still queued or dropped (its recipients list is made ahead of sending).
_SHOWN = (
    "status != 'suppressed' AND NOT (notice_id IS NOT NULL "
    "AND status IN ('pending', 'sending', 'expired', 'cancelled'))"
)


def _sent(row: dict[str, Any]) -> SentMessage:
    return SentMessage(
        id=row["id"],
        text=row["text"],
        suggestions=json.loads(row["suggestions"]),
        kind=row["kind"],
        channel=row["channel"],
        inbox_id=row["inbox_id"],
        notice_id=row["notice_id"],
        at=from_utc_text(row["created_at"]) if row.get("created_at") else None,
    )


def replies_for(db: sqlite_utils.Database, inbox_id: int) -> list[SentMessage]:
    return [
        _sent(row)
        for row in db.query(
            "SELECT id, text, suggestions, kind, channel, inbox_id, notice_id, created_at FROM outbox "
            "WHERE inbox_id = ? AND status != 'suppressed' ORDER BY id",
            [inbox_id],
        )
    ]


def sent_to(db: sqlite_utils.Database, resident_id: str, after_id: int) -> list[SentMessage]:
    return [
        _sent(row)
        for row in db.query(
            "SELECT id, text, suggestions, kind, inbox_id, channel, notice_id, created_at FROM outbox "
            f"WHERE resident_id = ? AND id > ? AND {_SHOWN} ORDER BY id",
            [resident_id, after_id],
        )
    ]


def reset_in_flight(db: sqlite_utils.Database) -> int:
    """At start-up: rows that were being sent when the process died go back to pending, in
    doubt since their claim — the delivery worker asks the provider whether each reached
    it before sending it again (Channel.reconcile)."""
    return db.execute(
        "UPDATE outbox SET status = 'pending', doubt_since = coalesce(doubt_since, claimed_at, "
        "created_at) WHERE status = 'sending'"
    ).rowcount


def record_status(
    db: sqlite_utils.Database,
    provider: str,
    provider_message_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> bool:
    """Store a receipt; move the outbox row's status forward only. True if a row matched."""
    found = db.execute(
        "SELECT id, status FROM outbox WHERE provider = ? AND provider_message_id = ?",
        [provider, provider_message_id],
    ).fetchone()
    db.execute(
        "INSERT INTO delivery_events (outbox_id, provider, provider_message_id, status, "
        "error_code, at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            found[0] if found else None,
            provider,
            provider_message_id,
            status,
            error_code,
            utc_text(now),
        ],
    )
    if found is None:
        return False
    if STATUS_RANK.get(status, -1) > STATUS_RANK.get(found[1], -1):
        db.execute(
            "UPDATE outbox SET status = ?, status_at = ?, error = coalesce(?, error) WHERE id = ?",
            [status, utc_text(now), error_code, found[0]],
        )
    return True
