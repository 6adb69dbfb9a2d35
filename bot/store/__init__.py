"""Storage behind one seam: the protocols (base, services), the values that cross it
(records), and one package per backend (sqlite/; postgres/ next). Nothing outside
bot/store/ writes SQL or imports a database driver (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
from bot.store.services import Bookings, Conversations, Residents, TurnServices

if TYPE_CHECKING:
    from bot.store.sqlite.backup import BackupReport

__all__ = [
    "AuditSealer",
    "Bookings",
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
    "open_store",
]


def open_store(
    location: Path | str,
    sealer: Sealer,
    *,
    single_lane: bool = False,
    audit: AuditSealer | None = None,
) -> Store:
    """The store for BOT_DB / --db: a file path (SQLite). Not yet opened (`await .open()`).
    `sealer` (bot.identity.TextVault) encrypts residents' texts before the backend sees
    them (bot.store.sealed). `single_lane`: one connection for everything (in-process
    tools: replay, chat, CLI). `audit`: what links audit entries into the chain
    (bot.audit.AuditChain); without it the store refuses to append to the audit log."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise ConfigError("BOT_DB: PostgreSQL is not available in this version; give a file path")
    # Imported here: the backends import their drivers; the protocols above import none.
    from bot.store.sqlite import SqliteStore

    codec = Codec(sealer)
    inner = SqliteStore(location, single_lane=single_lane, audit=audit, codec=codec)
    return SealedStore(inner, codec)


def backup(location: Path | str, dest: Path) -> BackupReport:
    """`bot backup`: a consistent copy of the database while it serves (SQLite's online
    backup). PostgreSQL databases are backed up with pg_dump / the server's own tools."""
    if str(location).startswith(("postgresql://", "postgres://")):
        raise ConfigError("bot backup copies an SQLite file; back PostgreSQL up with pg_dump")
    from bot.store.sqlite.backup import backup as sqlite_backup

    return sqlite_backup(Path(location), dest)
