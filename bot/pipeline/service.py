"""The running pipeline: intake with group commit, the processing loop, timers, waiters.

Two threads each own a connection: intake (webhook acknowledgements must not wait behind
processing) and processing. SQLite in WAL mode lets them work side by side; writes are
serialised by SQLite's lock, each transaction short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.channels.base import Inbound, StatusEvent
from bot.clock import Clock
from bot.identity import NumberVault
from bot.metrics import Metrics
from bot.pipeline.dbthread import DbThread
from bot.pipeline.intake import IntakeRow, identity_of, prepare_inbound
from bot.pipeline.processor import Processor
from bot.store import migrate, open_database
from bot.store import queries as q
from bot.store.database import share_write_gate, write_transaction
from bot.system_texts import SystemTexts
from bot.turn import ResidentContext, Responder, Turn, TurnResult

log = logging.getLogger("bot.pipeline")


@dataclass
class IngestResult:
    inbox_id: int
    duplicate: bool


class Pipeline:
    def __init__(
        self,
        db_path: Path,
        clock: Clock,
        vault: NumberVault,
        responder_factory: Callable[[], Responder],
        texts: SystemTexts,
        metrics: Metrics,
        max_chars: int = 2000,
        batch_size: int = 32,
    ) -> None:
        self.db_path = db_path
        self.clock = clock
        self.vault = vault
        self.texts = texts
        self.metrics = metrics
        self.max_chars = max_chars
        self.batch_size = batch_size
        self._responder_factory = responder_factory
        self.responder: Responder | None = None
        self._intake_thread = DbThread("bot-intake")
        self._process_thread = DbThread("bot-process")
        self._intake: Processor | None = None
        self._processor: Processor | None = None
        self._pending: list[tuple[IntakeRow, asyncio.Future[IngestResult]]] = []
        self._intake_wake = asyncio.Event()
        self._process_wake = asyncio.Event()
        self.outbox_wake = asyncio.Event()  # the delivery worker waits on this
        self._waiters: dict[int, list[asyncio.Future[None]]] = defaultdict(list)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.ready = False

    # ---- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        def open_intake() -> Processor:
            db = open_database(self.db_path)
            migrate(db)
            q.reset_in_flight(db)
            return Processor(db, _NoResponder(), self.clock, self.texts, self.max_chars)

        def open_processing() -> Processor:
            self.responder = self._responder_factory()
            return Processor(
                open_database(self.db_path), self.responder, self.clock, self.texts, self.max_chars
            )

        self._intake = await self._intake_thread.run(open_intake)
        self._processor = await self._process_thread.run(open_processing)
        # Intake and processing queue for the write lock in-process, intake first.
        share_write_gate(self._intake.db, self._processor.db)
        self._tasks = [
            asyncio.create_task(self._intake_loop(), name="bot-intake"),
            asyncio.create_task(self._process_loop(), name="bot-process"),
        ]
        self.ready = True
        self._process_wake.set()  # resume whatever was pending before a restart
        self.outbox_wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self.ready = False
        self._intake_wake.set()
        self._process_wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, future in self._pending:
            if not future.done():
                future.set_exception(RuntimeError("server stopping"))
        for processor, thread in (
            (self._intake, self._intake_thread),
            (self._processor, self._process_thread),
        ):
            if processor is not None:
                thread.call(processor.db.close)
            thread.close()

    # ---- intake ------------------------------------------------------------------

    async def ingest(self, inbound: Inbound) -> IngestResult:
        """Returns once the message is durably stored (or known to be a duplicate)."""
        if self._stopping or self._intake is None:
            raise RuntimeError("pipeline not running")
        row = prepare_inbound(inbound, self.vault, self.clock.now(), self.max_chars)
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        self._intake_wake.set()
        return await future

    async def _intake_loop(self) -> None:
        assert self._intake is not None
        while not self._stopping:
            await self._intake_wake.wait()
            self._intake_wake.clear()
            while self._pending:
                # Everything that arrived while the last commit ran goes in this commit.
                group, self._pending = self._pending, []
                try:
                    results = await self._intake_thread.run(
                        self._intake.ingest, [row for row, _ in group]
                    )
                except Exception as exc:
                    log.error("intake commit failed", extra={"error": type(exc).__name__})
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.metrics.ingest_batch.observe(len(group))
                for (row, future), (inbox_id, duplicate) in zip(group, results, strict=True):
                    self.metrics.inbound.labels(row.row["provider"], str(duplicate).lower()).inc()
                    if not future.done():
                        future.set_result(IngestResult(inbox_id, duplicate))
                self._process_wake.set()

    # ---- processing ----------------------------------------------------------------

    async def _process_loop(self) -> None:
        assert self._processor is not None
        processor = self._processor
        while not self._stopping:
            try:
                started = self.clock.monotonic()
                batch = await self._process_thread.run(processor.process_batch, self.batch_size)
            except Exception as exc:  # keep serving; the rows stay pending and are retried
                log.error("processing batch failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)
                continue
            if batch.inbox_ids:
                self.metrics.processed.inc(len(batch.inbox_ids))
                self.metrics.failed.inc(len(batch.failed))
                self.metrics.batch_seconds.observe(self.clock.monotonic() - started)
                if batch.outbox_rows:
                    self.outbox_wake.set()
                for inbox_id in batch.inbox_ids:
                    for future in self._waiters.pop(inbox_id, []):
                        if not future.done():
                            future.set_result(None)
                continue  # more may be pending
            await self._sleep_until_work()

    async def _sleep_until_work(self) -> None:
        assert self._processor is not None
        next_due = await self._process_thread.run(q.next_timer_due, self._processor.db)
        timeout = 1.0
        if next_due is not None:
            timeout = min(timeout, max((next_due - self.clock.now()).total_seconds(), 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process_wake.wait(), timeout=timeout)
        self._process_wake.clear()

    # ---- queries used by the HTTP layer --------------------------------------------

    async def wait_processed(self, inbox_id: int, timeout: float) -> bool:
        """Wait until the inbox row is processed; False on timeout."""
        assert self._intake is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[inbox_id].append(future)
        status = await self._intake_thread.run(q.inbox_status, self._intake.db, inbox_id)
        if status in {"done", "failed"}:
            self._waiters.pop(inbox_id, None)
            return True
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(inbox_id)
            if waiters and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[inbox_id]

    async def replies_for(self, inbox_id: int) -> list[dict]:
        assert self._intake is not None
        return await self._intake_thread.run(q.replies_for_inbox, self._intake.db, inbox_id)

    async def messages_for(self, number: str, after_id: int) -> list[dict]:
        """What the simulator sent to a simulated number (never a real resident's)."""
        assert self._intake is not None
        resident_id = self.vault.resident_id(identity_of("sim", number))
        return await self._intake_thread.run(
            q.outbox_for_resident, self._intake.db, resident_id, after_id
        )

    async def record_status(self, event: StatusEvent) -> bool:
        assert self._intake is not None

        def write() -> bool:
            assert self._intake is not None
            with write_transaction(self._intake.db, urgent=True):  # a webhook waits
                return q.record_status(
                    self._intake.db,
                    event.provider,
                    event.provider_message_id,
                    event.status,
                    event.error_code,
                    self.clock.now(),
                )

        return await self._intake_thread.run(write)

    async def run_on_store(self, fn: Callable, *args: object) -> object:
        """Run fn(db, *args) on the intake connection (delivery bookkeeping, admin)."""
        assert self._intake is not None
        intake = self._intake

        def call() -> object:
            with write_transaction(intake.db):
                return fn(intake.db, *args)

        return await self._intake_thread.run(call)

    async def run_in_processing(self, fn: Callable, *args: object) -> object:
        """Run fn on the processing thread, between batches (flow reloads)."""
        return await self._process_thread.run(fn, *args)


class _NoResponder:
    """The intake thread's processor only stores; it never answers anyone."""

    def respond(
        self, turn: Turn, conversation: dict[str, Any] | None, resident: ResidentContext, db: Any
    ) -> TurnResult:
        raise RuntimeError("the intake processor does not respond")
