"""Storage behind one seam: the protocols (base, services), the values that cross it
(records), and one package per backend (sqlite/; postgres/ next). Nothing outside
bot/store/ writes SQL or imports a database driver (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

from bot.errors import ConfigError
from bot.store.base import (
    DeliveryStore,
    StaffDesk,
    Store,
    StoreUnavailable,
    TurnHandler,
    Wakeups,
)
from bot.store.services import Bookings, Conversations, Residents, TurnServices

__all__ = [
    "Bookings",
    "Conversations",
    "DeliveryStore",
    "Residents",
    "StaffDesk",
    "Store",
    "StoreUnavailable",
    "TurnHandler",
    "TurnServices",
    "Wakeups",
    "open_store",
]


def open_store(location: Path | str, single_lane: bool = False) -> Store:
    """The store for BOT_DB / --db: a postgresql:// URL (PostgreSQL) or a file path (SQLite).
    Not yet opened (`await .open()`). `single_lane`: one SQLite connection for everything
    (in-process tools: replay, chat, CLI)."""
    text = str(location)
    # Imported here: the backends import their drivers; the protocols above import none.
    if text.startswith(("postgresql://", "postgres://")):
        try:
            from bot.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise ConfigError(f"BOT_DB: the PostgreSQL driver is not installed ({exc})") from exc
        return PostgresStore(text)
    from bot.store.sqlite import SqliteStore

    return SqliteStore(location, single_lane=single_lane)
