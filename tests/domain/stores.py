"""The bookings owner's schema and service on a bare SQLite connection (domain unit tests)."""

from __future__ import annotations

import sqlite_utils

from bot.store.sqlite import bookings as bookings_sql
from bot.store.sqlite.bookings import SqliteBookings
from bot.store.sqlite.migrations import apply


def bookings_schema(db: sqlite_utils.Database) -> None:
    apply(db, [bookings_sql.MIGRATIONS])


def bookings_store(db: sqlite_utils.Database) -> SqliteBookings:
    bookings_schema(db)
    return SqliteBookings(db)


def postgres_bookings(url: str):
    """PostgresBookings inside an open transaction on a schema of its own (rolled back)."""
    from bot.store.postgres import bookings as pg_bookings
    from bot.store.postgres.connection import connect
    from bot.store.postgres.migrations import apply as pg_apply

    conn = connect(url)
    try:
        pg_apply(conn, [pg_bookings.MIGRATIONS])
        conn.execute("BEGIN")  # the pipeline's transaction
        yield pg_bookings.PostgresBookings(conn)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
