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
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.store import records as r
from bot.store.base import (
    AuditSealer,
    SenderLimits,
    StoreUnavailable,
    StoreUnusable,
    TurnHandler,
    Wakeups,
)
from bot.store.codec import Codec
from bot.store.services import Conversations, Residents
from bot.store.sqlite import (
    bookings,
    faq,
    health,
    noticefanout,
    outbox,
    pipeline,
    queue,
    sealing,
    staff,
)
from bot.store.sqlite.connection import WriteGate, write_transaction
from bot.store.sqlite.delivery import SqliteDelivery
from bot.store.sqlite.health import Faults, unusable
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
HEALTH_TTL = 1.0  # seconds between probes (/healthz may be polled often)
QUICK_CHECK_DELAY = 60.0  # seconds after start-up before the first full quick_check
QUICK_CHECK_EVERY = 3600.0  # seconds between full checks (it reads every page)


def _row_fault(exc: BaseException) -> bool:
    """True when an insert failed because of the row's own values (a constraint, a value
    the driver cannot bind, text that is not UTF-8), False when the database failed
    (full, locked, I/O, corrupt): then no row of the group can be stored."""
    own = (
        sqlite3.IntegrityError,
        sqlite3.DataError,
        sqlite3.ProgrammingError,
        sqlite3.InterfaceError,
    )
    return isinstance(exc, own) or not isinstance(exc, sqlite3.Error)


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
        self,
        path: Path | str,
        single_lane: bool = False,
        audit: AuditSealer | None = None,
        codec: Codec | None = None,
    ) -> None:
        self.path = str(path)
        # With a codec (bot.store.open_store always gives one), plain texts left by an older
        # version are sealed in place at the first open; the sealing itself is SealedStore's.
        self.codec = codec
        self.gate = WriteGate()
        self.faults = Faults(self.path)
        self._intake = self._lane("bot-intake")
        single = single_lane or self.path == ":memory:"
        self._process = self._intake if single else self._lane("bot-process")
        self._deliver = self._intake if single else self._lane("bot-delivery")
        self._notices = self._intake if single else self._lane("bot-notices")
        self._fanout = self._intake if single else self._lane("bot-fanout")
        self._probed = -HEALTH_TTL  # monotonic time of the last probes
        self._health_lock = asyncio.Lock()
        # The first full check soon after start-up (not during it: start-up stays quick).
        self._next_quick_check = time.monotonic() + QUICK_CHECK_DELAY
        self._quick_checking: asyncio.Task[None] | None = None
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

    def _lane(self, name: str) -> Lane:
        return Lane(name, self.path, self.gate, self.faults)

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
            if self.codec is not None and not sealing.is_sealed(db):
                with write_transaction(db, self.gate):
                    changed = sealing.seal_existing(db, self.codec)
                if changed:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the plain pages go too
                    log.info("texts sealed at rest", extra={"rows": changed})
            if serve:  # one process per SQLite file: what was in flight died with the last one
                with write_transaction(db, self.gate):
                    outbox.reset_in_flight(db)
            return queue.last_batch(db)

        try:
            await self._intake.thread.run(self._intake.open)
            last = await self._intake.read(first)
        except (sqlite3.Error, StoreUnavailable, OSError) as exc:
            # Start-up stops here with one line naming the file: never a traceback, and
            # never a service that acknowledges what it cannot keep.
            await self.close()
            raise StoreUnusable(unusable(self.path, exc)) from None
        if self.path != ":memory:":
            self.faults.opened()
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
            except StoreUnavailable:
                pass  # the database is unusable: the lanes' faults report it (/healthz), once
            except Exception:  # the next round tries again; a growing WAL is no fault yet
                log.exception("WAL checkpoint failed")

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
            with contextlib.suppress(StoreUnavailable):  # an unusable database: nothing to do
                await self._fanout.read(checkpoint)
        if self._quick_checking is not None:
            self._quick_checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._quick_checking
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
        """One commit for the group; each row in a savepoint of its own, so a row whose
        values cannot be stored fails alone (its own error) and the others commit."""
        stamp = pipeline.utc_text(now)
        results = []
        for row in rows:
            try:
                with db.atomic():
                    pipeline.touch_resident(db, row, stamp)
                    inbox_id = pipeline.insert_inbox(db, row)
            except Exception as exc:
                if not _row_fault(exc) or not db.conn.in_transaction:
                    raise  # the database's trouble (full, corrupt, …): nothing is stored
                log.error("inbound row not stored", extra={"error": type(exc).__name__})
                results.append(r.Ingested(0, False, error=type(exc).__name__))
                continue
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
            outbox.record_status,
            provider,
            provider_message_id,
            status,
            error_code,
            now,
            urgent=True,
        )

    # ---- processing --------------------------------------------------------------------

    async def process_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        return await self._process.thread.run(self._guarded_batch, handler, limit)

    def _guarded_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        with self._process.guarded("write"):
            result = self._process_batch(handler, limit)
        if result.inbox_ids:
            self._process.committed()
        return result

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
            queue.promote_due_timers(db, now)
            items = queue.claim_pending(db, limit)
            if not items:
                return result
            batch = next(self._batches)
            for item in items:
                if gate.urgent_waiting and time.perf_counter() - started >= YIELD_AFTER:
                    break
                try:
                    with db.atomic():
                        done = handler.handle(item, services, now)
                        queue.complete(db, item, done, now, batch)
                except Exception as exc:  # a bug must not lose the message or stall the queue
                    with db.atomic():
                        done = handler.failed(item, exc, now)
                        queue.complete(db, item, done, now, batch)
                    result.failed.append(item.id)
                result.outbox_rows += len(done.outbox)
                result.inbox_ids.append(item.id)
                result.residents.add(item.resident_id)
        return result

    async def next_timer_due(self) -> datetime | None:
        return await self._process.read(queue.next_timer_due)

    async def inbox_status(self, inbox_id: int) -> str | None:
        return await self._intake.read(pipeline.inbox_status, inbox_id)

    # ---- reading what was sent -----------------------------------------------------------

    async def replies_for(self, inbox_id: int) -> list[r.SentMessage]:
        def read(db: sqlite_utils.Database) -> list[r.SentMessage]:
            return noticefanout.fill_sent(db, outbox.replies_for(db, inbox_id))

        return await self._intake.read(read)

    async def sent_to(self, resident_id: str, after_id: int = 0) -> list[r.SentMessage]:
        def read(db: sqlite_utils.Database) -> list[r.SentMessage]:
            return noticefanout.fill_sent(db, outbox.sent_to(db, resident_id, after_id))

        return await self._intake.read(read)

    async def conversation(self, resident_id: str) -> dict[str, Any] | None:
        return await self._intake.read(pipeline.conversation, resident_id)

    def sender_limits(self, limits: r.FloodLimits) -> SenderLimits | None:
        return None  # one process per file: its own count is exact

    # ---- health -----------------------------------------------------------------------------

    async def health(self) -> r.StoreHealth:
        """The file is still ours, reads as SQLite, and takes a write (probed at most once
        a second; faults the lanes met on the way are reported too)."""
        if self._intake.db is None:
            return r.StoreHealth(False, "closed", f"{self.path}: the store is not open")
        if self.path == ":memory:":
            return r.StoreHealth(True)
        if time.monotonic() >= self._next_quick_check and not self._quick_checking:
            self._quick_checking = asyncio.create_task(self._quick_check())
        async with self._health_lock:
            if time.monotonic() - self._probed >= HEALTH_TTL:
                fault = self.faults.fatal or await asyncio.to_thread(self.faults.probe_files)
                if fault is None:
                    stamp = pipeline.utc_text(datetime.now(UTC))
                    with contextlib.suppress(StoreUnavailable):  # the lane noted what it was
                        await self._deliver.write(health.write_probe, stamp, urgent=True)
                self._probed = time.monotonic()
        # What the probes and the lanes found, as of now (a fault the lanes met after the
        # last probe is never hidden behind a cached answer).
        return self.faults.health(self.path)

    async def _quick_check(self) -> None:
        """The whole file checked now and then (QUICK_CHECK_EVERY), off the event loop:
        damage in pages nothing has read lately becomes a fault too."""
        try:
            self.faults.found(await asyncio.to_thread(health.quick_check_fault, self.path))
        finally:
            self._next_quick_check = time.monotonic() + QUICK_CHECK_EVERY
            self._quick_checking = None

    # ---- upkeep ----------------------------------------------------------------------------

    async def purge_old(self, before: datetime) -> dict[str, int]:
        def write(db: sqlite_utils.Database) -> dict[str, int]:
            counts = pipeline.purge_old(db, before)
            counts.update(staff.purge_old(db, pipeline.utc_text(before)))
            return counts

        return await self._intake.write(write)
