"""Every owner's migration set in PostgreSQL, in the order they are applied (a set may
refer to tables of the sets before it). A new owner adds its module's MIGRATIONS here."""

from __future__ import annotations

from typing import Any

import psycopg

from bot.store.postgres import (
    accounts,
    audit,
    bookings,
    console,
    delivery,
    faq,
    health,
    limits,
    notices,
    pipeline,
    staff,
)
from bot.store.postgres.migrations import MigrationSet, apply

OWNERS: list[MigrationSet] = [
    pipeline.MIGRATIONS,
    staff.MIGRATIONS,
    bookings.MIGRATIONS,
    accounts.MIGRATIONS,
    audit.MIGRATIONS,
    console.MIGRATIONS,
    faq.MIGRATIONS,
    delivery.MIGRATIONS,
    notices.MIGRATIONS,
    health.MIGRATIONS,
    limits.MIGRATIONS,
]


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply every owner's pending migrations; returns them as `owner:name`."""
    return apply(conn, OWNERS)
