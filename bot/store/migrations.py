"""Ordered schema migrations; each runs once and is recorded in schema_migrations."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # Not executescript(): it commits first, which would break the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _core_tables(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE residents (
            id TEXT PRIMARY KEY,              -- keyed hash of the number (never the number)
            phone_enc BLOB NOT NULL,          -- AES-GCM ciphertext, for sending only
            notices_enabled INTEGER NOT NULL DEFAULT 1,
            handoff INTEGER NOT NULL DEFAULT 0,
            last_provider TEXT,
            last_channel TEXT,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        );
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            provider TEXT NOT NULL,
            provider_message_id TEXT NOT NULL,
            resident_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'message',   -- message | timer
            text TEXT NOT NULL DEFAULT '',
            postback TEXT,
            payload TEXT NOT NULL DEFAULT '{}',
            redactions TEXT NOT NULL DEFAULT '[]',
            truncated INTEGER NOT NULL DEFAULT 0,
            received_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
            processed_at TEXT,
            batch INTEGER,
            UNIQUE (provider, provider_message_id)
        );
        CREATE INDEX inbox_pending ON inbox (resident_id, id) WHERE status = 'pending';
        CREATE TABLE conversations (
            resident_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'reply',      -- reply | notice
            text TEXT NOT NULL,
            suggestions TEXT NOT NULL DEFAULT '[]',
            inbox_id INTEGER,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            provider_message_id TEXT,
            idempotency_key TEXT NOT NULL UNIQUE,
            error TEXT,
            status_at TEXT
        );
        CREATE INDEX outbox_due ON outbox (status, next_attempt_at) WHERE status = 'pending';
        CREATE INDEX outbox_inbox ON outbox (inbox_id);
        CREATE INDEX outbox_resident ON outbox (resident_id, id);
        CREATE INDEX outbox_provider_id ON outbox (provider, provider_message_id);
        CREATE TABLE timers (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            name TEXT NOT NULL,
            due_at TEXT NOT NULL,                    -- UTC ISO 8601, sorts as text
            payload TEXT NOT NULL DEFAULT '{}',
            UNIQUE (resident_id, name)
        );
        CREATE INDEX timers_due ON timers (due_at);
        CREATE TABLE delivery_events (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER,
            provider TEXT NOT NULL,
            provider_message_id TEXT NOT NULL,
            status TEXT NOT NULL,
            error_code TEXT,
            at TEXT NOT NULL
        );
        CREATE TABLE staff_notes (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            kind TEXT NOT NULL,                      -- handoff | message | note
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            seen INTEGER NOT NULL DEFAULT 0
        );
        """,
    )


def _domain_tables(db: sqlite_utils.Database) -> None:
    # The city's business tables are owned by bot.domain; imported lazily so the store
    # does not depend on the domain package at import time.
    try:
        from bot.domain.bookings import ensure_schema
    except ImportError:
        return
    ensure_schema(db)


def _failed_turns(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE residents ADD COLUMN failed_turns INTEGER NOT NULL DEFAULT 0")


def _resident_place(db: sqlite_utils.Database) -> None:
    # The 地区 and 町名 a resident gave once (ごみの収集日), so they are not asked again.
    db.execute("ALTER TABLE residents ADD COLUMN district TEXT")
    db.execute("ALTER TABLE residents ADD COLUMN town TEXT")


def _faq_misses(db: sqlite_utils.Database) -> None:
    from bot.store.faq_misses import ensure_schema

    ensure_schema(db)


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "core tables", _core_tables),
    (2, "domain tables", _domain_tables),
    (3, "residents.failed_turns", _failed_turns),
    (4, "residents.district_town", _resident_place),
    (5, "faq_misses", _faq_misses),
]


def migrate(db: sqlite_utils.Database) -> list[int]:
    """Apply pending migrations in order, each in its own transaction."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        with db.atomic():
            step(db)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))", [version, name]
            )
        applied.append(version)
    # The domain schema is idempotent; run it every start so new domain tables appear
    # even on databases migrated before the domain package existed.
    with db.atomic():
        _domain_tables(db)
    return applied
