"""The delivery worker's bookkeeping: each function takes the store's Database and runs inside
one transaction via `pipeline.run_on_store(fn, ...)`. Built on bot.store.queries; the few
queries it lacks (stale rich messages, switching a row to SMS) live here."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store import queries as q


def claim(db: Any, providers: list[str], now: datetime, limit: int) -> list[dict[str, Any]]:
    """Due rows (replies first) marked 'sending', with the resident's encrypted number."""
    rows = q.claim_outbox(db, providers, now, limit)
    residents = q.get_residents(db, list({row["resident_id"] for row in rows}))
    for row in rows:
        resident = residents.get(row["resident_id"]) or {}
        row["phone_enc"] = resident.get("phone_enc")
        row["notices_enabled"] = bool(resident.get("notices_enabled", 1))
    return rows


def sent(db: Any, outbox_id: int, provider_message_id: str | None, now: datetime) -> None:
    q.mark_outbox_sent(db, outbox_id, provider_message_id, now)


def sent_many(db: Any, marks: list[tuple[int, str | None, datetime]]) -> None:
    """Several `sent` marks in one transaction (one fsync per delivered batch)."""
    db.conn.executemany(
        "UPDATE outbox SET status = 'sent', provider_message_id = ?, status_at = ?, error = NULL "
        "WHERE id = ? AND status IN ('pending', 'sending')",
        [(message_id, q.utc_text(now), outbox_id) for outbox_id, message_id, now in marks],
    )


def retry(db: Any, outbox_id: int, next_at: datetime, error: str) -> None:
    q.mark_outbox_retry(db, outbox_id, next_at, error)


def failed(db: Any, outbox_id: int, error: str, now: datetime, status: str = "failed") -> None:
    q.mark_outbox_failed(db, outbox_id, error, now, status)


def stop_resident(db: Any, resident_id: str) -> None:
    """The provider says the resident opted out (e.g. Twilio 21610): no more notices."""
    q.update_resident(db, resident_id, {"notices_enabled": False})


def next_due(db: Any, providers: list[str]) -> datetime | None:
    if not providers:
        return None
    marks = ",".join("?" for _ in providers)
    row = db.execute(
        f"SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' "
        f"AND provider IN ({marks})",
        providers,
    ).fetchone()
    return q.from_utc_text(row[0]) if row and row[0] else None


def stale_rich(db: Any, sent_before: datetime, limit: int) -> list[dict[str, Any]]:
    """Rich messages sent but not delivered in time (no DELIVERED/READ receipt yet)."""
    rows = list(
        db.query(
            "SELECT o.*, r.phone_enc FROM outbox o JOIN residents r ON r.id = o.resident_id "
            "WHERE o.provider = 'rcs' AND o.channel = 'rcs' AND o.status = 'sent' "
            "AND o.status_at <= ? AND coalesce(o.error, '') NOT LIKE 'rcs_revoke%' "
            "ORDER BY o.id LIMIT ?",
            [q.utc_text(sent_before), limit],
        )
    )
    for row in rows:
        row["suggestions"] = json.loads(row["suggestions"])
    return rows


def note(db: Any, outbox_id: int, error: str) -> None:
    db.execute("UPDATE outbox SET error = ? WHERE id = ?", [error, outbox_id])


def switch_to_sms(
    db: Any, outbox_id: int, provider: str, provider_message_id: str | None, now: datetime, why: str
) -> None:
    """The rich message went by SMS instead: receipts now come from the SMS provider."""
    db.execute(
        "UPDATE outbox SET provider = ?, channel = 'sms', provider_message_id = ?, "
        "status = 'sent', status_at = ?, error = ? WHERE id = ?",
        [provider, provider_message_id, q.utc_text(now), why, outbox_id],
    )
