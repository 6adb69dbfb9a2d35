"""Storage behind one seam: the protocols (base, services), the values that cross it
(records), and one package per backend (sqlite/; postgres/ next). Nothing outside
bot/store/ writes SQL or imports a database driver (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

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
from bot.store.services import Bookings, Conversations, Residents, TurnServices

__all__ = [
    "AuditSealer",
    "Bookings",
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
    "open_store",
]


def open_store(
    location: Path | str, single_lane: bool = False, audit: AuditSealer | None = None
) -> Store:
    """The store for BOT_DB / --db: a file path (SQLite). Not yet opened (`await .open()`).
    `single_lane`: one connection for everything (in-process tools: replay, chat, CLI).
    `audit`: what links audit entries into the chain (bot.audit.AuditChain); without it
    the store refuses to append to the audit log."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise ConfigError("BOT_DB: PostgreSQL is not available in this version; give a file path")
    # Imported here: the backends import their drivers; the protocols above import none.
    from bot.store.sqlite import SqliteStore

    return SqliteStore(location, single_lane=single_lane, audit=audit)
