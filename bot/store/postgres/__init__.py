"""The PostgreSQL backend: one database shared by any number of `bot serve` processes."""

from bot.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
