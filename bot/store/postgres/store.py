"""PostgresStore: bot.store.base.Store on one PostgreSQL database, shared by any number of
`bot serve` processes on one machine or many.

Lanes (a thread each, on one connection pool) as in the SQLite backend: intake (webhooks
wait for its commits; reads), staff (the console and the handoff desk), processing (turns),
delivery (outbox bookkeeping), upkeep (the process's lease) and notices (staff notices:
drafts, reports, the fan-out's batches). Across processes:

- intake NOTIFYs `bot_inbox` with its commit; a batch NOTIFYs `bot_batch` (whether it
  queued replies, which inbox rows it finished); every process LISTENs and sets its
  Wakeups (its own notifications are ignored: it woke itself already). The pipeline's
  one-second safety poll covers a lost notification (a listener reconnecting).
- per-resident order and each row processed once: queue.claim_pending (a resident is
  locked for the transaction that runs its turn; a dead process's session ends and its
  locks and uncommitted work with it: the row is pending again for the survivors);
- each outbox row sent once per claim, and a dead process's claims taken over once its
  lease (renewed every second) runs out: bot.store.postgres.delivery;
- the send rate is one budget in the database (PostgresSendBudget).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import PoolTimeout

from bot.store import records as r
from bot.store.base import AuditSealer, StoreUnavailable, TurnHandler, Wakeups
from bot.store.codec import Codec
from bot.store.dbthread import DbThread
from bot.store.postgres import (
    delivery,
    health,
    intake,
    noticefanout,
    pipeline,
    queue,
    sealing,
    staff,
)
from bot.store.postgres.connection import (
    BATCH_CHANNEL,
    CONNECT_KWARGS,
    INBOX_CHANNEL,
    RETRIES,
    Conn,
    Lane,
    connect,
    conninfo,
    lost,
    make_pool,
    unavailable,
)
from bot.store.postgres.delivery import PostgresDelivery
from bot.store.postgres.faq import PostgresFaqMisses
from bot.store.postgres.limits import PostgresSenderLimits, forget_quiet
from bot.store.postgres.notices import PostgresNotices
from bot.store.postgres.schema import migrate
from bot.store.postgres.services import PostgresTurnServices
from bot.store.postgres.staffwork import PostgresConsole, PostgresStaffDesk

log = logging.getLogger("bot.store")

UPKEEP_EVERY = 1.0  # seconds between lease renewals (the lease lasts delivery.LEASE_SECONDS)
FORGET_EVERY = 60  # upkeep rounds between deletions of quiet senders' flood counts
HEALTH_TTL = 1.0  # seconds between health probes (/healthz may be polled often)
# A webhook waits at most this long for a connection (then 503, and the provider retries):
# long enough for a busy pool, short enough to answer before the provider gives up.
INTAKE_WAIT = 3.0
_FATAL = (psycopg.OperationalError, psycopg.InterfaceError)


class _CompleteOneByOne(Exception):
    """The batch's completions could not be written together: run it again, carefully."""


def process_owner() -> str:
    """This process's name in claims and leases: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class PostgresStore:
    """bot.store.base.Store on the PostgreSQL database at `url`."""

    def __init__(
        self, url: str, audit: AuditSealer | None = None, codec: Codec | None = None
    ) -> None:
        self.url = url
        # With a codec (bot.store.open_store always gives one), plain texts left by an older
        # version are sealed in place at the first open; the sealing itself is SealedStore's.
        self.codec = codec
        self.owner = process_owner()
        self.name = health.server_name(url)
        self.faults = health.Faults(self.name)
        self.pool = make_pool(url, size=5)
        self._intake = Lane("bot-intake", self.pool, self.faults, wait=INTAKE_WAIT)
        # Staff's work has a lane of its own: an audit export or a verification of the
        # whole log must not hold webhooks' commits back (SQLite has one writer anyway).
        self._staff = Lane("bot-staff", self.pool, self.faults)
        self._process = Lane("bot-process", self.pool, self.faults)
        self._deliver = Lane("bot-delivery", self.pool, self.faults)
        self._upkeep = Lane("bot-upkeep", self.pool, self.faults)
        # Staff notices: drafts, reports and the dispatcher's fan-out batches.
        self._notices = Lane("bot-notices", self.pool, self.faults)
        self._health = DbThread("bot-health")  # probes wait on the pool: never on a lane
        self._health_lock = asyncio.Lock()
        self._probed = -HEALTH_TTL  # monotonic time of the last probe
        self._open = False
        self.delivery = PostgresDelivery(self._deliver, self.owner)
        self.staff = PostgresStaffDesk(self._staff, audit)
        self.console = PostgresConsole(self._staff, audit)
        self.faq = PostgresFaqMisses(self._intake)
        self.notices = PostgresNotices(self._notices, audit)
        self.wake = Wakeups()
        self._tasks: list[asyncio.Task[None]] = []
        self._serving = False

    # ---- life cycle ------------------------------------------------------------------

    async def open(self, wake: Wakeups | None = None, *, serve: bool = False) -> None:
        self.wake = wake or self.wake

        def first() -> None:
            try:  # one plain try first: a server that is not there is one line, at once
                connect(self.url, connect_timeout=5).close()
            except psycopg.OperationalError as exc:
                reason = " ".join(str(exc).split())
                raise StoreUnavailable(
                    f"cannot connect to PostgreSQL {self.name}: {reason}"
                ) from exc
            try:
                self.pool.open(wait=True, timeout=15)
            except PoolTimeout as exc:
                self.pool.close()
                raise StoreUnavailable(
                    f"cannot connect to PostgreSQL {self.name}: {self._why_not()}"
                ) from exc
            with self.pool.connection() as conn:
                migrate(conn)
                if self.codec is not None:
                    changed = sealing.seal_once(conn, self.codec)
                    if changed:
                        log.info("texts sealed at rest", extra={"rows": changed})

        await self._intake.call(first)
        self._open = True
        if serve:
            # No start-up reset (other processes' work is theirs): leases hand over rows of
            # processes that died, including a previous run of this one.
            self._serving = True
            await self._renew()
            self._tasks = [
                asyncio.create_task(self._listen(), name="bot-store-listen"),
                asyncio.create_task(self._keep_lease(), name="bot-store-lease"),
            ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._serving:
            with contextlib.suppress(StoreUnavailable):
                await self._upkeep.run(delivery.end_lease, self.owner)
            self._serving = False
        for lane in (
            self._intake,
            self._staff,
            self._process,
            self._deliver,
            self._upkeep,
            self._notices,
        ):
            lane.close()
        self._open = False
        async with self._health_lock:
            self._health.close()
        await asyncio.to_thread(self.pool.close)

    def _why_not(self) -> str:
        """Why the pool could not connect, in the server's words (one line, no password)."""
        try:
            connect(self.url, connect_timeout=5).close()
        except psycopg.Error as exc:
            return " ".join(str(exc).split())
        return "no connection within 15 s"

    async def _renew(self) -> None:
        reclaimed = await self._upkeep.run(delivery.renew_lease, self.owner)
        if reclaimed:
            log.warning(
                "took over replies a stopped process was sending", extra={"rows": reclaimed}
            )
            self.wake.outbox.set()

    async def _keep_lease(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(UPKEEP_EVERY)
            rounds += 1
            try:
                await self._renew()
                if rounds % FORGET_EVERY == 0:
                    await self._upkeep.run(forget_quiet)
            except StoreUnavailable as exc:
                log.error("lease renewal failed", extra={"error": type(exc.__cause__).__name__})

    async def _listen(self) -> None:
        """Wake on other processes' commits. Reconnects; after a reconnect both queues are
        looked at once (a notification may have gone by meanwhile)."""
        kwargs = {k: v for k, v in CONNECT_KWARGS.items() if k != "row_factory"}
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(conninfo(self.url), **kwargs)
                async with conn:
                    await conn.execute(f"LISTEN {INBOX_CHANNEL}; LISTEN {BATCH_CHANNEL}")
                    self.wake.inbox.set()
                    self.wake.outbox.set()
                    async for note in conn.notifies():
                        self._heard(note.channel, note.payload)
            except psycopg.Error as exc:
                log.warning("listener reconnecting", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)

    def _heard(self, channel: str, payload: str) -> None:
        owner, _, rest = payload.partition("|")
        if owner == self.owner:
            return  # this process woke itself already
        if channel == INBOX_CHANNEL:
            self.wake.inbox.set()
            return
        replies, _, ids = rest.partition("|")
        if replies == "1":
            self.wake.outbox.set()
        if ids and self.wake.processed is not None:
            self.wake.processed([int(x) for x in ids.split(",")])

    # ---- intake ------------------------------------------------------------------------

    async def ingest(self, rows: Sequence[r.InboundRow], now: datetime) -> list[r.Ingested]:
        return await self._intake.run(intake.ingest, list(rows), now, self.owner)

    async def record_status(
        self,
        provider: str,
        provider_message_id: str,
        status: str,
        error_code: str | None,
        now: datetime,
    ) -> bool:
        return await self._intake.run(
            pipeline.record_status, provider, provider_message_id, status, error_code, now
        )

    # ---- processing --------------------------------------------------------------------

    async def process_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        return await self._process.call(self._process_batch, handler, limit)

    def _process_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        """The oldest pending row of up to `limit` residents, in one transaction. The turns'
        completions are written together at the end (one round trip); should that write be
        refused, the batch is rolled back and run again turn by turn, each completion in
        its turn's savepoint (a turn whose completion cannot be stored is stored failed)."""
        try:
            with self.pool.connection() as conn:
                try:
                    return self._batch(conn, handler, limit, careful=False)
                except _CompleteOneByOne as exc:
                    log.warning("batch written turn by turn", extra={"error": str(exc.__cause__)})
                    return self._batch(conn, handler, limit, careful=True)
        except (*_FATAL, PoolTimeout) as exc:
            lost(self.pool)
            raise unavailable(exc, "batch") from exc
        except psycopg.DatabaseError as exc:
            raise unavailable(exc, "batch") from exc

    def _batch(self, conn: Conn, handler: TurnHandler, limit: int, careful: bool) -> r.BatchResult:
        result = r.BatchResult()
        with conn.transaction():
            now = handler.now()
            items, batch = queue.claim_pending(conn, limit, now)
            if not items:
                return result
            services = PostgresTurnServices(conn)
            finished: list[tuple[r.Claimed, r.Completion]] = []
            # Resident order: rows of residents are locked in the order intake locks them.
            for item in sorted(items, key=lambda item: item.resident_id):
                done, failed = self._turn(conn, handler, services, item, now, batch, careful)
                finished.append((item, done))
                if failed:
                    result.failed.append(item.id)
                result.outbox_rows += len(done.outbox)
                result.inbox_ids.append(item.id)
                result.residents.add(item.resident_id)
            done_ids = ",".join(map(str, result.inbox_ids))
            replies = "1" if result.outbox_rows else "0"
            try:
                with conn.transaction(), conn.pipeline():
                    if not careful:
                        queue.complete_all(conn, finished, now, batch)
                    conn.execute(
                        "SELECT pg_notify(%s, %s)",
                        [BATCH_CHANNEL, f"{self.owner}|{replies}|{done_ids}"],
                    )
            except _FATAL:
                raise
            except psycopg.DatabaseError as exc:
                raise _CompleteOneByOne() from exc
        return result

    @staticmethod
    def _turn(
        conn: Conn,
        handler: TurnHandler,
        services: PostgresTurnServices,
        item: r.Claimed,
        now: datetime,
        batch: int,
        careful: bool,
    ) -> tuple[r.Completion, bool]:
        """One turn; what it stored through its services is in a savepoint of its own. Run
        again when the server chose it as a deadlock's victim (its locks were let go).
        `careful`: its completion is written in the savepoint too, at once."""
        error: BaseException | None = None
        for _ in range(RETRIES):
            services.saved = False
            try:
                done = handler.handle(item, services, now)
                if careful:
                    with conn.pipeline():
                        services.savepoint()
                        queue.complete_all(conn, [(item, done)], now, batch)
                        conn.execute("RELEASE SAVEPOINT turn")
                elif services.saved:
                    conn.execute("RELEASE SAVEPOINT turn")
                return done, False
            except errors.TransactionRollback as exc:
                services.undo()
                error = exc
                time.sleep(0.001)
            except _FATAL:
                raise  # the connection is gone: the batch is not committed
            except Exception as exc:  # a bug must not lose the message or stall the queue
                services.undo()
                error = exc
                break
        assert error is not None
        done = handler.failed(item, error, now)
        if careful:
            with conn.pipeline():
                queue.complete_all(conn, [(item, done)], now, batch)
        return done, True

    async def next_timer_due(self) -> datetime | None:
        return await self._process.run(queue.next_timer_due)

    async def inbox_status(self, inbox_id: int) -> str | None:
        return await self._intake.run(pipeline.inbox_status, inbox_id)

    # ---- reading what was sent -----------------------------------------------------------

    async def replies_for(self, inbox_id: int) -> list[r.SentMessage]:
        def read(conn: Conn) -> list[r.SentMessage]:
            return noticefanout.fill_sent(conn, pipeline.replies_for(conn, inbox_id))

        return await self._intake.run(read)

    async def sent_to(self, resident_id: str, after_id: int = 0) -> list[r.SentMessage]:
        def read(conn: Conn) -> list[r.SentMessage]:
            return noticefanout.fill_sent(conn, pipeline.sent_to(conn, resident_id, after_id))

        return await self._intake.run(read)

    async def conversation(self, resident_id: str) -> dict[str, Any] | None:
        return await self._intake.run(pipeline.conversation, resident_id)

    def sender_limits(self, limits: r.FloodLimits) -> PostgresSenderLimits:
        """Flood limits counted in the database for every process (checks grouped on the
        intake lane: a webhook's check and its commit go the same way)."""
        return PostgresSenderLimits(self._intake, limits)

    # ---- health -----------------------------------------------------------------------------

    async def health(self) -> r.StoreHealth:
        """A connection from the pool and a committed write (probed at most once a second,
        on a thread of its own); faults the lanes met since the last probe are reported too
        (bot.store.postgres.health)."""
        if not self._open:
            return r.StoreHealth(False, "closed", f"PostgreSQL {self.name}: the store is not open")
        async with self._health_lock:
            if time.monotonic() - self._probed >= HEALTH_TTL:
                started = time.monotonic()
                fault = await self._health.run(health.probe, self.pool, self.name)
                if fault is not None and fault.problem == "unavailable":
                    await self._health.run(lost, self.pool)  # replace broken idle connections
                self.faults.probed(fault, started)
                self._probed = time.monotonic()
        return self.faults.health()

    # ---- upkeep ----------------------------------------------------------------------------

    async def purge_old(self, before: datetime) -> dict[str, int]:
        def write(conn: Conn) -> dict[str, int]:
            counts = pipeline.purge_old(conn, before)
            counts.update(staff.purge_old(conn, before))
            return counts

        return await self._intake.run(write)
