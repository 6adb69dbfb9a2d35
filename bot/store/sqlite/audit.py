"""The audit log in SQLite (owner "audit"): entries appended after the head, read in
order, searched. Any owner records an entry in its own transaction with `append(db,
sealer, entry)` on the same connection (docs/architecture.md, "The audit log").

The table refuses UPDATE and DELETE (triggers below); the chain of MACs the sealer makes
(bot.audit.AuditChain) is what proves nothing was changed behind those triggers' back.
SQLite has one writer at a time (every write transaction begins IMMEDIATE), so reading the
last entry and appending after it cannot interleave with another appender."""

from __future__ import annotations

from dataclasses import astuple

import sqlite_utils

from bot.store.base import AuditSealer
from bot.store.records import AuditFilter, AuditHead, AuditRow, NewAuditEntry
from bot.store.sqlite.migrations import MigrationSet, run_script
from bot.store.sqlite.pipeline import utc_text

MIGRATIONS = MigrationSet("audit")


@MIGRATIONS.step("audit log (hash chain)")
def _audit(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,                          -- UTC ISO 8601
            actor TEXT NOT NULL,                       -- account name, or cli:<os user>
            action TEXT NOT NULL,
            resident_id TEXT,                          -- internal id, never the number
            subject TEXT,
            detail TEXT NOT NULL DEFAULT '{}',
            prev_mac TEXT NOT NULL,
            mac TEXT NOT NULL
        );
        CREATE INDEX audit_by_resident ON audit_log (resident_id, seq);
        CREATE INDEX audit_by_actor ON audit_log (actor, seq);
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            mac TEXT NOT NULL
        )
        """,
    )
    # A trigger's body holds `;`: one statement each. They stop the application (and a
    # careless hand) from changing the log; the MAC chain catches anyone who drops them.
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


_COLUMNS = "seq, at, actor, action, resident_id, subject, detail, prev_mac, mac"


def _last(db: sqlite_utils.Database) -> AuditRow | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return AuditRow(*row) if row else None


def append(db: sqlite_utils.Database, sealer: AuditSealer | None, entry: NewAuditEntry) -> AuditRow:
    """Link `entry` after the last one and move the head to it, in the caller's
    transaction (so it commits with the action it records, or not at all)."""
    if sealer is None:
        raise RuntimeError("this store was opened without the audit key (open_store(audit=…))")
    row = sealer.link(entry, _last(db))
    db.execute(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", astuple(row)
    )
    db.execute(
        "INSERT INTO audit_head (id, seq, mac) VALUES (1, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac",
        [row.seq, sealer.seal(row)],
    )
    return row


class SqliteAuditLog:
    """bot.store.base.AuditLog on one connection, inside its current transaction."""

    def __init__(self, db: sqlite_utils.Database, sealer: AuditSealer | None) -> None:
        self.db = db
        self.sealer = sealer

    def append(self, entry: NewAuditEntry) -> AuditRow:
        return append(self.db, self.sealer, entry)

    def head(self) -> AuditHead | None:
        row = self.db.execute("SELECT seq, mac FROM audit_head WHERE id = 1").fetchone()
        return AuditHead(int(row[0]), row[1]) if row else None

    def entries(self, after_seq: int, limit: int) -> list[AuditRow]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
            [after_seq, limit],
        ).fetchall()
        return [AuditRow(*row) for row in rows]

    def search(self, where: AuditFilter, before_seq: int | None, limit: int) -> list[AuditRow]:
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        if where.actor:
            clauses.append("actor = ?")
            params.append(where.actor)
        if where.action:
            clauses.append("substr(action, 1, ?) = ?")
            params += [len(where.action), where.action]
        if where.resident_id:
            clauses.append("resident_id = ?")
            params.append(where.resident_id)
        # `at` is UTC text of one form (the sealer's): text order is time order.
        if where.since:
            clauses.append("at >= ?")
            params.append(utc_text(where.since))
        if where.until:
            clauses.append("at < ?")
            params.append(utc_text(where.until))
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(clauses)} "
            "ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [AuditRow(*row) for row in rows]
