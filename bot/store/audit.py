"""The audit log's SQL: append one entry after the head, read entries in order, query.

The table refuses UPDATE and DELETE (triggers, bot/store/staff_schema.py); the chain of
MACs (bot/audit.py) is what proves nothing was changed behind those triggers' back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str  # UTC ISO 8601, as stored (the MAC covers the stored text)
    actor: str
    action: str
    resident_id: str | None
    subject: str | None
    detail: str  # canonical JSON, as stored
    prev_mac: str
    mac: str


@dataclass(frozen=True)
class Head:
    seq: int
    mac: str  # the MAC of entry `seq`, sealed with the key (see bot/audit.py)


_COLUMNS = "seq, at, actor, action, resident_id, subject, detail, prev_mac, mac"


def head(db: sqlite_utils.Database) -> Head | None:
    row = db.execute("SELECT seq, mac FROM audit_head WHERE id = 1").fetchone()
    return Head(int(row[0]), row[1]) if row else None


def last_entry(db: sqlite_utils.Database) -> AuditRow | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return AuditRow(*row) if row else None


def append(db: sqlite_utils.Database, row: AuditRow, sealed_head: str) -> None:
    """Insert the entry and move the head to it (one transaction: the caller's)."""
    db.execute(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            row.seq,
            row.at,
            row.actor,
            row.action,
            row.resident_id,
            row.subject,
            row.detail,
            row.prev_mac,
            row.mac,
        ],
    )
    db.execute(
        "INSERT INTO audit_head (id, seq, mac) VALUES (1, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac",
        [row.seq, sealed_head],
    )


def entries(db: sqlite_utils.Database, batch: int = 1000) -> Iterator[AuditRow]:
    """Every entry in seq order, read in batches (the log can be long)."""
    after = -1
    while True:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
            [after, batch],
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield AuditRow(*row)
        after = rows[-1][0]


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # a prefix: "booking." finds every booking action
    resident_id: str | None = None
    since: str | None = None  # UTC ISO 8601, inclusive
    until: str | None = None  # UTC ISO 8601, exclusive


def search(
    db: sqlite_utils.Database, where: AuditFilter, before_seq: int | None, limit: int
) -> list[AuditRow]:
    """Entries matching `where`, newest first, older than `before_seq` when given."""
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
    if where.since:
        clauses.append("at >= ?")
        params.append(where.since)
    if where.until:
        clauses.append("at < ?")
        params.append(where.until)
    if before_seq is not None:
        clauses.append("seq < ?")
        params.append(before_seq)
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [AuditRow(*row) for row in rows]
