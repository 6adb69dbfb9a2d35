"""Delivery bookkeeping on a connection and thread of its own.

Claiming rows and recording sends used to run on the processing thread, queued behind
whole processing batches: every delivery round waited for one batch before it claimed and
for another before it recorded, which made delivery the slowest stage of a message's way
(most of its time from inbound to provider). Every writer now opens its transaction with
BEGIN IMMEDIATE (bot.store.database.write_transaction) and takes turns through the
pipeline's WriteGate, so a third connection is safe: it queues for the write lock like
processing does (intake still goes first) and never waits for a batch to finish its work
in Python, only for its commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.pipeline.dbthread import DbThread
from bot.store import open_database
from bot.store.database import join_write_gate, write_transaction


class DeliveryStore:
    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self._thread: DbThread | None = None
        self._db: Any = None

    def _open(self) -> bool:
        processor = getattr(self.pipeline, "_processor", None)
        db_path = getattr(self.pipeline, "db_path", None)
        if processor is None or db_path is None or str(db_path) == ":memory:":
            return False
        self._thread = DbThread("bot-delivery")

        def connect() -> Any:
            db = open_database(db_path)
            join_write_gate(db, processor.db)
            return db

        self._db = self._thread.call(connect)
        return True

    async def run_on_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._thread is None and not self._open():
            return await self.pipeline.run_on_store(fn, *args)
        assert self._thread is not None
        db = self._db

        def call() -> Any:
            with write_transaction(db):  # IMMEDIATE: see bot.store.database
                return fn(db, *args)

        return await self._thread.run(call)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.call(self._db.close)
            self._thread.close()
            self._thread = None
