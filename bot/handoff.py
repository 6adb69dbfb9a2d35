"""Conversations handed to staff: list them, answer them and hand them back.

`bot handoff list|return` uses list_handoffs/return_handoff; the staff console (bot/staff.py)
uses the functions below them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.clock import TOKYO
from bot.store.queries import add_outbox, from_utc_text, get_resident, utc_text


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


# ---- the staff console (bot/staff.py) ---------------------------------------------------
# Every function takes the intake thread's Database and runs inside its write transaction
# (Pipeline.run_on_store); none of them touches residents' numbers.

REF_LENGTH = 10  # the reference staff see: the start of the resident id (a keyed hash)
TRANSCRIPT_LIMIT = 20
STAFF_KEY_PREFIX = "staff-"  # outbox idempotency keys of staff replies (author = staff)
_REF_CHARS = frozenset("0123456789abcdef")


def _jst(stamp: str | None) -> str | None:
    if not stamp:
        return None
    return from_utc_text(stamp).astimezone(TOKYO).isoformat(timespec="seconds")


def _open_filter() -> str:
    return "(handoff = 1 OR id IN (SELECT resident_id FROM staff_notes WHERE seen = 0))"


def open_conversations(
    db: sqlite_utils.Database, limit: int = TRANSCRIPT_LIMIT
) -> list[dict[str, Any]]:
    """Residents in handoff and residents with unseen notes, oldest waiting first, each with
    its unseen notes and recent transcript. Times are Asia/Tokyo ISO 8601."""
    residents = list(
        db.query(f"SELECT id, handoff, last_seen_at FROM residents WHERE {_open_filter()}")
    )
    notes: dict[str, list[dict[str, Any]]] = {}
    for note in db.query(
        "SELECT resident_id, kind, text, created_at FROM staff_notes WHERE seen = 0 ORDER BY id"
    ):
        notes.setdefault(note["resident_id"], []).append(
            {"kind": note["kind"], "text": note["text"], "at": _jst(note["created_at"])}
        )
    conversations = []
    for row in residents:
        unseen = notes.get(row["id"], [])
        transcript = transcript_for(db, row["id"], limit)
        conversations.append(
            {
                "ref": row["id"][:REF_LENGTH],
                "handoff": bool(row["handoff"]),
                # notes come oldest first: the handoff (or the first message) starts the wait
                "since": unseen[0]["at"] if unseen else _jst(row["last_seen_at"]),
                "last_at": transcript[-1]["at"] if transcript else _jst(row["last_seen_at"]),
                "unseen": len(unseen),
                "notes": unseen,
                "transcript": transcript,
            }
        )
    conversations.sort(key=lambda c: (c["since"] or "", c["ref"]))
    return conversations


def transcript_for(
    db: sqlite_utils.Database, resident_id: str, limit: int = TRANSCRIPT_LIMIT
) -> list[dict[str, Any]]:
    """The last `limit` texts between the resident and the city, oldest first.

    who: "resident" (inbox), "staff" (a staff reply) or "bot". A bot reply sorts right after
    the message it answers (their clock times can be equal); texts are as stored (redacted),
    replies carry their suggestions and channel so staff can see what the resident saw."""
    entries: list[tuple[tuple[str, int, int], dict[str, Any]]] = []
    for row in db.query(
        "SELECT id, text, received_at FROM inbox WHERE resident_id = ? AND kind = 'message' "
        "ORDER BY id DESC LIMIT ?",
        [resident_id, limit],
    ):
        entry = {"who": "resident", "text": row["text"], "at": _jst(row["received_at"])}
        entries.append(((row["received_at"], row["id"], 0), entry))
    for row in db.query(
        "SELECT o.id, o.text, o.suggestions, o.channel, o.kind, o.status, o.created_at, "
        "o.idempotency_key, o.inbox_id, "
        "i.received_at AS anchor_at FROM outbox o LEFT JOIN inbox i ON i.id = o.inbox_id "
        "WHERE o.resident_id = ? AND o.status != 'suppressed' ORDER BY o.id DESC LIMIT ?",
        [resident_id, limit],
    ):
        staff = row["idempotency_key"].startswith(STAFF_KEY_PREFIX)
        entry = {
            "who": "staff" if staff else "bot",
            "text": row["text"],
            "at": _jst(row["created_at"]),
            "kind": row["kind"],
            "status": row["status"],
            "channel": row["channel"],  # on sms the suggestions arrived as numbered lines
            "suggestions": json.loads(row["suggestions"] or "[]"),
        }
        if row["anchor_at"] is not None:
            key = (row["anchor_at"], row["inbox_id"], row["id"])
        else:  # from staff: after every message received up to then (same instant included)
            key = (row["created_at"], 1 << 62, row["id"])
        entries.append((key, entry))
    entries.sort(key=lambda item: item[0])
    return [entry for _, entry in entries[-limit:]]


def find_open(db: sqlite_utils.Database, ref: str) -> str | None:
    """The resident id of the one open conversation whose id starts with ref (None when
    unknown, ambiguous, already handed back, or not a reference at all)."""
    ref = ref.lower()
    if not 6 <= len(ref) <= 32 or not set(ref) <= _REF_CHARS:
        return None
    matches = [
        row["id"]
        for row in db.query(
            f"SELECT id FROM residents WHERE substr(id, 1, ?) = ? AND {_open_filter()} LIMIT 2",
            [len(ref), ref],
        )
    ]
    return matches[0] if len(matches) == 1 else None


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
