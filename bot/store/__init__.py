"""Storage behind one seam: the protocols (base, services), the values that cross it
(records), and one package per backend (sqlite/; postgres/ next). Nothing outside
bot/store/ writes SQL or imports a database driver (docs/architecture.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bot.config import is_db_url
from bot.errors import ConfigError
from bot.store.base import (
    AuditSealer,
    Console,
    DeliveryStore,
    FaqMisses,
    StaffDesk,
    Store,
    StoreUnavailable,
    TurnHandler,
    Wakeups,
)
from bot.store.console import ConsoleWork
from bot.store.seeding import BulkWriter
from bot.store.services import Bookings, Conversations, Residents, TurnServices

__all__ = [
    "AuditSealer",
    "Bookings",
    "BulkWriter",
    "Console",
    "ConsoleWork",
    "Conversations",
    "DeliveryStore",
    "FaqMisses",
    "Residents",
    "StaffDesk",
    "Store",
    "StoreUnavailable",
    "TurnHandler",
    "TurnServices",
    "Wakeups",
    "bulk_writer",
    "open_store",
]


def open_store(
    location: Path | str, single_lane: bool = False, audit: AuditSealer | None = None
) -> Store:
    """The store for BOT_DB / --db: a postgresql:// URL (PostgreSQL) or a file path (SQLite).
    Not yet opened (`await .open()`). `single_lane`: one SQLite connection for everything
    (in-process tools: replay, chat, CLI). `audit`: what links audit entries into the chain
    (bot.audit.AuditChain); without it the store refuses to append to the audit log."""
    text = str(location)
    # Imported here: the backends import their drivers; the protocols above import none.
    if is_db_url(text):
        try:
            from bot.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise ConfigError(f"BOT_DB: the PostgreSQL driver is not installed ({exc})") from exc
        return PostgresStore(text, audit=audit)
    from bot.store.sqlite import SqliteStore

    return SqliteStore(location, single_lane=single_lane, audit=audit)


@contextlib.contextmanager
def bulk_writer(location: Path | str) -> Iterator[BulkWriter]:
    """A fresh database (every owner's schema) at a SQLite path or an empty PostgreSQL
    database's URL, opened for fast loading (the bench's seed)."""
    if is_db_url(location):
        from bot.store.postgres.bulk import bulk_writer as pg_writer

        with pg_writer(str(location)) as writer:
            yield writer
        return
    from bot.store.sqlite.bulk import bulk_writer as sqlite_writer

    with sqlite_writer(Path(location)) as lite:
        yield lite
