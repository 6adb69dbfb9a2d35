"""Storage behind one seam: the protocols (base, services), the values that cross it
(records), texts sealed at rest around any backend (sealed), and one package per backend
(sqlite/, postgres/). Nothing outside bot/store/ writes SQL or imports a database driver
(docs/architecture.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
from bot.store.codec import Codec, Sealer
from bot.store.console import ConsoleWork
from bot.store.sealed import SealedStore
from bot.store.seeding import BulkWriter
from bot.store.services import Bookings, Conversations, Residents, TurnServices

if TYPE_CHECKING:
    from bot.store.sqlite.backup import BackupReport

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
    "Sealer",
    "StaffDesk",
    "Store",
    "StoreUnavailable",
    "TurnHandler",
    "TurnServices",
    "Wakeups",
    "backup",
    "bulk_writer",
    "open_store",
]


def open_store(
    location: Path | str,
    sealer: Sealer,
    *,
    single_lane: bool = False,
    audit: AuditSealer | None = None,
) -> Store:
    """The store for BOT_DB / --db: a postgresql:// URL (PostgreSQL) or a file path (SQLite).
    Not yet opened (`await .open()`). `sealer` (bot.identity.TextVault) encrypts residents'
    texts before the backend sees them (bot.store.sealed), whichever the backend.
    `single_lane`: one SQLite connection for everything (in-process tools: replay, chat,
    CLI). `audit`: what links audit entries into the chain
    (bot.audit.AuditChain); without it the store refuses to append to the audit log."""
    text = str(location)
    codec = Codec(sealer)
    inner: Store
    # Imported here: the backends import their drivers; the protocols above import none.
    if is_db_url(text):
        try:
            from bot.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise ConfigError(f"BOT_DB: the PostgreSQL driver is not installed ({exc})") from exc
        inner = PostgresStore(text, audit=audit, codec=codec)
    else:
        from bot.store.sqlite import SqliteStore

        inner = SqliteStore(location, single_lane=single_lane, audit=audit, codec=codec)
    return SealedStore(inner, codec)


def backup(location: Path | str, dest: Path) -> BackupReport:
    """`bot backup`: a consistent copy of the database while it serves (SQLite's online
    backup). PostgreSQL databases are backed up with pg_dump / the server's own tools."""
    if is_db_url(location):
        raise ConfigError(
            "bot backup copies a SQLite file; back PostgreSQL up with pg_dump (docs/operations.md)"
        )
    from bot.store.sqlite.backup import backup as sqlite_backup

    return sqlite_backup(Path(location), dest)


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
