"""The SQLite backend: the embedded default, one process on one machine."""

from bot.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
