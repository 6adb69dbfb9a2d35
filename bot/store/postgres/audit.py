"""The audit log in PostgreSQL (owner "audit"), as bot.store.sqlite.audit: entries appended
after the head, read in order, searched. Any owner records an entry in its own transaction
with `append(conn, sealer, entry)` on the same connection.

Many processes append: every appender takes one transaction-scoped advisory lock before it
reads the last entry, and holds it to commit, so two cannot link after the same entry
(docs/architecture.md, "The audit log"). `seq` is the sealer's (no identity: a rolled-back
transaction must not leave a gap), `at` and `detail` are stored as the texts the MAC covers,
and triggers refuse UPDATE and DELETE."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime
from typing import Any

from bot.store.base import AuditSealer
from bot.store.postgres.connection import Conn
from bot.store.postgres.migrations import MigrationSet
from bot.store.records import AuditFilter, AuditHead, AuditRow, NewAuditEntry

MIGRATIONS = MigrationSet("audit")
MIGRATIONS.ddl(
    "audit log (hash chain)",
    """
    CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        at text COLLATE "C" NOT NULL,              -- UTC ISO 8601, as the sealer wrote it
        actor text NOT NULL,                       -- account name, or cli:<os user>
        action text NOT NULL,
        resident_id text,                          -- internal id, never the number
        subject text,
        detail text NOT NULL DEFAULT '{}',         -- canonical JSON, as the sealer wrote it
        prev_mac text NOT NULL,
        mac text NOT NULL
    );
    CREATE INDEX audit_by_resident ON audit_log (resident_id, seq);
    CREATE INDEX audit_by_actor ON audit_log (actor, seq);
    CREATE TABLE audit_head (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        mac text NOT NULL
    );
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only';
    END $$;
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    """,
)

APPEND_LOCK = 7_410_040
_COLUMNS = "seq, at, actor, action, resident_id, subject, detail, prev_mac, mac"


def _utc_text(instant: datetime) -> str:
    """The sealer's form of a time (UTC, microseconds): text order is time order."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _row(row: dict[str, Any]) -> AuditRow:
    return AuditRow(
        int(row["seq"]),
        row["at"],
        row["actor"],
        row["action"],
        row["resident_id"],
        row["subject"],
        row["detail"],
        row["prev_mac"],
        row["mac"],
    )


def append(conn: Conn, sealer: AuditSealer | None, entry: NewAuditEntry) -> AuditRow:
    """Link `entry` after the last one and move the head to it, in the caller's
    transaction (so it commits with the action it records, or not at all)."""
    if sealer is None:
        raise RuntimeError("this store was opened without the audit key (open_store(audit=…))")
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
    last = conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    row = sealer.link(entry, _row(last) if last else None)
    with conn.pipeline():
        conn.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            list(astuple(row)),
        )
        conn.execute(
            "INSERT INTO audit_head (id, seq, mac) VALUES (1, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac",
            [row.seq, sealer.seal(row)],
        )
    return row


class PostgresAuditLog:
    """bot.store.console.AuditLog on one connection, inside its current transaction."""

    def __init__(self, conn: Conn, sealer: AuditSealer | None) -> None:
        self.conn = conn
        self.sealer = sealer

    def append(self, entry: NewAuditEntry) -> AuditRow:
        return append(self.conn, self.sealer, entry)

    def head(self) -> AuditHead | None:
        row = self.conn.execute("SELECT seq, mac FROM audit_head WHERE id = 1").fetchone()
        return AuditHead(int(row["seq"]), row["mac"]) if row else None

    def entries(self, after_seq: int, limit: int) -> list[AuditRow]:
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq LIMIT %s",
            [after_seq, limit],
        ).fetchall()
        return [_row(row) for row in rows]

    def search(self, where: AuditFilter, before_seq: int | None, limit: int) -> list[AuditRow]:
        clauses: list[str] = ["true"]
        params: list[object] = []
        if where.actor:
            clauses.append("actor = %s")
            params.append(where.actor)
        if where.action:
            clauses.append("left(action, %s) = %s")
            params += [len(where.action), where.action]
        if where.resident_id:
            clauses.append("resident_id = %s")
            params.append(where.resident_id)
        # `at` is UTC text of one form (the sealer's): text order is time order.
        if where.since:
            clauses.append("at >= %s")
            params.append(_utc_text(where.since))
        if where.until:
            clauses.append("at < %s")
            params.append(_utc_text(where.until))
        if before_seq is not None:
            clauses.append("seq < %s")
            params.append(before_seq)
        sql = (
            f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(clauses)} "
            "ORDER BY seq DESC LIMIT %s"
        )
        rows = self.conn.execute(sql.encode(), [*params, limit]).fetchall()
        return [_row(row) for row in rows]
