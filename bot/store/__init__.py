"""SQLite storage through sqlite-utils: schema, migrations and the pipeline's queries."""

from bot.store.database import open_database
from bot.store.migrations import migrate

__all__ = ["migrate", "open_database"]
