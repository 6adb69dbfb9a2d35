"""The staff console's cases in PostgreSQL (owner "console"), as bot.store.sqlite.console:
cases opened by staff or by a notice, assignment, what each person has read, who wrote each
staff reply, and a resident's transcript page by page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.postgres import staff
from bot.store.postgres.connection import Conn
from bot.store.postgres.migrations import MigrationSet
from bot.store.records import (
    STAFF_KEY_PREFIX,
    Case,
    CaseState,
    Cursor,
    StaffNote,
    TranscriptEntry,
    TranscriptPage,
)

MIGRATIONS = MigrationSet("console")
MIGRATIONS.ddl(
    "cases, read marks and reply authors",
    """
    CREATE TABLE staff_cases (
        resident_id text PRIMARY KEY,
        opened_at timestamptz NOT NULL,
        opened_by text NOT NULL,                   -- handoff | lookup | notice
        assigned_to bigint REFERENCES staff_accounts (id),
        urgent boolean NOT NULL DEFAULT false,
        closed_at timestamptz
    );
    CREATE TABLE staff_reads (
        account_id bigint NOT NULL REFERENCES staff_accounts (id),
        resident_id text NOT NULL,
        note_id bigint NOT NULL,                   -- the last note this person has seen
        PRIMARY KEY (account_id, resident_id)
    );
    CREATE TABLE staff_reply_authors (
        outbox_id bigint PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES staff_accounts (id)
    );
    """,
)

_AFTER_ALL = 1 << 62  # sorts a staff reply after every message received at the same instant

_OPEN_IDS = """
    SELECT id AS resident_id FROM residents WHERE handoff
    UNION SELECT resident_id FROM staff_notes WHERE NOT seen
    UNION SELECT resident_id FROM staff_cases WHERE closed_at IS NULL
"""

_TRANSCRIPT = f"""
    SELECT * FROM (
        SELECT 'resident' AS who, i.received_at AS k1, i.id AS k2, 0::bigint AS k3,
               i.text AS text, i.channel AS channel, i.received_at AS at, 'message' AS kind,
               NULL::text AS status, '[]'::json AS suggestions, NULL::text AS author
        FROM inbox i WHERE i.resident_id = %(rid)s AND i.kind = 'message'
        UNION ALL
        SELECT CASE WHEN left(o.idempotency_key, {len(STAFF_KEY_PREFIX)}) = '{STAFF_KEY_PREFIX}'
                    THEN 'staff' ELSE 'bot' END,
               coalesce(i.received_at, o.created_at), coalesce(o.inbox_id, {_AFTER_ALL}), o.id,
               o.text, o.channel, o.created_at, o.kind, o.status, o.suggestions, a.name
        FROM outbox o
        LEFT JOIN inbox i ON i.id = o.inbox_id
        LEFT JOIN staff_reply_authors sra ON sra.outbox_id = o.id
        LEFT JOIN staff_accounts a ON a.id = sra.account_id
        WHERE o.resident_id = %(rid)s AND o.status != 'suppressed'
    ) t
"""


class PostgresCases:
    """bot.store.console.Cases on one connection, inside its current transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def open_cases(self, account_id: int) -> list[Case]:
        rows = self.conn.execute(
            f"""
            SELECT r.id, r.handoff, r.last_channel, r.last_seen_at,
                   c.opened_at, c.opened_by, coalesce(c.urgent, false) AS urgent,
                   c.assigned_to, a.name, n.first_at, n.last_at, n.waiting,
                   (SELECT count(*) FROM staff_notes u WHERE u.resident_id = r.id
                      AND NOT u.seen AND u.id > coalesce(rd.note_id, 0)) AS unread
            FROM ({_OPEN_IDS}) o
            JOIN residents r ON r.id = o.resident_id
            LEFT JOIN staff_cases c ON c.resident_id = r.id AND c.closed_at IS NULL
            LEFT JOIN staff_accounts a ON a.id = c.assigned_to
            LEFT JOIN staff_reads rd ON rd.resident_id = r.id AND rd.account_id = %s
            LEFT JOIN (SELECT resident_id, min(created_at) AS first_at,
                              max(created_at) AS last_at, count(*) AS waiting
                       FROM staff_notes WHERE NOT seen GROUP BY resident_id) n
                   ON n.resident_id = r.id
            """,
            [account_id],
        ).fetchall()
        cases = []
        for row in rows:
            opened_by = row["opened_by"]
            # What brought the resident here, most pressing first.
            if row["handoff"]:
                opened_by = "handoff"
            elif row["waiting"]:
                opened_by = "message"
            since = row["first_at"] or row["opened_at"] or row["last_seen_at"]
            cases.append(
                Case(
                    resident_id=row["id"],
                    handoff=bool(row["handoff"]),
                    channel=row["last_channel"],
                    opened_by=opened_by,
                    urgent=bool(row["urgent"]),
                    since=since,
                    last_at=row["last_at"] or since,
                    unread=int(row["unread"] or 0),
                    waiting=int(row["waiting"] or 0),
                    assigned_id=row["assigned_to"],
                    assigned_to=row["name"],
                )
            )
        cases.sort(key=lambda c: (not c.urgent, c.since, c.resident_id))
        return cases

    def in_scope(self, resident_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM residents r WHERE r.id = %s AND (r.handoff "
            "OR EXISTS (SELECT 1 FROM staff_notes n WHERE n.resident_id = r.id) "
            "OR EXISTS (SELECT 1 FROM staff_cases c WHERE c.resident_id = r.id))",
            [resident_id],
        ).fetchone()
        return row is not None

    def case_of(self, resident_id: str) -> CaseState | None:
        row = self.conn.execute(
            "SELECT c.opened_at, c.opened_by, c.urgent, c.assigned_to, a.name "
            "FROM staff_cases c LEFT JOIN staff_accounts a ON a.id = c.assigned_to "
            "WHERE c.resident_id = %s AND c.closed_at IS NULL",
            [resident_id],
        ).fetchone()
        if row is None:
            return None
        return CaseState(
            opened_at=row["opened_at"],
            opened_by=row["opened_by"],
            urgent=bool(row["urgent"]),
            assigned_id=row["assigned_to"],
            assigned_to=row["name"],
        )

    def open(self, resident_id: str, now: datetime, opened_by: str, urgent: bool = False) -> None:
        self.conn.execute(
            "INSERT INTO staff_cases AS c (resident_id, opened_at, opened_by, urgent) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (resident_id) DO UPDATE SET "
            "urgent = CASE WHEN c.closed_at IS NULL THEN c.urgent OR excluded.urgent "
            "ELSE excluded.urgent END, "
            "opened_at = CASE WHEN c.closed_at IS NULL THEN c.opened_at "
            "ELSE excluded.opened_at END, "
            "opened_by = CASE WHEN c.closed_at IS NULL THEN c.opened_by "
            "ELSE excluded.opened_by END, "
            "assigned_to = CASE WHEN c.closed_at IS NULL THEN c.assigned_to ELSE NULL END, "
            "closed_at = NULL",
            [resident_id, now, opened_by, urgent],
        )

    def close(self, resident_id: str, now: datetime) -> None:
        self.conn.execute(
            "UPDATE staff_cases SET closed_at = %s, urgent = false WHERE resident_id = %s "
            "AND closed_at IS NULL",
            [now, resident_id],
        )

    def assign(self, resident_id: str, account_id: int | None, now: datetime) -> None:
        if self.case_of(resident_id) is None:
            self.open(resident_id, now, "handoff")
        self.conn.execute(
            "UPDATE staff_cases SET assigned_to = %s WHERE resident_id = %s AND closed_at IS NULL",
            [account_id, resident_id],
        )

    def mark_read(self, account_id: int, resident_id: str) -> None:
        self.conn.execute(
            "INSERT INTO staff_reads (account_id, resident_id, note_id) "
            "SELECT %s, %s, coalesce(max(id), 0) FROM staff_notes WHERE resident_id = %s "
            "ON CONFLICT (account_id, resident_id) DO UPDATE SET note_id = excluded.note_id",
            [account_id, resident_id, resident_id],
        )

    def waiting_notes(self, resident_id: str) -> list[StaffNote]:
        return staff.waiting_notes(self.conn, resident_id)

    def record_author(self, outbox_id: int, account_id: int) -> None:
        self.conn.execute(
            "INSERT INTO staff_reply_authors (outbox_id, account_id) VALUES (%s, %s)",
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
            where, order = "WHERE (k1, k2, k3) > (%(c1)s, %(c2)s, %(c3)s)", "ASC"
            params.update(c1=after[0], c2=after[1], c3=after[2])
        elif before is not None:
            where, order = "WHERE (k1, k2, k3) < (%(c1)s, %(c2)s, %(c3)s)", "DESC"
            params.update(c1=before[0], c2=before[1], c3=before[2])
        else:
            where, order = "", "DESC"
        sql = f"{_TRANSCRIPT} {where} ORDER BY k1 {order}, k2 {order}, k3 {order} LIMIT %(n)s"
        rows = self.conn.execute(sql.encode(), params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        if order == "DESC":
            rows.reverse()
        entries = [
            TranscriptEntry(
                who=row["who"],
                text=row["text"],
                channel=row["channel"],
                at=row["at"],
                kind=row["kind"],
                status=row["status"],
                suggestions=row["suggestions"] or [],
                author=row["author"],
            )
            for row in rows
        ]

        def cursor(row: dict[str, Any]) -> Cursor:
            return (row["k1"], int(row["k2"]), int(row["k3"]))

        last = cursor(rows[-1]) if rows else after
        # Going back in time, a full page may have more before it; going forward never.
        older = cursor(rows[0]) if more and order == "DESC" else None
        return TranscriptPage(entries, older, last)
