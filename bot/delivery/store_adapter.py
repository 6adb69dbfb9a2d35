"""Run delivery bookkeeping on the pipeline's processing connection.

Why: the pipeline's processing transaction starts with a deferred BEGIN, reads, then
writes; if another connection commits in between, SQLite refuses the upgrade at once
("database is locked", the busy timeout does not apply) and the message is failed. Running
our writes on the same thread serialises them with processing, and each of ours opens
with BEGIN IMMEDIATE so intake commits cannot make it fail. Once the pipeline opens its
writing transactions with BEGIN IMMEDIATE, `pipeline.run_on_store` can be used directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.store.database import write_transaction


class ProcessingThreadStore:
    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    async def run_on_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        thread = getattr(self.pipeline, "_process_thread", None)
        processor = getattr(self.pipeline, "_processor", None)
        if thread is None or processor is None:
            return await self.pipeline.run_on_store(fn, *args)
        db = processor.db

        def call() -> Any:
            with write_transaction(db):  # IMMEDIATE: see bot.store.database
                return fn(db, *args)

        return await thread.run(call)
