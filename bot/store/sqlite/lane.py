"""A lane: one SQLite connection and the thread that owns it. Coroutines hand it work;
`read` runs it as is, `write` inside one write transaction (BEGIN IMMEDIATE, through the
process's WriteGate). Driver errors become StoreUnavailable."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import sqlite_utils

from bot.store.base import StoreUnavailable
from bot.store.dbthread import DbThread
from bot.store.sqlite.connection import WriteGate, open_database, write_transaction

T = TypeVar("T")


class Lane:
    """One connection and the thread that owns it."""

    def __init__(self, name: str, path: str, gate: WriteGate) -> None:
        self.name = name
        self.path = path
        self.gate = gate
        self.thread = DbThread(name)
        self.db: sqlite_utils.Database | None = None

    def open(self) -> sqlite_utils.Database:
        """On the lane's thread."""
        self.db = open_database(self.path)
        return self.db

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.thread.run(self._read, fn, *args)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        assert self.db is not None, f"{self.name}: store not open"
        try:
            return fn(self.db, *args)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the database refused a read: {exc}") from exc

    async def write(self, fn: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        return await self.thread.run(self._write, fn, urgent, *args)

    def _write(self, fn: Callable[..., T], urgent: bool, *args: Any) -> T:
        assert self.db is not None, f"{self.name}: store not open"
        try:
            with write_transaction(self.db, self.gate, urgent):
                return fn(self.db, *args)
        except sqlite3.Error as exc:  # locked past busy_timeout, disk full, …
            raise StoreUnavailable(f"the database refused a write: {exc}") from exc

    def close(self) -> None:
        if self.db is not None:
            self.thread.call(self.db.close)
            self.db = None
        self.thread.close()
