"""The staff desk's tables in SQLite (owner "staff"): notes for staff (handoffs, messages
left out of hours) and the queries behind the staff console and `bot handoff`.

Residents' numbers are never read here: staff see a reference (the start of the keyed hash).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.records import OpenCase, StaffNote, TranscriptLine
from bot.store.sqlite.migrations import MigrationSet

MIGRATIONS = MigrationSet("staff")

STAFF_KEY_PREFIX = "staff-"  # outbox idempotency keys of staff replies (author = staff)


@MIGRATIONS.step("staff notes")
def _staff_notes(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE staff_notes (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            kind TEXT NOT NULL,                      -- handoff | message | note
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            seen INTEGER NOT NULL DEFAULT 0
        )
        """
    )


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def add_note(db: sqlite_utils.Database, resident_id: str, kind: str, text: str, stamp: str) -> None:
    db.execute(
        "INSERT INTO staff_notes (resident_id, kind, text, created_at) VALUES (?, ?, ?, ?)",
        [resident_id, kind, text, stamp],
    )


def unseen_notes(db: sqlite_utils.Database) -> list[StaffNote]:
    return [
        StaffNote(row["resident_id"], row["kind"], row["text"], _at(row["created_at"]))
        for row in db.query(
            "SELECT resident_id, kind, text, created_at FROM staff_notes WHERE seen = 0 ORDER BY id"
        )
    ]


def in_handoff_since(db: sqlite_utils.Database) -> dict[str, datetime]:
    return {
        row["id"]: _at(row["last_seen_at"])
        for row in db.query("SELECT id, last_seen_at FROM residents WHERE handoff = 1")
    }


_OPEN = "(handoff = 1 OR id IN (SELECT resident_id FROM staff_notes WHERE seen = 0))"


def open_cases(db: sqlite_utils.Database, limit: int) -> list[OpenCase]:
    notes: dict[str, list[StaffNote]] = {}
    for note in unseen_notes(db):
        notes.setdefault(note.resident_id, []).append(note)
    return [
        OpenCase(
            resident_id=row["id"],
            handoff=bool(row["handoff"]),
            last_seen_at=_at(row["last_seen_at"]),
            notes=notes.get(row["id"], []),
            transcript=transcript(db, row["id"], limit),
        )
        for row in db.query(f"SELECT id, handoff, last_seen_at FROM residents WHERE {_OPEN}")
    ]


def transcript(db: sqlite_utils.Database, resident_id: str, limit: int) -> list[TranscriptLine]:
    """The last `limit` messages each way (the caller merges and cuts them)."""
    lines = [
        TranscriptLine(id=row["id"], who="resident", text=row["text"], at=_at(row["received_at"]))
        for row in db.query(
            "SELECT id, text, received_at FROM inbox WHERE resident_id = ? AND kind = 'message' "
            "ORDER BY id DESC LIMIT ?",
            [resident_id, limit],
        )
    ]
    for row in db.query(
        "SELECT o.id, o.text, o.suggestions, o.channel, o.kind, o.status, o.created_at, "
        "o.idempotency_key, o.inbox_id, "
        "i.received_at AS anchor_at FROM outbox o LEFT JOIN inbox i ON i.id = o.inbox_id "
        "WHERE o.resident_id = ? AND o.status != 'suppressed' ORDER BY o.id DESC LIMIT ?",
        [resident_id, limit],
    ):
        staff = row["idempotency_key"].startswith(STAFF_KEY_PREFIX)
        anchor = (_at(row["anchor_at"]), row["inbox_id"]) if row["anchor_at"] else None
        lines.append(
            TranscriptLine(
                id=row["id"],
                who="staff" if staff else "bot",
                text=row["text"],
                at=_at(row["created_at"]),
                anchor=anchor,
                kind=row["kind"],
                status=row["status"],
                channel=row["channel"],
                suggestions=json.loads(row["suggestions"] or "[]"),
            )
        )
    return lines


def find_resident(db: sqlite_utils.Database, ref: str, open_only: bool) -> str | None:
    where = f" AND {_OPEN}" if open_only else ""
    matches = [
        row["id"]
        for row in db.query(
            f"SELECT id FROM residents WHERE substr(id, 1, ?) = ?{where} LIMIT 2",
            [len(ref), ref],
        )
    ]
    return matches[0] if len(matches) == 1 else None


def last_route(db: sqlite_utils.Database, resident_id: str) -> tuple[str | None, str | None]:
    found = db.execute(
        "SELECT last_provider, last_channel FROM residents WHERE id = ?", [resident_id]
    ).fetchone()
    return (found[0], found[1]) if found else (None, None)


def set_handoff(db: sqlite_utils.Database, resident_id: str, on: bool) -> None:
    db.execute("UPDATE residents SET handoff = ? WHERE id = ?", [int(on), resident_id])


def in_handoff(db: sqlite_utils.Database, resident_id: str) -> bool:
    found = db.execute("SELECT handoff FROM residents WHERE id = ?", [resident_id]).fetchone()
    return bool(found and found[0])


def mark_seen(db: sqlite_utils.Database, resident_id: str) -> None:
    db.execute("UPDATE staff_notes SET seen = 1 WHERE resident_id = ?", [resident_id])


def purge_old(db: sqlite_utils.Database, cutoff: str) -> dict[str, Any]:
    return {
        "staff_notes": db.execute(
            "DELETE FROM staff_notes WHERE seen = 1 AND created_at < ?", [cutoff]
        ).rowcount
    }
