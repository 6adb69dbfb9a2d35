"""Intake's group commit on PostgreSQL: the webhooks' rows of one moment in one transaction,
and one row the database refuses fails alone (the SQLite backend's per-row savepoints, in
bot.store.sqlite.store)."""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg
from psycopg_pool import PoolTimeout

from bot.store import records as r
from bot.store.postgres import pipeline
from bot.store.postgres.connection import INBOX_CHANNEL, Conn

log = logging.getLogger("bot.store")


def row_fault(exc: BaseException) -> bool:
    """True when a write failed because of a row's own values (a constraint, text that is
    not UTF-8, a NUL, a value the driver cannot send), False when the database failed
    (gone, full, read-only, a statement it refused for every row)."""
    own = (psycopg.IntegrityError, psycopg.DataError)
    return isinstance(exc, own) or not isinstance(exc, (psycopg.Error, PoolTimeout))


def ingest(conn: Conn, rows: list[r.InboundRow], now: datetime, owner: str) -> list[r.Ingested]:
    """One commit for the group. All rows at once (one round trip) in a savepoint; should
    a row's own values be refused, that is rolled back and each row is stored in a
    savepoint of its own, so the one fails alone (its error) and the others commit. The
    NOTIFY (with `owner`, so this process ignores its own) is delivered at commit."""
    try:
        with conn.transaction():
            return _insert(conn, rows, now, owner)
    except Exception as exc:
        if not row_fault(exc):
            raise  # the database's trouble (gone, full, read-only): nothing is stored
    results = [_insert_one(conn, row, now) for row in rows]
    conn.execute("SELECT pg_notify(%s, %s)", [INBOX_CHANNEL, owner])
    return results


def _insert(
    conn: Conn, rows: list[r.InboundRow], now: datetime, notify: str | None
) -> list[r.Ingested]:
    with conn.pipeline():  # one round trip
        pipeline.touch_residents(conn, rows, now)
        inserted = pipeline.insert_inbox(conn, rows)
        if notify is not None:
            conn.execute("SELECT pg_notify(%s, %s)", [INBOX_CHANNEL, notify])
    new = inserted()
    keys = [(row.provider, row.provider_message_id) for row in rows]
    old = pipeline.find_inbox_ids(conn, [k for k in keys if k not in new])
    results, seen = [], set()
    for key in keys:
        if key in new and key not in seen:
            results.append(r.Ingested(new[key], False))
        else:
            results.append(r.Ingested(new.get(key) or old.get(key) or 0, True))
        seen.add(key)
    return results


def _insert_one(conn: Conn, row: r.InboundRow, now: datetime) -> r.Ingested:
    try:
        with conn.transaction():
            (result,) = _insert(conn, [row], now, None)
            return result
    except Exception as exc:
        if not row_fault(exc):
            raise
        log.error("inbound row not stored", extra={"error": type(exc).__name__})
        return r.Ingested(0, False, error=type(exc).__name__)
