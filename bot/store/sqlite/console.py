"""The staff console's cases in SQLite (owner "console"): cases opened by staff or by a
notice, assignment, what each person has read, who wrote each staff reply, and a
resident's transcript page by page. The console's `Cases`, inside the caller's transaction.

A "case" is a resident in staff's hands: handed over (residents.handoff), with a message
staff have not dealt with (staff_notes.seen = 0), or opened by staff (staff_cases: a
lookup for a resident on the phone, or a notice answer marked urgent)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.records import (
    STAFF_KEY_PREFIX,
    Case,
    CaseState,
    Cursor,
    StaffNote,
    TranscriptEntry,
    TranscriptPage,
)
from bot.store.sqlite import staff
from bot.store.sqlite.migrations import MigrationSet, run_script
from bot.store.sqlite.pipeline import from_utc_text, utc_text

MIGRATIONS = MigrationSet("console")

_AFTER_ALL = 1 << 62  # sorts a staff reply after every message received at the same instant


@MIGRATIONS.step("cases, read marks and reply authors")
def _cases(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE staff_cases (
            resident_id TEXT PRIMARY KEY,
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,                   -- handoff | lookup | notice
            assigned_to INTEGER REFERENCES staff_accounts (id),
            urgent INTEGER NOT NULL DEFAULT 0,
            closed_at TEXT
        );
        CREATE TABLE staff_reads (
            account_id INTEGER NOT NULL REFERENCES staff_accounts (id),
            resident_id TEXT NOT NULL,
            note_id INTEGER NOT NULL,                  -- the last note this person has seen
            PRIMARY KEY (account_id, resident_id)
        );
        CREATE TABLE staff_reply_authors (
            outbox_id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES staff_accounts (id)
        )
        """,
    )


_OPEN_IDS = """
    SELECT id AS resident_id FROM residents WHERE handoff = 1
    UNION SELECT resident_id FROM staff_notes WHERE seen = 0
    UNION SELECT resident_id FROM staff_cases WHERE closed_at IS NULL
"""

_PREFIX = STAFF_KEY_PREFIX
_TRANSCRIPT = f"""
    SELECT * FROM (
        SELECT 'resident' AS who, i.received_at AS k1, i.id AS k2, 0 AS k3, i.text AS text,
               i.channel AS channel, i.received_at AS at, 'message' AS kind, NULL AS status,
               '[]' AS suggestions, NULL AS author
        FROM inbox i WHERE i.resident_id = :rid AND i.kind = 'message'
        UNION ALL
        SELECT CASE WHEN substr(o.idempotency_key, 1, {len(_PREFIX)}) = '{_PREFIX}'
                    THEN 'staff' ELSE 'bot' END,
               coalesce(i.received_at, o.created_at), coalesce(o.inbox_id, {_AFTER_ALL}), o.id,
               o.text, o.channel, o.created_at, o.kind, o.status, o.suggestions, a.name
        FROM outbox o
        LEFT JOIN inbox i ON i.id = o.inbox_id
        LEFT JOIN staff_reply_authors sra ON sra.outbox_id = o.id
        LEFT JOIN staff_accounts a ON a.id = sra.account_id
        WHERE o.resident_id = :rid AND o.status != 'suppressed'
    )
"""


class SqliteCases:
    """bot.store.base.Cases on one connection, inside its current transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def open_cases(self, account_id: int) -> list[Case]:
        rows = self.db.execute(
            f"""
            SELECT r.id, r.handoff, r.last_channel, r.last_seen_at,
                   c.opened_at, c.opened_by, coalesce(c.urgent, 0), c.assigned_to, a.name,
                   n.first_at, n.last_at, n.waiting,
                   (SELECT count(*) FROM staff_notes u WHERE u.resident_id = r.id AND u.seen = 0
                      AND u.id > coalesce(rd.note_id, 0)) AS unread
            FROM ({_OPEN_IDS}) o
            JOIN residents r ON r.id = o.resident_id
            LEFT JOIN staff_cases c ON c.resident_id = r.id AND c.closed_at IS NULL
            LEFT JOIN staff_accounts a ON a.id = c.assigned_to
            LEFT JOIN staff_reads rd ON rd.resident_id = r.id AND rd.account_id = ?
            LEFT JOIN (SELECT resident_id, min(created_at) AS first_at,
                              max(created_at) AS last_at, count(*) AS waiting
                       FROM staff_notes WHERE seen = 0 GROUP BY resident_id) n
                   ON n.resident_id = r.id
            """,
            [account_id],
        ).fetchall()
        cases = []
        for row in rows:
            (rid, handoff, channel, last_seen, opened_at, opened_by, urgent, assigned_id) = row[:8]
            (assigned_name, first_note, last_note, waiting, unread) = row[8:]
            # What brought the resident here, most pressing first.
            if handoff:
                opened_by = "handoff"
            elif waiting:
                opened_by = "message"
            since = from_utc_text(first_note or opened_at or last_seen)
            cases.append(
                Case(
                    resident_id=rid,
                    handoff=bool(handoff),
                    channel=channel,
                    opened_by=opened_by,
                    urgent=bool(urgent),
                    since=since,
                    last_at=from_utc_text(last_note) if last_note else since,
                    unread=int(unread or 0),
                    waiting=int(waiting or 0),
                    assigned_id=assigned_id,
                    assigned_to=assigned_name,
                )
            )
        cases.sort(key=lambda c: (not c.urgent, c.since, c.resident_id))
        return cases

    def in_scope(self, resident_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM residents r WHERE r.id = ? AND (r.handoff = 1 "
            "OR EXISTS (SELECT 1 FROM staff_notes n WHERE n.resident_id = r.id) "
            "OR EXISTS (SELECT 1 FROM staff_cases c WHERE c.resident_id = r.id))",
            [resident_id],
        ).fetchone()
        return row is not None

    def case_of(self, resident_id: str) -> CaseState | None:
        row = self.db.execute(
            "SELECT c.opened_at, c.opened_by, c.urgent, c.assigned_to, a.name FROM staff_cases c "
            "LEFT JOIN staff_accounts a ON a.id = c.assigned_to "
            "WHERE c.resident_id = ? AND c.closed_at IS NULL",
            [resident_id],
        ).fetchone()
        if row is None:
            return None
        return CaseState(
            opened_at=from_utc_text(row[0]),
            opened_by=row[1],
            urgent=bool(row[2]),
            assigned_id=row[3],
            assigned_to=row[4],
        )

    def open(self, resident_id: str, now: datetime, opened_by: str, urgent: bool = False) -> None:
        self.db.execute(
            "INSERT INTO staff_cases (resident_id, opened_at, opened_by, urgent) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(resident_id) DO UPDATE SET "
            "urgent = CASE WHEN closed_at IS NULL THEN max(urgent, excluded.urgent) "
            "ELSE excluded.urgent END, "
            "opened_at = CASE WHEN closed_at IS NULL THEN opened_at ELSE excluded.opened_at END, "
            "opened_by = CASE WHEN closed_at IS NULL THEN opened_by ELSE excluded.opened_by END, "
            "assigned_to = CASE WHEN closed_at IS NULL THEN assigned_to ELSE NULL END, "
            "closed_at = NULL",
            [resident_id, utc_text(now), opened_by, int(urgent)],
        )

    def close(self, resident_id: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_cases SET closed_at = ?, urgent = 0 WHERE resident_id = ? "
            "AND closed_at IS NULL",
            [utc_text(now), resident_id],
        )

    def assign(self, resident_id: str, account_id: int | None, now: datetime) -> None:
        if self.case_of(resident_id) is None:
            self.open(resident_id, now, "handoff")
        self.db.execute(
            "UPDATE staff_cases SET assigned_to = ? WHERE resident_id = ? AND closed_at IS NULL",
            [account_id, resident_id],
        )

    def mark_read(self, account_id: int, resident_id: str) -> None:
        self.db.execute(
            "INSERT INTO staff_reads (account_id, resident_id, note_id) "
            "SELECT ?, ?, coalesce(max(id), 0) FROM staff_notes WHERE resident_id = ? "
            "ON CONFLICT(account_id, resident_id) DO UPDATE SET note_id = excluded.note_id",
            [account_id, resident_id, resident_id],
        )

    def waiting_notes(self, resident_id: str) -> list[StaffNote]:
        return staff.waiting_notes(self.db, resident_id)

    def record_author(self, outbox_id: int, account_id: int) -> None:
        self.db.execute(
            "INSERT INTO staff_reply_authors (outbox_id, account_id) VALUES (?, ?)",
            [outbox_id, account_id],
        )

    def transcript(
        self,
        resident_id: str,
        limit: int,
        before: Cursor | None = None,
        after: Cursor | None = None,
    ) -> TranscriptPage:
        params: dict[str, Any] = {"rid": resident_id, "n": limit + 1}
        if after is not None:
            where, order = "WHERE (k1, k2, k3) > (:c1, :c2, :c3)", "ASC"
            params.update(c1=utc_text(after[0]), c2=after[1], c3=after[2])
        elif before is not None:
            where, order = "WHERE (k1, k2, k3) < (:c1, :c2, :c3)", "DESC"
            params.update(c1=utc_text(before[0]), c2=before[1], c3=before[2])
        else:
            where, order = "", "DESC"
        rows = self.db.execute(
            f"{_TRANSCRIPT} {where} ORDER BY k1 {order}, k2 {order}, k3 {order} LIMIT :n", params
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        if order == "DESC":
            rows.reverse()
        entries = [
            TranscriptEntry(
                who=row[0],
                text=row[4],
                channel=row[5],
                at=from_utc_text(row[6]),
                kind=row[7],
                status=row[8],
                suggestions=json.loads(row[9] or "[]"),
                author=row[10],
            )
            for row in rows
        ]

        def cursor(row: Any) -> Cursor:
            return (from_utc_text(row[1]), int(row[2]), int(row[3]))

        last = cursor(rows[-1]) if rows else after
        # Going back in time, a full page may have more before it; going forward never.
        older = cursor(rows[0]) if more and order == "DESC" else None
        return TranscriptPage(entries, older, last)
