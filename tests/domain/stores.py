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
