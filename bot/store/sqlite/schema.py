"""Every owner's migration set, in the order they are applied (a set may refer to tables
of the sets before it). A new owner adds its module's MIGRATIONS here."""

from __future__ import annotations

import sqlite_utils

from bot.store.sqlite import (
    accounts,
    audit,
    bookings,
    console,
    faq,
    health,
    notices,
    pipeline,
    staff,
)
from bot.store.sqlite.migrations import MigrationSet, apply

OWNERS: list[MigrationSet] = [
    pipeline.MIGRATIONS,
    staff.MIGRATIONS,
    bookings.MIGRATIONS,
    accounts.MIGRATIONS,
    audit.MIGRATIONS,
    console.MIGRATIONS,  # refers to staff_accounts
    faq.MIGRATIONS,
    notices.MIGRATIONS,
    health.MIGRATIONS,
]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every owner's pending migrations; returns them as `owner:name`."""
    return apply(db, OWNERS)
