"""The work queue in SQLite (owner "pipeline"'s tables), as bot/store/postgres/queue.py for
PostgreSQL: claims of inbox rows (each resident's oldest pending one, so one resident's
messages stay in order), due timers turned into inbox rows, and a turn's completion written
with its inbox row's status. One process serves a SQLite database: the processing lane is
the only claimant.

Every function takes the Database of the connection's owning thread, inside the caller's
transaction."""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from bot.store.records import Claimed, Completion, InboundRow
from bot.store.sqlite import faq, staff
from bot.store.sqlite.outbox import add_outbox, default_priority
from bot.store.sqlite.pipeline import (
    cancel_timer,
    conversations,
    from_utc_text,
    insert_inbox,
    residents,
    save_conversation,
    set_timer,
    update_resident,
    utc_text,
)


def last_batch(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT coalesce(max(batch), 0) FROM inbox").fetchone()[0])


def claim_pending(db: sqlite_utils.Database, limit: int) -> list[Claimed]:
    """The oldest pending row of each resident (so one resident's messages stay in order),
    oldest residents first, with their resident rows and conversations (one query each)."""
    rows = list(
        db.query(
            "SELECT * FROM inbox WHERE id IN (SELECT min(id) FROM inbox WHERE status = 'pending' "
            "GROUP BY resident_id) ORDER BY id LIMIT ?",
            [limit],
        )
    )
    if not rows:
        return []
    ids = [row["resident_id"] for row in rows]
    people = residents(db, ids)
    states = conversations(db, ids)
    return [
        Claimed(
            id=row["id"],
            provider=row["provider"],
            resident_id=row["resident_id"],
            channel=row["channel"],
            kind=row["kind"],
            text=row["text"],
            postback=row["postback"],
            payload=json.loads(row["payload"]),
            redactions=json.loads(row["redactions"]),
            truncated=bool(row["truncated"]),
            received_at=from_utc_text(row["received_at"]),
            resident=people.get(row["resident_id"]),
            conversation=states.get(row["resident_id"]),
            limited=row["limited"],
        )
        for row in rows
    ]


def complete(
    db: sqlite_utils.Database, item: Claimed, done: Completion, now: datetime, batch: int
) -> None:
    """Write what a turn changed, with its inbox row's status (inside the caller's
    transaction, so all of it or none)."""
    resident_id = item.resident_id
    stamp = utc_text(now)
    if done.failed_turns is not None:
        db.execute(
            "UPDATE residents SET failed_turns = ? WHERE id = ?", [done.failed_turns, resident_id]
        )
    if done.save_conversation:
        save_conversation(db, resident_id, done.conversation, stamp)
    if done.resident:
        update_resident(db, resident_id, done.resident)
    for name in done.cancel_timers:
        cancel_timer(db, resident_id, name)
    for timer in done.timers:
        set_timer(db, resident_id, timer)
    for kind, text in done.staff_notes:
        staff.add_note(db, resident_id, kind, text, stamp)
    for miss in done.faq_misses:
        faq.record(db, miss, stamp)
    for out in done.outbox:
        add_outbox(
            db,
            resident_id,
            out.provider,
            out.channel,
            out.kind,
            out.text,
            out.suggestions,
            item.id,
            stamp,
            out.status,
            out.idempotency_key,
            priority=out.priority if out.priority is not None else default_priority(out.kind),
        )
    db.execute(
        "UPDATE inbox SET status = ?, processed_at = ?, batch = ? WHERE id = ?",
        [done.status, stamp, batch, item.id],
    )


def promote_due_timers(db: sqlite_utils.Database, now: datetime, limit: int = 256) -> int:
    """Due timers become inbox rows, so they run through the same per-resident order."""
    timers = list(
        db.query(
            "SELECT t.*, r.last_channel FROM timers t LEFT JOIN residents r "
            "ON r.id = t.resident_id WHERE t.due_at <= ? ORDER BY t.due_at, t.id LIMIT ?",
            [utc_text(now), limit],
        )
    )
    for timer in timers:
        insert_inbox(
            db,
            InboundRow(
                provider="timer",
                provider_message_id=f"{timer['id']}:{timer['due_at']}",
                resident_id=timer["resident_id"],
                phone_enc=None,
                channel=timer["last_channel"] or "sms",
                kind="timer",
                text=timer["name"],
                payload=json.loads(timer["payload"]),
                # When it actually runs: a timer firing late (server down) must know it.
                received_at=now,
            ),
        )
        db.execute("DELETE FROM timers WHERE id = ?", [timer["id"]])
    return len(timers)


def next_timer_due(db: sqlite_utils.Database) -> datetime | None:
    found = db.execute("SELECT min(due_at) FROM timers").fetchone()
    return from_utc_text(found[0]) if found and found[0] else None
