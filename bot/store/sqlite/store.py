"""SqliteStore: bot.store.base.Store on one SQLite file (WAL), for one process.

Three connections, each owned by a thread of its own (a "lane"): intake (webhooks wait
for its commits, so it goes first through the WriteGate), processing (turns, in batches:
one fsync'd commit for many residents' turns) and delivery (outbox bookkeeping). An
in-memory database has one lane for everything (connections would not share it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.store import records as r
from bot.store.base import AuditSealer, SendBudget, TurnHandler, Wakeups
from bot.store.services import Conversations, Residents
from bot.store.sqlite import bookings, delivery, faq, notices, pipeline, staff
from bot.store.sqlite.connection import WriteGate, write_transaction
from bot.store.sqlite.lane import Lane
from bot.store.sqlite.noticestore import SqliteNotices, SqliteNoticeService, SqliteTurnCases
from bot.store.sqlite.schema import migrate
from bot.store.sqlite.staffwork import SqliteConsole, SqliteStaffDesk

log = logging.getLogger("bot.store")

CHECKPOINT_EVERY = 0.5  # seconds between looks at the WAL (a checkpoint when it has grown)


def checkpoint(db: sqlite_utils.Database) -> None:
    db.execute("PRAGMA wal_checkpoint(PASSIVE)")


# A batch gives way to a waiting intake commit once it has run this long (seconds): long
# enough that processing still moves several rows per commit under a stream of webhooks,
# short enough to keep acknowledgements quick.
YIELD_AFTER = 0.008


class _Residents:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def get(self, resident_id: str) -> r.ResidentRow | None:
        return pipeline.resident(self.db, resident_id)


class _Conversations:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def get(self, resident_id: str) -> dict[str, Any] | None:
        return pipeline.conversation(self.db, resident_id)


class SqliteTurnServices:
    """bot.store.services.TurnServices on the processing connection (its open transaction)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._residents = _Residents(db)
        self._conversations = _Conversations(db)
        self._bookings = bookings.SqliteBookings(db)
        self._notices = SqliteNoticeService(db)
        self._cases = SqliteTurnCases(db)

    @property
    def residents(self) -> Residents:
        return self._residents

    @property
    def notices(self) -> SqliteNoticeService:
        return self._notices

    @property
    def cases(self) -> SqliteTurnCases:
        return self._cases

    @property
    def conversations(self) -> Conversations:
        return self._conversations

    @property
    def bookings(self) -> bookings.SqliteBookings:
        return self._bookings


class SqliteDelivery:
    """bot.store.base.DeliveryStore on the delivery lane."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    async def claim(
        self,
        providers: Sequence[str],
        now: datetime,
        limit: int,
        held: frozenset[int] = frozenset(),
    ) -> list[r.OutboxItem]:
        def write(db: sqlite_utils.Database) -> list[r.OutboxItem]:
            groups = [(None, 1 << 30), *notices.claim_groups(db, now, held)]
            items = delivery.claim(db, list(providers), now, limit, groups)
            return notices.fill_items(db, items, now)

        return await self.lane.write(write)

    async def sent(self, marks: Sequence[r.SentMark]) -> None:
        await self.lane.write(delivery.sent, list(marks))

    async def retry(self, outbox_id: int, next_at: datetime, error: str) -> None:
        await self.lane.write(delivery.retry, outbox_id, next_at, error)

    async def failed(
        self, outbox_id: int, error: str, now: datetime, status: str = "failed"
    ) -> None:
        await self.lane.write(delivery.failed, outbox_id, error, now, status)

    async def stop_notices(self, resident_id: str) -> None:
        def write(db: sqlite_utils.Database) -> None:
            delivery.stop_notices(db, resident_id)
            # Kept as evidence like a resident's own 停止 (the provider's opt-out list).
            notices.consent(db, resident_id, None, "stop", "provider", datetime.now(UTC))

        await self.lane.write(write)

    async def next_due(
        self, providers: Sequence[str], held: frozenset[int] = frozenset()
    ) -> datetime | None:
        def read(db: sqlite_utils.Database) -> datetime | None:
            now = datetime.now(UTC)
            groups = [(None, 1 << 30), *notices.claim_groups(db, now, held)]
            return delivery.next_due(db, list(providers), groups)

        return await self.lane.read(read)

    async def stale_rich(self, sent_before: datetime, limit: int) -> list[r.OutboxItem]:
        def read(db: sqlite_utils.Database) -> list[r.OutboxItem]:
            items = delivery.stale_rich(db, sent_before, limit)
            return notices.fill_items(db, items, sent_before, drop=False)

        return await self.lane.read(read)

    async def note(self, outbox_id: int, error: str) -> None:
        await self.lane.write(delivery.note, outbox_id, error)

    async def switch_to_sms(
        self,
        outbox_id: int,
        provider: str,
        provider_message_id: str | None,
        now: datetime,
        why: str,
    ) -> None:
        await self.lane.write(
            delivery.switch_to_sms, outbox_id, provider, provider_message_id, now, why
        )

    def send_budget(self, provider: str, rate: float) -> SendBudget | None:
        return None  # one process sends: its own limiter is the whole budget


class SqliteFaqMisses:
    """bot.store.base.FaqMisses: read on the intake lane (the turns write them)."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    async def most_frequent(self, limit: int) -> list[r.FaqMissCount]:
        return await self.lane.read(faq.most_frequent, limit)


class SqliteStore:
    """bot.store.base.Store on the SQLite file at `path` (":memory:" for a throwaway one).
    `single_lane`: one connection and thread for everything (replay, chat, CLI).
    `audit`: links the audit log's entries (without it, audit appends are refused)."""

    def __init__(
        self, path: Path | str, single_lane: bool = False, audit: AuditSealer | None = None
    ) -> None:
        self.path = str(path)
        self.gate = WriteGate()
        self._intake = Lane("bot-intake", self.path, self.gate)
        single = single_lane or self.path == ":memory:"
        self._process = self._intake if single else Lane("bot-process", self.path, self.gate)
        self._deliver = self._intake if single else Lane("bot-delivery", self.path, self.gate)
        self._notices = self._intake if single else Lane("bot-notices", self.path, self.gate)
        self._fanout = self._intake if single else Lane("bot-fanout", self.path, self.gate)
        self.delivery = SqliteDelivery(self._deliver)
        self.notices = SqliteNotices(self._notices, audit, self._fanout)
        # Staff's transactions are short: on the intake lane, like the webhooks'.
        self.staff = SqliteStaffDesk(self._intake, audit)
        self.console = SqliteConsole(self._intake, audit)
        self.faq = SqliteFaqMisses(self._intake)
        self.wake = Wakeups()
        self._batches: itertools.count[int] = itertools.count(1)
        self._checkpointer: asyncio.Task[None] | None = None
        self._services: SqliteTurnServices | None = None

    def _lanes(self) -> list[Lane]:
        unique: list[Lane] = []
        for lane in (self._intake, self._process, self._deliver, self._notices, self._fanout):
            if lane not in unique:
                unique.append(lane)
        return unique

    # ---- life cycle ------------------------------------------------------------------

    async def open(self, wake: Wakeups | None = None, *, serve: bool = False) -> None:
        self.wake = wake or self.wake

        def first(db: sqlite_utils.Database) -> int:
            migrate(db)
            if serve:  # one process per SQLite file: what was in flight died with the last one
                with write_transaction(db, self.gate):
                    pipeline.reset_in_flight(db)
            return pipeline.last_batch(db)

        await self._intake.thread.run(self._intake.open)
        last = await self._intake.read(first)
        self._batches = itertools.count(last + 1)
        for lane in self._lanes()[1:]:
            await lane.thread.run(lane.open)
        if len(self._lanes()) > 1:
            # A commit that crosses the WAL's checkpoint threshold runs the checkpoint itself
            # before it returns, with the write gate held: every other writer — a webhook
            # waiting for its intake commit — would wait for it (a notice's fan-out writes a
            # lot of WAL). No lane checkpoints on commit; `_checkpoints` does, beside them.
            for lane in self._lanes():
                await lane.read(lambda db: db.execute("PRAGMA wal_autocheckpoint=0"))
            self._checkpointer = asyncio.create_task(self._checkpoints(), name="bot-checkpoint")
            # The fan-out's commits are not fsync'd each (synchronous=NORMAL, WAL): a crash
            # of the process loses nothing (the WAL is in the file), and a power cut loses
            # at most its last batches — rows and cursor together, since a batch is one
            # transaction — which the dispatcher makes again. Anything recorded after them
            # (a send, by another lane, fsync'd) makes them durable too: one WAL, in order.
            await self._fanout.read(lambda db: db.execute("PRAGMA synchronous=NORMAL"))
        process_db = self._process.db
        assert process_db is not None
        self._services = SqliteTurnServices(process_db)

    async def _checkpoints(self) -> None:
        """PASSIVE checkpoints outside the write gate (writers go on appending meanwhile),
        on the fan-out lane's thread, whenever the WAL has grown."""
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY)
            try:
                await self._fanout.read(checkpoint)
            except Exception:  # the next round tries again; a growing WAL is no fault yet
                log.exception("WAL checkpoint failed")

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
            await self._fanout.read(checkpoint)
        for lane in self._lanes():
            lane.close()

    # ---- intake ------------------------------------------------------------------------

    async def ingest(self, rows: Sequence[r.InboundRow], now: datetime) -> list[r.Ingested]:
        # Urgent: a webhook waits for this commit (see WriteGate).
        return await self._intake.write(self._ingest, list(rows), now, urgent=True)

    @staticmethod
    def _ingest(
        db: sqlite_utils.Database, rows: list[r.InboundRow], now: datetime
    ) -> list[r.Ingested]:
        stamp = pipeline.utc_text(now)
        results = []
        for row in rows:
            pipeline.touch_resident(db, row, stamp)
            inbox_id = pipeline.insert_inbox(db, row)
            if inbox_id is None:
                existing = pipeline.find_inbox_id(db, row.provider, row.provider_message_id)
                results.append(r.Ingested(existing or 0, True))
            else:
                results.append(r.Ingested(inbox_id, False))
        return results

    async def record_status(
        self,
        provider: str,
        provider_message_id: str,
        status: str,
        error_code: str | None,
        now: datetime,
    ) -> bool:
        return await self._intake.write(
            pipeline.record_status,
            provider,
            provider_message_id,
            status,
            error_code,
            now,
            urgent=True,
        )

    # ---- processing --------------------------------------------------------------------

    async def process_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        return await self._process.thread.run(self._process_batch, handler, limit)

    def _process_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        """Process the oldest pending row of up to `limit` residents in one transaction.

        When intake is waiting for the write lock (a webhook waits for its commit) and the
        batch has run YIELD_AFTER, it commits after the row in hand; the rows not reached
        stay pending, first in line and still in order, for the next batch."""
        db, services = self._process.db, self._services
        assert db is not None and services is not None, "store not open"
        result = r.BatchResult()
        gate = self.gate
        started = time.perf_counter()
        with write_transaction(db, gate):
            now = handler.now()
            pipeline.promote_due_timers(db, now)
            items = pipeline.claim_pending(db, limit)
            if not items:
                return result
            batch = next(self._batches)
            for item in items:
                if gate.urgent_waiting and time.perf_counter() - started >= YIELD_AFTER:
                    break
                try:
                    with db.atomic():
                        done = handler.handle(item, services, now)
                        pipeline.complete(db, item, done, now, batch)
                except Exception as exc:  # a bug must not lose the message or stall the queue
                    with db.atomic():
                        done = handler.failed(item, exc, now)
                        pipeline.complete(db, item, done, now, batch)
                    result.failed.append(item.id)
                result.outbox_rows += len(done.outbox)
                result.inbox_ids.append(item.id)
                result.residents.add(item.resident_id)
        return result

    async def next_timer_due(self) -> datetime | None:
        return await self._process.read(pipeline.next_timer_due)

    async def inbox_status(self, inbox_id: int) -> str | None:
        return await self._intake.read(pipeline.inbox_status, inbox_id)

    # ---- reading what was sent -----------------------------------------------------------

    async def replies_for(self, inbox_id: int) -> list[r.SentMessage]:
        def read(db: sqlite_utils.Database) -> list[r.SentMessage]:
            return notices.fill_sent(db, pipeline.replies_for(db, inbox_id))

        return await self._intake.read(read)

    async def sent_to(self, resident_id: str, after_id: int = 0) -> list[r.SentMessage]:
        def read(db: sqlite_utils.Database) -> list[r.SentMessage]:
            return notices.fill_sent(db, pipeline.sent_to(db, resident_id, after_id))

        return await self._intake.read(read)

    async def conversation(self, resident_id: str) -> dict[str, Any] | None:
        return await self._intake.read(pipeline.conversation, resident_id)

    # ---- upkeep ----------------------------------------------------------------------------

    async def purge_old(self, before: datetime) -> dict[str, int]:
        def write(db: sqlite_utils.Database) -> dict[str, int]:
            counts = pipeline.purge_old(db, before)
            counts.update(staff.purge_old(db, pipeline.utc_text(before)))
            return counts

        return await self._intake.write(write)
