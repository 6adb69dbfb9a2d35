"""The staff desk's tables in SQLite (owner "staff"): notes for staff (handoffs, messages
left out of hours) and the queries on them behind the staff console and `bot handoff`.

Residents' numbers are never read here: staff see a reference (the start of the keyed hash).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.records import StaffNote
from bot.store.sqlite.migrations import MigrationSet

MIGRATIONS = MigrationSet("staff")


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


@MIGRATIONS.step("staff notes by resident")
def _notes_by_resident(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX staff_notes_by_resident ON staff_notes (resident_id, id)")


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def add_note(db: sqlite_utils.Database, resident_id: str, kind: str, text: str, stamp: str) -> None:
    db.execute(
        "INSERT INTO staff_notes (resident_id, kind, text, created_at) VALUES (?, ?, ?, ?)",
        [resident_id, kind, text, stamp],
    )


def _note(row: dict[str, Any]) -> StaffNote:
    return StaffNote(
        row["resident_id"], row["kind"], row["text"], _at(row["created_at"]), id=row["id"]
    )


def unseen_notes(db: sqlite_utils.Database) -> list[StaffNote]:
    return [
        _note(row)
        for row in db.query(
            "SELECT id, resident_id, kind, text, created_at FROM staff_notes WHERE seen = 0 "
            "ORDER BY id"
        )
    ]


def waiting_notes(db: sqlite_utils.Database, resident_id: str) -> list[StaffNote]:
    """One resident's notes nobody has dealt with yet, oldest first."""
    return [
        _note(row)
        for row in db.query(
            "SELECT id, resident_id, kind, text, created_at FROM staff_notes "
            "WHERE resident_id = ? AND seen = 0 ORDER BY id",
            [resident_id],
        )
    ]


def in_handoff_since(db: sqlite_utils.Database) -> dict[str, datetime]:
    return {
        row["id"]: _at(row["last_seen_at"])
        for row in db.query("SELECT id, last_seen_at FROM residents WHERE handoff = 1")
    }


def find_resident(db: sqlite_utils.Database, ref: str) -> str | None:
    """The one resident whose id starts with `ref` (None: nobody, or several)."""
    matches = [
        row["id"]
        for row in db.query(
            "SELECT id FROM residents WHERE substr(id, 1, ?) = ? LIMIT 2", [len(ref), ref]
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
