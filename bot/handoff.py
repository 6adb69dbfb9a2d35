"""Conversations handed to staff: list them, answer them and hand them back.

`bot handoff list|return` and the staff console (bot/staff.py) use these over the store's
StaffDesk; none of them touches residents' numbers. Times shown are Asia/Tokyo.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import TOKYO
from bot.pipeline.turns import LOCAL_PROVIDERS
from bot.store.base import StaffDesk
from bot.store.records import StaffNote, TranscriptLine

REF_LENGTH = 10  # the reference staff see: the start of the resident id (a keyed hash)
TRANSCRIPT_LIMIT = 20
_REF_CHARS = frozenset("0123456789abcdef")


def _jst(at: datetime | None) -> str | None:
    return at.astimezone(TOKYO).isoformat(timespec="seconds") if at else None


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


async def return_handoff(desk: StaffDesk, ref: str) -> bool:
    """Hand back the resident whose id starts with ref; marks their notes seen."""
    if len(ref) < 6:
        return False
    resident_id = await desk.find_resident(ref)
    if resident_id is None:
        return False
    await desk.hand_back(resident_id)
    return True


def _valid_ref(ref: str) -> str | None:
    ref = ref.lower()
    return ref if 6 <= len(ref) <= 32 and set(ref) <= _REF_CHARS else None


async def find_open(desk: StaffDesk, ref: str) -> str | None:
    """The resident id of the one open conversation whose id starts with ref (None when
    unknown, ambiguous, already handed back, or not a reference at all)."""
    valid = _valid_ref(ref)
    return await desk.find_open(valid) if valid else None


def _entry(line: TranscriptLine) -> dict[str, Any]:
    if line.who == "resident":
        return {"who": "resident", "text": line.text, "at": _jst(line.at)}
    return {
        "who": line.who,
        "text": line.text,
        "at": _jst(line.at),
        "kind": line.kind,
        "status": line.status,
        "channel": line.channel,  # on sms the suggestions arrived as numbered lines
        "suggestions": line.suggestions,
    }


def transcript(lines: list[TranscriptLine], limit: int = TRANSCRIPT_LIMIT) -> list[dict[str, Any]]:
    """The last `limit` texts between the resident and the city, oldest first.

    who: "resident" (inbox), "staff" (a staff reply) or "bot". A bot reply sorts right after
    the message it answers (their clock times can be equal); texts are as stored (redacted),
    replies carry their suggestions and channel so staff can see what the resident saw."""

    def key(line: TranscriptLine) -> tuple[datetime, int, int]:
        if line.who == "resident":
            return (line.at, line.id, 0)
        if line.anchor is not None:
            return (line.anchor[0], line.anchor[1], line.id)
        # from staff: after every message received up to then (same instant included)
        return (line.at, 1 << 62, line.id)

    return [_entry(line) for line in sorted(lines, key=key)[-limit:]]


async def open_conversations(
    desk: StaffDesk, limit: int = TRANSCRIPT_LIMIT
) -> list[dict[str, Any]]:
    """Residents in handoff and residents with unseen notes, oldest waiting first, each with
    its unseen notes and recent transcript. Times are Asia/Tokyo ISO 8601."""
    conversations = []
    for case in await desk.open_cases(limit):
        unseen = [{"kind": n.kind, "text": n.text, "at": _jst(n.created_at)} for n in case.notes]
        lines = transcript(case.transcript, limit)
        conversations.append(
            {
                "ref": case.resident_id[:REF_LENGTH],
                "handoff": case.handoff,
                # notes come oldest first: the handoff (or the first message) starts the wait
                "since": unseen[0]["at"] if unseen else _jst(case.last_seen_at),
                "last_at": lines[-1]["at"] if lines else _jst(case.last_seen_at),
                "unseen": len(unseen),
                "notes": unseen,
                "transcript": lines,
            }
        )
    conversations.sort(key=lambda c: (c["since"] or "", c["ref"]))
    return conversations


async def hand_back(
    desk: StaffDesk, resident_id: str, closing: str | None, now: datetime
) -> int | None:
    """The bot answers the resident again (notes marked seen), with staff's closing message
    queued in the same transaction when there is one. Returns its outbox id."""
    return await desk.hand_back(resident_id, closing, now, LOCAL_PROVIDERS)


async def queue_staff_reply(
    desk: StaffDesk, resident_id: str, text: str, now: datetime, take_over: bool = True
) -> int:
    """One outbox row from staff, on the resident's last provider/channel. With take_over
    the resident is put in handoff, so their answer reaches staff instead of the bot."""
    return await desk.staff_reply(resident_id, text, now, take_over, LOCAL_PROVIDERS)
