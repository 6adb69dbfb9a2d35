"""The running pipeline: intake with group commit, the processing loop, timers, waiters.

Backend-neutral: the store (bot.store.base.Store) keeps the guarantees (ack after commit,
one turn per transaction, per-resident order); this module decides when to ask it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from bot.channels.base import Inbound, StatusEvent
from bot.clock import Adjustable, Clock
from bot.identity import NumberVault
from bot.metrics import Metrics
from bot.pipeline.intake import identity_of, prepare_inbound
from bot.pipeline.turns import FirstLook, TurnRunner
from bot.store.base import RowNotStored, Store, Wakeups
from bot.store.records import InboundRow, Ingested, SentMessage, StoreHealth
from bot.system_texts import SystemTexts
from bot.turn import Responder

log = logging.getLogger("bot.pipeline")

T = TypeVar("T")

HEALTH_EVERY = 2.0  # seconds between the pipeline's own health checks
HEALTH_TIMEOUT = 10.0  # a store that does not answer a health check in this time is unhealthy


class Pipeline:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        vault: NumberVault,
        responder_factory: Callable[[], Responder],
        texts: SystemTexts,
        metrics: Metrics,
        max_chars: int = 2000,
        batch_size: int = 32,
        first_look: FirstLook | None = None,
    ) -> None:
        self.store = store
        self.first_look = first_look
        self.clock = clock
        self.vault = vault
        self.texts = texts
        self.metrics = metrics
        self.max_chars = max_chars
        self.batch_size = batch_size
        self._responder_factory = responder_factory
        self.responder: Responder | None = None
        self._runner: TurnRunner | None = None
        self._pending: list[tuple[InboundRow, asyncio.Future[Ingested]]] = []
        self._intake_wake = asyncio.Event()
        self.wake = Wakeups(processed=self._processed)
        self.outbox_wake = self.wake.outbox  # the delivery worker waits on this
        self._waiters: dict[int, list[asyncio.Future[None]]] = defaultdict(list)
        self._turns = asyncio.Lock()  # a batch, or a flow reload: never both at once
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.ready = False
        self.health = StoreHealth(True)  # the last check (bot_store_healthy, /healthz)

    # ---- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open(self.wake, serve=True)
        # Loading Sudachi and the flows takes seconds: off the event loop.
        self.responder = await asyncio.to_thread(self._responder_factory)
        self._runner = TurnRunner(
            self.responder,
            self.clock,
            self.texts,
            self.max_chars,
            first_look=self.first_look,
            metrics=self.metrics,
        )
        self._tasks = [
            asyncio.create_task(self._intake_loop(), name="bot-intake"),
            asyncio.create_task(self._process_loop(), name="bot-process"),
            asyncio.create_task(self._health_loop(), name="bot-health"),
        ]
        self.ready = True
        self.wake.inbox.set()  # resume whatever was pending before a restart
        self.wake.outbox.set()

    async def stop(self) -> None:
        self._stopping = True
        self.ready = False
        self._intake_wake.set()
        self.wake.inbox.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, future in self._pending:
            if not future.done():
                future.set_exception(RuntimeError("server stopping"))
        async with self._turns:
            await self.store.close()

    # ---- intake ------------------------------------------------------------------

    async def ingest(self, inbound: Inbound, limited: str | None = None) -> Ingested:
        """Returns once the message is durably stored (or known to be a duplicate).
        `limited`: how it is to be answered (bot.channels.guards); it is processed anyway."""
        if self._stopping or not self.ready:
            raise RuntimeError("pipeline not running")
        row = prepare_inbound(inbound, self.vault, self.clock.now(), self.max_chars, limited)
        future: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        self._intake_wake.set()
        return await future

    async def _intake_loop(self) -> None:
        while not self._stopping:
            await self._intake_wake.wait()
            self._intake_wake.clear()
            while self._pending:
                # Everything that arrived while the last commit ran goes in this commit.
                group, self._pending = self._pending, []
                try:
                    results = await self.store.ingest([row for row, _ in group], self.clock.now())
                except Exception as exc:
                    log.error("intake commit failed", extra={"error": type(exc).__name__})
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.metrics.ingest_batch.observe(len(group))
                for (row, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue
                    if result.error is not None:  # this row alone: the others are stored
                        future.set_exception(RowNotStored(f"not stored: {result.error}"))
                        continue
                    self.metrics.inbound.labels(row.provider, str(result.duplicate).lower()).inc()
                    if row.limited and not result.duplicate:
                        self.metrics.inbound_limited.labels(row.limited).inc()
                    future.set_result(result)
                self.wake.inbox.set()

    # ---- processing ----------------------------------------------------------------

    async def _process_loop(self) -> None:
        while not self._stopping:
            try:
                done = await self._run_batch()
            except Exception as exc:  # keep serving; the rows stay pending and are retried
                log.error("processing batch failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)
                continue
            if done:
                continue  # more may be pending
            await self._sleep_until_work()

    async def _run_batch(self) -> int:
        """One batch of turns; wakes delivery and whoever waits for these rows."""
        assert self._runner is not None
        started = self.clock.monotonic()
        async with self._turns:
            batch = await self.store.process_batch(self._runner, self.batch_size)
        if batch.inbox_ids:
            self.metrics.processed.inc(len(batch.inbox_ids))
            self.metrics.failed.inc(len(batch.failed))
            self.metrics.batch_seconds.observe(self.clock.monotonic() - started)
            if batch.outbox_rows:
                self.wake.outbox.set()
            self._processed(batch.inbox_ids)
        return len(batch.inbox_ids)

    def _processed(self, inbox_ids: Sequence[int]) -> None:
        """These rows are done (by this process, or another sharing the database)."""
        for inbox_id in inbox_ids:
            for future in self._waiters.pop(inbox_id, []):
                if not future.done():
                    future.set_result(None)

    async def advance_clock(self, delta: timedelta, limit: int = 10_000) -> int:
        """Move an adjustable clock on, firing every timer that falls due on the way, each at
        its own time and in order (as `bot chat /wait`); returns the turns that ran."""
        clock = self.clock
        if not isinstance(clock, Adjustable):
            raise TypeError("this clock cannot be moved")
        target = clock.now() + delta
        turns = 0
        for _ in range(limit):
            due = await self.store.next_timer_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.advance(due - clock.now())
            ran = await self._drain()
            turns += ran
            if not ran and await self.store.next_timer_due() == due:
                break  # nothing can take it now; never spin
        if target > clock.now():
            clock.advance(target - clock.now())
        return turns + await self._drain()

    async def _drain(self) -> int:
        turns = 0
        while done := await self._run_batch():
            turns += done
        return turns

    async def _sleep_until_work(self) -> None:
        next_due = await self.store.next_timer_due()
        timeout = 1.0
        if next_due is not None:
            timeout = min(timeout, max((next_due - self.clock.now()).total_seconds(), 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.inbox.wait(), timeout=timeout)
        self.wake.inbox.clear()

    async def between_batches(self, fn: Callable[[], T]) -> T:
        """Run fn on a worker thread while no batch runs (flow reloads)."""
        async with self._turns:
            return await asyncio.to_thread(fn)

    # ---- health -----------------------------------------------------------------------

    async def check_health(self) -> StoreHealth:
        """The store's health now (/healthz, and every HEALTH_EVERY seconds regardless of
        who asks): counted in /metrics, and logged when it changes."""
        try:
            health = await asyncio.wait_for(self.store.health(), HEALTH_TIMEOUT)
        except TimeoutError:
            health = StoreHealth(
                False, "unresponsive", f"the store did not answer within {HEALTH_TIMEOUT:g} s"
            )
        except Exception as exc:  # a health check must answer, whatever broke
            health = StoreHealth(False, "unavailable", type(exc).__name__)
        self.metrics.store_healthy.set(1 if health.ok else 0)
        if not health.ok:
            self.metrics.health_failures.labels(health.problem or "unknown").inc()
        if (health.ok, health.problem) != (self.health.ok, self.health.problem):
            if health.ok:
                log.warning("store healthy again")
            else:
                log.error(
                    "store unhealthy: nothing is acknowledged that cannot be stored",
                    extra={"problem": health.problem, "detail": health.detail},
                )
        self.health = health
        return health

    async def _health_loop(self) -> None:
        while not self._stopping:
            await self.check_health()
            await asyncio.sleep(HEALTH_EVERY)

    # ---- queries used by the HTTP layer --------------------------------------------

    async def wait_processed(self, inbox_id: int, timeout: float) -> bool:
        """Wait until the inbox row is processed; False on timeout."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[inbox_id].append(future)
        if await self.store.inbox_status(inbox_id) in {"done", "failed"}:
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

    async def replies_for(self, inbox_id: int) -> list[SentMessage]:
        return await self.store.replies_for(inbox_id)

    async def messages_for(self, number: str, after_id: int) -> list[SentMessage]:
        """What the simulator sent to a simulated number (never a real resident's)."""
        return await self.store.sent_to(self._simulated(number), after_id)

    async def simulated_conversation(self, number: str) -> dict | None:
        """A simulated resident's stored conversation (the simulator's staff panel)."""
        return await self.store.conversation(self._simulated(number))

    def _simulated(self, number: str) -> str:
        return self.vault.resident_id(identity_of("sim", number))

    async def record_status(self, event: StatusEvent) -> bool:
        return await self.store.record_status(
            event.provider,
            event.provider_message_id,
            event.status,
            event.error_code,
            self.clock.now(),
        )
