"""The staff console's queries: open cases, read marks, assignment, a resident's transcript
page by page, and finding a resident by booking or by hashed number.

A "case" is a resident in staff's hands: handed over (residents.handoff), with a message
staff have not dealt with (staff_notes.seen = 0), or opened by staff (staff_cases: a
lookup for a resident on the phone, or a notice answer marked urgent)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.queries import utc_text

STAFF_KEY_PREFIX = "staff-"  # outbox idempotency keys of staff replies (bot/handoff.py)
_AFTER_ALL = 1 << 62  # sorts a staff reply after every message received at the same instant


@dataclass(frozen=True)
class CaseRow:
    resident_id: str
    handoff: bool
    channel: str | None
    opened_by: str  # handoff (with a person now) | message (left for staff) | lookup | notice
    urgent: bool
    since: str  # UTC: the oldest thing waiting (or when the case was opened)
    last_at: str  # UTC: the latest note (or since)
    unread: int  # notes this person has not seen
    waiting: int  # notes nobody has dealt with yet
    assigned_id: int | None
    assigned_to: str | None


_OPEN_IDS = """
    SELECT id AS resident_id FROM residents WHERE handoff = 1
    UNION SELECT resident_id FROM staff_notes WHERE seen = 0
    UNION SELECT resident_id FROM staff_cases WHERE closed_at IS NULL
"""


def open_cases(db: sqlite_utils.Database, account_id: int) -> list[CaseRow]:
    """Every open case, urgent first, then the longest waiting."""
    rows = db.execute(
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
        LEFT JOIN (SELECT resident_id, min(created_at) AS first_at, max(created_at) AS last_at,
                          count(*) AS waiting
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
        since = first_note or opened_at or last_seen
        cases.append(
            CaseRow(
                resident_id=rid,
                handoff=bool(handoff),
                channel=channel,
                opened_by=opened_by,
                urgent=bool(urgent),
                since=since,
                last_at=last_note or since,
                unread=int(unread or 0),
                waiting=int(waiting or 0),
                assigned_id=assigned_id,
                assigned_to=assigned_name,
            )
        )
    cases.sort(key=lambda c: (not c.urgent, c.since, c.resident_id))
    return cases


def in_scope(db: sqlite_utils.Database, resident_id: str) -> bool:
    """Was this resident ever in staff's hands (handed over, left a message, or opened by
    staff)? Only such residents' data is shown in the console."""
    row = db.execute(
        "SELECT 1 FROM residents r WHERE r.id = ? AND (r.handoff = 1 "
        "OR EXISTS (SELECT 1 FROM staff_notes n WHERE n.resident_id = r.id) "
        "OR EXISTS (SELECT 1 FROM staff_cases c WHERE c.resident_id = r.id))",
        [resident_id],
    ).fetchone()
    return row is not None


def case_of(db: sqlite_utils.Database, resident_id: str) -> dict[str, Any] | None:
    """The open case row (assignment, urgency), or None."""
    row = db.execute(
        "SELECT c.opened_at, c.opened_by, c.urgent, c.assigned_to, a.name FROM staff_cases c "
        "LEFT JOIN staff_accounts a ON a.id = c.assigned_to "
        "WHERE c.resident_id = ? AND c.closed_at IS NULL",
        [resident_id],
    ).fetchone()
    if row is None:
        return None
    return {
        "opened_at": row[0],
        "opened_by": row[1],
        "urgent": bool(row[2]),
        "assigned_id": row[3],
        "assigned_to": row[4],
    }


def open_case(
    db: sqlite_utils.Database,
    resident_id: str,
    now: datetime,
    opened_by: str,
    urgent: bool = False,
) -> None:
    """Open (or reopen) the resident's case; an open one stays open and only gains urgency.
    The notices engineer's `ask` → handoff answers call this with urgent=True."""
    db.execute(
        "INSERT INTO staff_cases (resident_id, opened_at, opened_by, urgent) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(resident_id) DO UPDATE SET "
        "urgent = CASE WHEN closed_at IS NULL THEN max(urgent, excluded.urgent) "
        "ELSE excluded.urgent END, "
        "opened_at = CASE WHEN closed_at IS NULL THEN opened_at ELSE excluded.opened_at END, "
        "opened_by = CASE WHEN closed_at IS NULL THEN opened_by ELSE excluded.opened_by END, "
        "assigned_to = CASE WHEN closed_at IS NULL THEN assigned_to ELSE NULL END, "
        "closed_at = NULL",
        [resident_id, utc_text(now), opened_by, int(urgent)],
    )


def close_case(db: sqlite_utils.Database, resident_id: str, now: datetime) -> None:
    db.execute(
        "UPDATE staff_cases SET closed_at = ?, urgent = 0 WHERE resident_id = ? "
        "AND closed_at IS NULL",
        [utc_text(now), resident_id],
    )


def assign(
    db: sqlite_utils.Database, resident_id: str, account_id: int | None, now: datetime
) -> None:
    """Assign the open case (opening one for a handed-over resident without a row yet)."""
    if case_of(db, resident_id) is None:
        open_case(db, resident_id, now, "handoff")
    db.execute(
        "UPDATE staff_cases SET assigned_to = ? WHERE resident_id = ? AND closed_at IS NULL",
        [account_id, resident_id],
    )


def mark_read(db: sqlite_utils.Database, account_id: int, resident_id: str) -> None:
    """This person has now seen every note of the resident (the unread count clears)."""
    db.execute(
        "INSERT INTO staff_reads (account_id, resident_id, note_id) "
        "SELECT ?, ?, coalesce(max(id), 0) FROM staff_notes WHERE resident_id = ? "
        "ON CONFLICT(account_id, resident_id) DO UPDATE SET note_id = excluded.note_id",
        [account_id, resident_id, resident_id],
    )


def waiting_notes(db: sqlite_utils.Database, resident_id: str) -> list[dict[str, Any]]:
    """Notes nobody has dealt with yet (the handoff request, messages left), oldest first."""
    return [
        {"id": row[0], "kind": row[1], "text": row[2], "at": row[3]}
        for row in db.execute(
            "SELECT id, kind, text, created_at FROM staff_notes "
            "WHERE resident_id = ? AND seen = 0 ORDER BY id",
            [resident_id],
        ).fetchall()
    ]


def record_reply_author(db: sqlite_utils.Database, outbox_id: int, account_id: int) -> None:
    db.execute(
        "INSERT INTO staff_reply_authors (outbox_id, account_id) VALUES (?, ?)",
        [outbox_id, account_id],
    )


# ---- the transcript, page by page ------------------------------------------------------------

Cursor = tuple[str, int, int]

_TRANSCRIPT = f"""
    SELECT * FROM (
        SELECT 'resident' AS who, i.received_at AS k1, i.id AS k2, 0 AS k3, i.text AS text,
               i.channel AS channel, i.received_at AS at, 'message' AS kind, NULL AS status,
               '[]' AS suggestions, NULL AS author
        FROM inbox i WHERE i.resident_id = :rid AND i.kind = 'message'
        UNION ALL
        SELECT CASE WHEN substr(o.idempotency_key, 1, {len(STAFF_KEY_PREFIX)}) = '{STAFF_KEY_PREFIX}'
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


@dataclass(frozen=True)
class TranscriptPage:
    entries: list[dict[str, Any]]  # oldest first; "at" in UTC
    older: Cursor | None  # pass as `before` for the page before this one (None: no more)
    newest: Cursor | None  # pass as `after` to fetch what came since


def transcript_page(
    db: sqlite_utils.Database,
    resident_id: str,
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> TranscriptPage:
    """Up to `limit` texts between the resident and the city. Without a cursor: the latest;
    `before`: the ones before that point; `after`: the ones since that point (oldest first).

    A bot reply sorts right after the message it answers (their clock times can be equal);
    a staff reply after everything received up to its time."""
    params: dict[str, Any] = {"rid": resident_id, "n": limit + 1}
    if after is not None:
        where, order = "WHERE (k1, k2, k3) > (:c1, :c2, :c3)", "ASC"
        params.update(c1=after[0], c2=after[1], c3=after[2])
    elif before is not None:
        where, order = "WHERE (k1, k2, k3) < (:c1, :c2, :c3)", "DESC"
        params.update(c1=before[0], c2=before[1], c3=before[2])
    else:
        where, order = "", "DESC"
    rows = db.execute(
        f"{_TRANSCRIPT} {where} ORDER BY k1 {order}, k2 {order}, k3 {order} LIMIT :n", params
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    if order == "DESC":
        rows.reverse()
    entries = [
        {
            "who": row[0],
            "text": row[4],
            "channel": row[5],
            "at": row[6],
            "kind": row[7],
            "status": row[8],
            "suggestions": json.loads(row[9] or "[]"),
            "author": row[10],
        }
        for row in rows
    ]
    first = (rows[0][1], rows[0][2], rows[0][3]) if rows else None
    last = (rows[-1][1], rows[-1][2], rows[-1][3]) if rows else after
    # Going back in time, a full page may have more before it; going forward never.
    older = first if more and order == "DESC" else None
    return TranscriptPage(entries, older, last)


# ---- finding a resident --------------------------------------------------------------------


def resident_of_receipt(db: sqlite_utils.Database, receipt: str) -> str | None:
    row = db.execute("SELECT resident_id FROM bookings WHERE receipt = ?", [receipt]).fetchone()
    return row[0] if row else None


def known_residents(db: sqlite_utils.Database, resident_ids: list[str]) -> list[str]:
    if not resident_ids:
        return []
    marks = ",".join("?" for _ in resident_ids)
    return [
        row[0]
        for row in db.execute(
            f"SELECT id FROM residents WHERE id IN ({marks})", resident_ids
        ).fetchall()
    ]
