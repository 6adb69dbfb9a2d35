"""Conversations handed to staff, as `bot handoff list|return` shows and returns them.

Over the store's StaffDesk; none of it touches residents' numbers. The staff console
(bot/staff/) has its own view of the same cases (bot/staff/casework.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.base import StaffDesk
from bot.store.records import NewAuditEntry, StaffNote

REF_LENGTH = 10  # the reference staff see: the start of the resident id (a keyed hash)


def _stored(at: datetime) -> str:
    """The form `bot handoff list` has always printed (UTC, as stored)."""
    return at.isoformat(timespec="microseconds")


async def list_handoffs(desk: StaffDesk) -> list[dict[str, Any]]:
    """Residents in handoff, and unseen notes/messages of anyone (out-of-hours messages)."""
    residents, unseen = await desk.handoff_notes()
    notes: dict[str, list[StaffNote]] = {}
    for note in unseen:
        notes.setdefault(note.resident_id, []).append(note)
    return [
        {
            "resident_id": resident_id,
            "ref": resident_id[:REF_LENGTH],
            "handoff": resident_id in residents,
            "since": _stored(residents.get(resident_id) or notes[resident_id][0].created_at),
            "notes": [
                {"kind": n.kind, "text": n.text, "created_at": _stored(n.created_at)}
                for n in notes.get(resident_id, [])
            ],
        }
        for resident_id in sorted(set(residents) | set(notes))
    ]


async def return_handoff(desk: StaffDesk, ref: str, actor: str, now: datetime) -> str | None:
    """Hand back the resident whose id starts with ref (their notes marked seen), recorded
    in the audit log as done by `actor` in the same transaction: their id, or None when
    ref names no one resident."""
    if len(ref) < 6:
        return None
    resident_id = await desk.find_resident(ref)
    if resident_id is None:
        return None
    entry = NewAuditEntry(now, actor, "conversation.returned", resident_id, detail={"via": "cli"})
    await desk.hand_back(resident_id, audit=entry)
    return resident_id
