"""The pipeline's queries. Every function takes the owning thread's Database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

# Delivery statuses only move forward; a late "sent" never overwrites "delivered".
STATUS_RANK = {
    "pending": 0,
    "sending": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "failed": 6,
    "undelivered": 6,
    "suppressed": 6,
}


_last_stamp: tuple[datetime | None, str] = (None, "")


def utc_text(instant: datetime) -> str:
    """Timestamps are stored as UTC ISO 8601 so that text order is time order."""
    # A batch stamps many rows with the same instant: the last one is remembered (one
    # tuple, swapped whole, so threads never see half of another's).
    global _last_stamp
    last = _last_stamp
    if last[0] is instant:
        return last[1]
    text = instant.astimezone(UTC).isoformat(timespec="microseconds")
    _last_stamp = (instant, text)
    return text


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- residents -------------------------------------------------------------


def touch_resident(
    db: sqlite_utils.Database,
    resident_id: str,
    phone_enc: bytes,
    provider: str,
    channel: str,
    now: datetime,
) -> None:
    stamp = utc_text(now)
    db.execute(
        "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
        "last_seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "last_provider = excluded.last_provider, last_channel = excluded.last_channel, "
        "last_seen_at = excluded.last_seen_at",
        [resident_id, phone_enc, provider, channel, stamp, stamp],
    )


def get_residents(db: sqlite_utils.Database, resident_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Many residents' rows in one query, by id (missing ids are absent)."""
    if not resident_ids:
        return {}
    marks = ",".join("?" for _ in resident_ids)
    return {
        row["id"]: row
        for row in db.query(f"SELECT * FROM residents WHERE id IN ({marks})", resident_ids)
    }


def get_resident(db: sqlite_utils.Database, resident_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM residents WHERE id = ?", [resident_id]))
    return rows[0] if rows else None


def set_failed_turns(db: sqlite_utils.Database, resident_id: str, count: int) -> None:
    """Turns of this resident that failed in a row (reset by one that works)."""
    db.execute("UPDATE residents SET failed_turns = ? WHERE id = ?", [count, resident_id])


def update_resident(db: sqlite_utils.Database, resident_id: str, changes: dict[str, Any]) -> None:
    flags = {"notices_enabled", "handoff"}
    texts = {"district", "town"}  # the 地区 and 町名 a resident gave (never an address)
    for key, value in changes.items():
        if key in flags:
            value = int(bool(value))
        elif key in texts:
            value = None if value is None else str(value)
        else:
            raise ValueError(f"unknown resident field {key!r}")
        db.execute(f"UPDATE residents SET {key} = ? WHERE id = ?", [value, resident_id])


# ---- inbox -----------------------------------------------------------------


def insert_inbox(db: sqlite_utils.Database, row: dict[str, Any]) -> int | None:
    """Insert one inbound row; None when (provider, provider_message_id) is already stored."""
    cursor = db.execute(
        "INSERT INTO inbox (provider, provider_message_id, resident_id, channel, kind, text, "
        "postback, payload, redactions, truncated, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(provider, provider_message_id) DO NOTHING",
        [
            row["provider"],
            row["provider_message_id"],
            row["resident_id"],
            row["channel"],
            row.get("kind", "message"),
            row.get("text", ""),
            row.get("postback"),
            json.dumps(row.get("payload", {}), ensure_ascii=False),
            json.dumps(row.get("redactions", [])),
            int(row.get("truncated", False)),
            row["received_at"],
        ],
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def find_inbox_id(db: sqlite_utils.Database, provider: str, provider_message_id: str) -> int | None:
    row = db.execute(
        "SELECT id FROM inbox WHERE provider = ? AND provider_message_id = ?",
        [provider, provider_message_id],
    ).fetchone()
    return row[0] if row else None


def next_pending(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    """The oldest pending row of each resident (so one resident's messages stay in order),
    oldest residents first."""
    return list(
        db.query(
            "SELECT * FROM inbox WHERE id IN (SELECT min(id) FROM inbox WHERE status = 'pending' "
            "GROUP BY resident_id) ORDER BY id LIMIT ?",
            [limit],
        )
    )


def finish_inbox(
    db: sqlite_utils.Database, inbox_id: int, status: str, now: datetime, batch: int
) -> None:
    db.execute(
        "UPDATE inbox SET status = ?, processed_at = ?, batch = ? WHERE id = ?",
        [status, utc_text(now), batch, inbox_id],
    )


def inbox_status(db: sqlite_utils.Database, inbox_id: int) -> str | None:
    row = db.execute("SELECT status FROM inbox WHERE id = ?", [inbox_id]).fetchone()
    return row[0] if row else None


# ---- conversations -----------------------------------------------------------


def load_conversation(db: sqlite_utils.Database, resident_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT state FROM conversations WHERE resident_id = ?", [resident_id]
    ).fetchone()
    return json.loads(row[0]) if row else None


def load_conversations(
    db: sqlite_utils.Database, resident_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Many residents' stored conversations in one query (residents without one are absent)."""
    if not resident_ids:
        return {}
    marks = ",".join("?" for _ in resident_ids)
    return {
        row[0]: json.loads(row[1])
        for row in db.execute(
            f"SELECT resident_id, state FROM conversations WHERE resident_id IN ({marks})",
            resident_ids,
        ).fetchall()
    }


def save_conversation(
    db: sqlite_utils.Database, resident_id: str, state: dict[str, Any] | None, now: datetime
) -> None:
    if state is None:
        db.execute("DELETE FROM conversations WHERE resident_id = ?", [resident_id])
        return
    db.execute(
        "INSERT INTO conversations (resident_id, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(resident_id) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        [resident_id, json.dumps(state, ensure_ascii=False, default=str), utc_text(now)],
    )


# ---- outbox ------------------------------------------------------------------


def add_outbox(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    cursor = db.execute(
        "INSERT INTO outbox (resident_id, provider, channel, kind, text, suggestions, inbox_id, "
        "created_at, status, idempotency_key, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            row["resident_id"],
            row["provider"],
            row["channel"],
            row.get("kind", "reply"),
            row["text"],
            json.dumps(row.get("suggestions", []), ensure_ascii=False),
            row.get("inbox_id"),
            row["created_at"],
            row.get("status", "pending"),
            row["idempotency_key"],
            row.get("next_attempt_at", row["created_at"]),
        ],
    )
    return int(cursor.lastrowid or 0)


def replies_for_inbox(db: sqlite_utils.Database, inbox_id: int) -> list[dict[str, Any]]:
    return [
        {"text": r["text"], "suggestions": json.loads(r["suggestions"]), "channel": r["channel"]}
        for r in db.query(
            "SELECT text, suggestions, channel FROM outbox WHERE inbox_id = ? "
            "AND status != 'suppressed' ORDER BY id",
            [inbox_id],
        )
    ]


def outbox_for_resident(
    db: sqlite_utils.Database, resident_id: str, after_id: int = 0
) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "text": r["text"],
            "suggestions": json.loads(r["suggestions"]),
            "kind": r["kind"],
            "inbox_id": r["inbox_id"],
            "channel": r["channel"],
        }
        for r in db.query(
            "SELECT id, text, suggestions, kind, inbox_id, channel FROM outbox WHERE resident_id = ? "
            "AND id > ? AND status != 'suppressed' ORDER BY id",
            [resident_id, after_id],
        )
    ]


def claim_outbox(
    db: sqlite_utils.Database, providers: list[str], now: datetime, limit: int
) -> list[dict[str, Any]]:
    """Due pending rows for these providers, replies before notices, marked 'sending'.
    A crash leaves them 'sending'; reset_in_flight() puts them back on start-up."""
    if not providers:
        return []
    marks = ",".join("?" for _ in providers)
    rows = list(
        db.query(
            f"SELECT * FROM outbox WHERE status = 'pending' AND provider IN ({marks}) "
            "AND next_attempt_at <= ? ORDER BY (kind = 'notice'), id LIMIT ?",
            [*providers, utc_text(now), limit],
        )
    )
    db.conn.executemany(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?",
        [(row["id"],) for row in rows],
    )
    for row in rows:
        row["attempts"] += 1
        row["suggestions"] = json.loads(row["suggestions"])
    return rows


def reset_in_flight(db: sqlite_utils.Database) -> int:
    """At start-up: rows that were being sent when the process died are sent again
    (at least once; the provider's idempotency key makes the resident see it once)."""
    return db.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'").rowcount


def mark_outbox_sent(
    db: sqlite_utils.Database, outbox_id: int, provider_message_id: str | None, now: datetime
) -> None:
    db.execute(
        "UPDATE outbox SET status = 'sent', provider_message_id = ?, status_at = ?, error = NULL "
        "WHERE id = ? AND status IN ('pending', 'sending')",
        [provider_message_id, utc_text(now), outbox_id],
    )


def mark_outbox_retry(
    db: sqlite_utils.Database, outbox_id: int, next_at: datetime, error: str
) -> None:
    db.execute(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?, error = ? WHERE id = ?",
        [utc_text(next_at), error, outbox_id],
    )


def mark_outbox_failed(
    db: sqlite_utils.Database, outbox_id: int, error: str, now: datetime, status: str = "failed"
) -> None:
    db.execute(
        "UPDATE outbox SET status = ?, error = ?, status_at = ? WHERE id = ?",
        [status, error, utc_text(now), outbox_id],
    )


def record_status(
    db: sqlite_utils.Database,
    provider: str,
    provider_message_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> bool:
    """Store a receipt; move the outbox row's status forward only. True if a row matched."""
    row = db.execute(
        "SELECT id, status FROM outbox WHERE provider = ? AND provider_message_id = ?",
        [provider, provider_message_id],
    ).fetchone()
    db.execute(
        "INSERT INTO delivery_events (outbox_id, provider, provider_message_id, status, "
        "error_code, at) VALUES (?, ?, ?, ?, ?, ?)",
        [row[0] if row else None, provider, provider_message_id, status, error_code, utc_text(now)],
    )
    if row is None:
        return False
    if STATUS_RANK.get(status, -1) > STATUS_RANK.get(row[1], -1):
        db.execute(
            "UPDATE outbox SET status = ?, status_at = ?, error = coalesce(?, error) WHERE id = ?",
            [status, utc_text(now), error_code, row[0]],
        )
    return True


# ---- timers ------------------------------------------------------------------


def set_timer(
    db: sqlite_utils.Database, resident_id: str, name: str, due_at: datetime, payload: dict
) -> None:
    db.execute(
        "INSERT INTO timers (resident_id, name, due_at, payload) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(resident_id, name) DO UPDATE SET due_at = excluded.due_at, "
        "payload = excluded.payload",
        [resident_id, name, utc_text(due_at), json.dumps(payload, ensure_ascii=False, default=str)],
    )


def cancel_timer(db: sqlite_utils.Database, resident_id: str, name: str) -> None:
    db.execute("DELETE FROM timers WHERE resident_id = ? AND name = ?", [resident_id, name])


def due_timers(db: sqlite_utils.Database, now: datetime, limit: int) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, id LIMIT ?",
            [utc_text(now), limit],
        )
    )


def next_timer_due(db: sqlite_utils.Database) -> datetime | None:
    row = db.execute("SELECT min(due_at) FROM timers").fetchone()
    return from_utc_text(row[0]) if row and row[0] else None


def delete_timer(db: sqlite_utils.Database, timer_id: int) -> None:
    db.execute("DELETE FROM timers WHERE id = ?", [timer_id])


# ---- staff notes -------------------------------------------------------------


def add_staff_note(
    db: sqlite_utils.Database, resident_id: str, kind: str, text: str, now: datetime
) -> None:
    db.execute(
        "INSERT INTO staff_notes (resident_id, kind, text, created_at) VALUES (?, ?, ?, ?)",
        [resident_id, kind, text, utc_text(now)],
    )


# ---- retention ---------------------------------------------------------------


def purge_old(db: sqlite_utils.Database, before: datetime) -> dict[str, int]:
    """Forget what residents wrote and what we answered once it is older than `before`.
    Rows stay (ids, statuses, times: duplicates are still recognised, counts still add up);
    the texts go. Unfinished work is never touched."""
    cutoff = utc_text(before)
    counts = {
        "inbox": db.execute(
            "UPDATE inbox SET text = '', postback = NULL, payload = '{}' "
            "WHERE status != 'pending' AND received_at < ? AND (text != '' OR postback IS NOT NULL)",
            [cutoff],
        ).rowcount,
        "outbox": db.execute(
            "UPDATE outbox SET text = '', suggestions = '[]' "
            "WHERE status NOT IN ('pending', 'sending') AND created_at < ? AND text != ''",
            [cutoff],
        ).rowcount,
        "staff_notes": db.execute(
            "DELETE FROM staff_notes WHERE seen = 1 AND created_at < ?", [cutoff]
        ).rowcount,
        "delivery_events": db.execute(
            "DELETE FROM delivery_events WHERE at < ?", [cutoff]
        ).rowcount,
        "conversations": db.execute(
            "DELETE FROM conversations WHERE updated_at < ?", [cutoff]
        ).rowcount,
    }
    return counts
