"""The pipeline's tables in SQLite (owner "pipeline"): residents, inbox, conversations,
outbox, timers, delivery_events, and the queries on residents, the inbox, conversations and
timers (as bot/store/postgres/pipeline.py). The work queue — claims, due timers, a turn's
completion — is queue.py (as PostgreSQL's); the outbox's rows outbox.py.

Every function takes the Database of the connection's owning thread, inside the caller's
transaction. Times are stored as UTC ISO 8601 text, so text order is time order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from bot.store.records import (
    REMINDER_PRIORITY,
    REPLY_PRIORITY,
    InboundRow,
    ResidentRow,
    Timer,
)
from bot.store.sqlite.migrations import MigrationSet, run_script

MIGRATIONS = MigrationSet("pipeline")


@MIGRATIONS.step("core tables")
def _core_tables(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE residents (
            id TEXT PRIMARY KEY,              -- keyed hash of the number (never the number)
            phone_enc BLOB NOT NULL,          -- AES-GCM ciphertext, for sending only
            notices_enabled INTEGER NOT NULL DEFAULT 1,
            handoff INTEGER NOT NULL DEFAULT 0,
            last_provider TEXT,
            last_channel TEXT,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        );
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            provider TEXT NOT NULL,
            provider_message_id TEXT NOT NULL,
            resident_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'message',   -- message | timer
            text TEXT NOT NULL DEFAULT '',
            postback TEXT,
            payload TEXT NOT NULL DEFAULT '{}',
            redactions TEXT NOT NULL DEFAULT '[]',
            truncated INTEGER NOT NULL DEFAULT 0,
            received_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
            processed_at TEXT,
            batch INTEGER,
            UNIQUE (provider, provider_message_id)
        );
        CREATE INDEX inbox_pending ON inbox (resident_id, id) WHERE status = 'pending';
        CREATE TABLE conversations (
            resident_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'reply',      -- reply | notice
            text TEXT NOT NULL,
            suggestions TEXT NOT NULL DEFAULT '[]',
            inbox_id INTEGER,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            provider_message_id TEXT,
            idempotency_key TEXT NOT NULL UNIQUE,
            error TEXT,
            status_at TEXT
        );
        CREATE INDEX outbox_due ON outbox (status, next_attempt_at) WHERE status = 'pending';
        CREATE INDEX outbox_inbox ON outbox (inbox_id);
        CREATE INDEX outbox_resident ON outbox (resident_id, id);
        CREATE INDEX outbox_provider_id ON outbox (provider, provider_message_id);
        CREATE TABLE timers (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            name TEXT NOT NULL,
            due_at TEXT NOT NULL,                    -- UTC ISO 8601, sorts as text
            payload TEXT NOT NULL DEFAULT '{}',
            UNIQUE (resident_id, name)
        );
        CREATE INDEX timers_due ON timers (due_at);
        CREATE TABLE delivery_events (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER,
            provider TEXT NOT NULL,
            provider_message_id TEXT NOT NULL,
            status TEXT NOT NULL,
            error_code TEXT,
            at TEXT NOT NULL
        );
        """,
    )


@MIGRATIONS.step("residents.failed_turns")
def _failed_turns(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE residents ADD COLUMN failed_turns INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS.step("inbox by resident")
def _inbox_by_resident(db: sqlite_utils.Database) -> None:
    # A resident's whole transcript, page by page, for the staff console (inbox_pending
    # covers pending rows only).
    db.execute("CREATE INDEX inbox_by_resident ON inbox (resident_id, received_at)")


@MIGRATIONS.step("residents.district_town")
def _resident_place(db: sqlite_utils.Database) -> None:
    # The 地区 and 町名 a resident gave once (ごみの収集日), so they are not asked again.
    db.execute("ALTER TABLE residents ADD COLUMN district TEXT")
    db.execute("ALTER TABLE residents ADD COLUMN town TEXT")


@MIGRATIONS.step("inbox.limited")
def _inbox_limited(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE inbox ADD COLUMN limited TEXT")  # InboundRow.limited


@MIGRATIONS.step("outbox.claimed_at, doubt_since")
def _outbox_doubt(db: sqlite_utils.Database) -> None:
    # claimed_at: when the current attempt was claimed; doubt_since: the start of an attempt
    # that may have reached the provider unrecorded (OutboxItem.in_doubt_since).
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_at TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN doubt_since TEXT")


@MIGRATIONS.step("outbox for notices")
def _outbox_for_notices(db: sqlite_utils.Database) -> None:
    # A staff notice is one outbox row per resident (its text is the notice's: nothing
    # per resident but the id). The claim takes rows by (notice, priority, id): replies and
    # reminders (notice_id NULL) by priority, each live notice's rows by its own index
    # range, so a million rows of a cancelled or held notice are never scanned.
    run_script(
        db,
        f"""
        ALTER TABLE outbox ADD COLUMN notice_id TEXT;
        ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT {REPLY_PRIORITY};
        UPDATE outbox SET priority = {REMINDER_PRIORITY} WHERE kind = 'notice';
        DROP INDEX outbox_due;
        CREATE INDEX outbox_claim ON outbox (notice_id, priority, id) WHERE status = 'pending';
        CREATE INDEX outbox_notice ON outbox (notice_id, kind, status)
            WHERE notice_id IS NOT NULL
        """,
    )


_last_stamp: tuple[datetime | None, str] = (None, "")


def utc_text(instant: datetime) -> str:
    """The stored form of a time: UTC ISO 8601 with microseconds (text order = time order)."""
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


# ---- residents -------------------------------------------------------------------------


def touch_resident(db: sqlite_utils.Database, row: InboundRow, stamp: str) -> None:
    db.execute(
        "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
        "last_seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "last_provider = excluded.last_provider, last_channel = excluded.last_channel, "
        "last_seen_at = excluded.last_seen_at",
        [row.resident_id, row.phone_enc, row.provider, row.channel, stamp, stamp],
    )


def _resident(row: dict[str, Any]) -> ResidentRow:
    return ResidentRow(
        id=row["id"],
        notices_enabled=bool(row["notices_enabled"]),
        handoff=bool(row["handoff"]),
        last_provider=row["last_provider"],
        last_channel=row["last_channel"],
        failed_turns=int(row["failed_turns"] or 0),
        district=row["district"],
        town=row["town"],
    )


def residents(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, ResidentRow]:
    """Many residents in one query, by id (missing ids are absent)."""
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    return {
        row["id"]: _resident(row)
        for row in db.query(
            "SELECT id, notices_enabled, handoff, last_provider, last_channel, failed_turns, "
            f"district, town FROM residents WHERE id IN ({marks})",
            list(ids),
        )
    }


def resident(db: sqlite_utils.Database, resident_id: str) -> ResidentRow | None:
    return residents(db, [resident_id]).get(resident_id)


def last_seen(db: sqlite_utils.Database, resident_id: str) -> datetime | None:
    found = db.execute("SELECT last_seen_at FROM residents WHERE id = ?", [resident_id])
    row = found.fetchone()
    return from_utc_text(row[0]) if row else None


def known_residents(db: sqlite_utils.Database, ids: Sequence[str]) -> list[str]:
    """Those of `ids` that are residents."""
    return list(residents(db, ids))


RESIDENT_FLAGS = ("notices_enabled", "handoff")
RESIDENT_TEXTS = ("district", "town")  # the 地区 and 町名 a resident gave (never an address)


def update_resident(db: sqlite_utils.Database, resident_id: str, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if key in RESIDENT_FLAGS:
            value = int(bool(value))
        elif key in RESIDENT_TEXTS:
            value = None if value is None else str(value)
        else:
            raise ValueError(f"unknown resident field {key!r}")
        db.execute(f"UPDATE residents SET {key} = ? WHERE id = ?", [value, resident_id])


# ---- inbox ---------------------------------------------------------------------------------


def insert_inbox(db: sqlite_utils.Database, row: InboundRow) -> int | None:
    """Insert one inbound row; None when (provider, provider_message_id) is already stored."""
    cursor = db.execute(
        "INSERT INTO inbox (provider, provider_message_id, resident_id, channel, kind, text, "
        "postback, payload, redactions, truncated, received_at, limited) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(provider, provider_message_id) DO NOTHING",
        [
            row.provider,
            row.provider_message_id,
            row.resident_id,
            row.channel,
            row.kind,
            row.text,
            row.postback,
            json.dumps(row.payload, ensure_ascii=False, default=str),
            json.dumps(row.redactions),
            int(row.truncated),
            utc_text(row.received_at),
            row.limited,
        ],
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def find_inbox_id(db: sqlite_utils.Database, provider: str, provider_message_id: str) -> int | None:
    found = db.execute(
        "SELECT id FROM inbox WHERE provider = ? AND provider_message_id = ?",
        [provider, provider_message_id],
    ).fetchone()
    return found[0] if found else None


def inbox_status(db: sqlite_utils.Database, inbox_id: int) -> str | None:
    found = db.execute("SELECT status FROM inbox WHERE id = ?", [inbox_id]).fetchone()
    return found[0] if found else None


# ---- conversations -------------------------------------------------------------------------


def conversation(db: sqlite_utils.Database, resident_id: str) -> dict[str, Any] | None:
    found = db.execute(
        "SELECT state FROM conversations WHERE resident_id = ?", [resident_id]
    ).fetchone()
    return json.loads(found[0]) if found else None


def conversations(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Many residents' stored conversations in one query (residents without one are absent)."""
    marks = ",".join("?" for _ in ids)
    return {
        row[0]: json.loads(row[1])
        for row in db.execute(
            f"SELECT resident_id, state FROM conversations WHERE resident_id IN ({marks})",
            list(ids),
        ).fetchall()
    }


def save_conversation(
    db: sqlite_utils.Database, resident_id: str, state: dict[str, Any] | None, stamp: str
) -> None:
    if state is None:
        db.execute("DELETE FROM conversations WHERE resident_id = ?", [resident_id])
        return
    db.execute(
        "INSERT INTO conversations (resident_id, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(resident_id) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        [resident_id, json.dumps(state, ensure_ascii=False, default=str), stamp],
    )


# ---- timers ------------------------------------------------------------------------------


def set_timer(db: sqlite_utils.Database, resident_id: str, timer: Timer) -> None:
    """Set a resident's named timer (one by that name is replaced)."""
    db.execute(
        "INSERT INTO timers (resident_id, name, due_at, payload) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(resident_id, name) DO UPDATE SET due_at = excluded.due_at, "
        "payload = excluded.payload",
        [
            resident_id,
            timer.name,
            utc_text(timer.due_at),
            json.dumps(timer.payload, ensure_ascii=False, default=str),
        ],
    )


def cancel_timer(db: sqlite_utils.Database, resident_id: str, name: str) -> None:
    db.execute("DELETE FROM timers WHERE resident_id = ? AND name = ?", [resident_id, name])


# ---- retention -----------------------------------------------------------------------------


def purge_old(db: sqlite_utils.Database, before: datetime) -> dict[str, int]:
    """Forget what residents wrote and what we answered once it is older than `before`.
    Rows stay (ids, statuses, times: duplicates are still recognised, counts still add up);
    the texts go. Unfinished work is never touched."""
    cutoff = utc_text(before)
    return {
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
        "delivery_events": db.execute(
            "DELETE FROM delivery_events WHERE at < ?", [cutoff]
        ).rowcount,
        "conversations": db.execute(
            "DELETE FROM conversations WHERE updated_at < ?", [cutoff]
        ).rowcount,
    }
