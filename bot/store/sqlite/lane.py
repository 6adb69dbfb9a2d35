"""A lane: one SQLite connection and the thread that owns it, reporting what SQLite says
about the file (bot.store.sqlite.health.Faults) on every call.

A call through a lane is refused (StoreUnavailable: webhooks answer 503, the provider
retries) once the file is known deleted, replaced or corrupt; a commit is followed by a
check that the file is still the one opened, so nothing is acknowledged for a row written
into a file that no longer exists.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlite_utils

from bot.store.base import StoreUnavailable
from bot.store.dbthread import DbThread
from bot.store.sqlite.connection import WriteGate, open_database, write_transaction
from bot.store.sqlite.health import Faults

T = TypeVar("T")


class Lane:
    def __init__(self, name: str, path: str, gate: WriteGate, faults: Faults) -> None:
        self.name = name
        self.path = path
        self.gate = gate
        self.faults = faults
        self.thread = DbThread(name)
        self.db: sqlite_utils.Database | None = None

    def open(self) -> sqlite_utils.Database:
        """On the lane's thread."""
        self.db = open_database(self.path)
        return self.db

    @contextlib.contextmanager
    def guarded(self, what: str) -> Iterator[sqlite_utils.Database]:
        """The connection, unless the file is known unusable; SQLite's errors are reported
        to the store's faults and become StoreUnavailable."""
        assert self.db is not None, f"{self.name}: store not open"
        fatal = self.faults.fatal
        if fatal is not None:
            raise StoreUnavailable(f"the database cannot be used: {fatal.detail}")
        try:
            yield self.db
        except sqlite3.Error as exc:  # locked past busy_timeout, disk full, corrupt, …
            self.faults.saw(exc)
            raise StoreUnavailable(f"the database refused a {what}: {exc}") from exc

    def committed(self) -> None:
        """After a commit: passing faults (disk full) are over, and the file must still be
        the one opened — a row committed into a deleted file is not stored."""
        self.faults.wrote()
        fault = self.faults.identity_fault()
        if fault is not None:
            raise StoreUnavailable(f"not stored: {fault.detail}")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.thread.run(self._read, fn, *args)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        with self.guarded("read") as db:
            return fn(db, *args)

    async def write(self, fn: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        return await self.thread.run(self._write, fn, urgent, *args)

    def _write(self, fn: Callable[..., T], urgent: bool, *args: Any) -> T:
        with self.guarded("write") as db:
            with write_transaction(db, self.gate, urgent):
                result = fn(db, *args)
            self.committed()
            return result

    def close(self) -> None:
        if self.db is not None:
            self.thread.call(self.db.close)
            self.db = None
        self.thread.close()
