"""Conversations handed to staff: list them and hand them back (until a staff console exists)."""

from __future__ import annotations

from typing import Any

import sqlite_utils


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
            "ref": resident_id[:10],
            "handoff": resident_id in residents,
            "since": residents.get(resident_id) or notes[resident_id][0]["created_at"],
            "notes": notes.get(resident_id, []),
        }
        for resident_id in refs
    ]


def return_handoff(db: sqlite_utils.Database, ref: str) -> bool:
    """Hand back the resident whose id starts with ref; marks their notes seen."""
    if len(ref) < 6:
        return False
    matches = [
        row["id"] for row in db.query("SELECT id FROM residents WHERE id LIKE ?", [ref + "%"])
    ]
    if len(matches) != 1:
        return False
    with db.atomic():
        db.execute("UPDATE residents SET handoff = 0 WHERE id = ?", [matches[0]])
        db.execute("UPDATE staff_notes SET seen = 1 WHERE resident_id = ?", [matches[0]])
    return True
