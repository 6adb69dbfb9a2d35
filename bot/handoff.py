"""Conversations handed to staff: list them, answer them and hand them back.

`bot handoff list|return` uses list_handoffs/return_handoff; the staff console (bot/staff/)
uses the functions below them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.console import STAFF_KEY_PREFIX
from bot.store.queries import add_outbox, get_resident, utc_text


def list_handoffs(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Residents in handoff, and unseen notes/messages of anyone (out-of-hours messages)."""
    residents = {
        row["id"]: row["last_seen_at"]
        for row in db.query("SELECT id, last_seen_at FROM residents WHERE handoff = 1")
    }
    notes: dict[str, list[dict[str, Any]]] = {}
    for note in db.query(
        "SELECT resident_id, kind, text, created_at FROM staff_notes WHERE seen = 0 ORDER BY id"
    ):
        notes.setdefault(note["resident_id"], []).append(note)
    refs = sorted(set(residents) | set(notes))
    return [
        {
            "resident_id": resident_id,
            "ref": resident_id[:10],
            "handoff": resident_id in residents,
            "since": residents.get(resident_id) or notes[resident_id][0]["created_at"],
            "notes": notes.get(resident_id, []),
        }
        for resident_id in refs
    ]


def return_handoff(db: sqlite_utils.Database, ref: str) -> str | None:
    """Hand back the resident whose id starts with ref (their notes marked seen): their id,
    or None when ref names no one resident."""
    if len(ref) < 6:
        return None
    matches = [
        row["id"] for row in db.query("SELECT id FROM residents WHERE id LIKE ?", [ref + "%"])
    ]
    if len(matches) != 1:
        return None
    with db.atomic():
        hand_back(db, matches[0])
    return matches[0]


# ---- the staff console (bot/staff/) ------------------------------------------------------
# Each function takes the store's Database inside its write transaction; none of them
# touches residents' numbers.


def queue_staff_reply(
    db: sqlite_utils.Database, resident_id: str, text: str, now: datetime, take_over: bool = True
) -> int:
    """One outbox row from staff, on the resident's last provider/channel. With take_over
    the resident is put in handoff, so their answer reaches staff instead of the bot."""
    from bot.pipeline.processor import LOCAL_PROVIDERS

    resident = get_resident(db, resident_id) or {}
    provider = resident.get("last_provider") or "sim"
    channel = resident.get("last_channel") or "sms"
    outbox_id = add_outbox(
        db,
        {
            "resident_id": resident_id,
            "provider": provider,
            "channel": channel,
            "kind": "reply",
            "text": text,
            "suggestions": [],
            "inbox_id": None,
            "created_at": utc_text(now),
            "status": "sent" if provider in LOCAL_PROVIDERS else "pending",
            "idempotency_key": f"{STAFF_KEY_PREFIX}{uuid.uuid4().hex}",
        },
    )
    if take_over:
        db.execute("UPDATE residents SET handoff = 1 WHERE id = ?", [resident_id])
    return outbox_id


def hand_back(db: sqlite_utils.Database, resident_id: str) -> None:
    """The bot answers this resident again; their notes are marked seen."""
    db.execute("UPDATE residents SET handoff = 0 WHERE id = ?", [resident_id])
    db.execute("UPDATE staff_notes SET seen = 1 WHERE resident_id = ?", [resident_id])


def in_handoff(db: sqlite_utils.Database, resident_id: str) -> bool:
    row = db.execute("SELECT handoff FROM residents WHERE id = ?", [resident_id]).fetchone()
    return bool(row and row[0])
