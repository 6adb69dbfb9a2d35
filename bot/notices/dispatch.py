"""The server's notice dispatcher: approved notices become outbox rows when their time
comes, and notices move on (sending → sent, expired, cancelled rows dropped).

Fan-out runs in short batches (one transaction each, `BATCH` residents): the write lock is
never held long enough to delay a webhook's acknowledgement, and a crash resumes from the
last committed batch (rows are unique per notice and resident). Notices of a category that
waits out quiet hours are not fanned out during them (what is already queued waits in the
outbox: the delivery claim skips it). The delivery worker sends the rows at the channel's
rate, replies first (bot.delivery.worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.notices.policy import NoticePolicy
from bot.store.base import Notices
from bot.store.records import NewAuditEntry, Notice, Route

log = logging.getLogger("bot.notices")

BATCH = 500  # residents per fan-out transaction (a few milliseconds of the write lock)
# Residents queued per second at most: a million in about 40 s (the city's target is 60 s),
# and the disk's write bandwidth left for the fsyncs webhooks' acknowledgements wait for.
RATE = 25_000.0
DROP_BATCH = 2000  # rows of a cancelled or expired notice dropped per transaction
SLICE = 0.25  # seconds of fan-out before the dispatcher looks at the other notices again
PROGRESS_EVERY = timedelta(seconds=5)  # the report's chart: one point per this while sending
IDLE = 1.0  # seconds between looks when nothing is due
DRAIN_DAYS = 7  # finished notices whose leftover rows are still dropped


class Dispatcher:
    def __init__(
        self,
        notices: Notices,
        policy: Callable[[], NoticePolicy],
        clock: Clock,
        route: Route,
        local: frozenset[str],
        outbox_wake: asyncio.Event | None = None,
        batch: int = BATCH,
        rate: float = RATE,
    ) -> None:
        self.notices = notices
        self.policy = policy
        self.clock = clock
        self.route = route
        self.local = local
        self.outbox_wake = outbox_wake
        self.batch = batch
        self.rate = rate  # residents per second at most (0: as fast as the store goes)
        self.kick = asyncio.Event()  # set when staff approve or cancel: look at once
        self._progress_at: dict[str, datetime] = {}
        self._drained: set[str] = set()
        self._began: dict[str, float] = {}  # notice → when its fan-out began (monotonic)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.step()
            except Exception:
                log.exception("notice dispatch failed")
                busy = False
            if busy:
                await asyncio.sleep(0)  # let webhooks and turns run between slices
                continue
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.kick.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waiters, timeout=IDLE, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()
            self.kick.clear()

    async def step(self) -> bool:
        """Look at every notice that may need something once. True if work remains now."""
        policy = self.policy()
        busy = False
        for notice in await self.notices.in_states(("approved", "scheduled", "sending")):
            busy |= await self._advance(notice, policy)
        await self._drain_finished()
        return busy

    async def _advance(self, notice: Notice, policy: NoticePolicy) -> bool:
        now = self.clock.now()
        if notice.expires_at is not None and now >= notice.expires_at:
            await self.notices.set_state(
                notice.id, "expired", now, ("approved", "scheduled", "sending")
            )
            log.info("notice expired", extra={"notice": notice.id})
            await self._progress(notice.id, now, force=True)
            return True
        held = notice.content.category in policy.categories and policy.held(
            notice.content.category, now
        )
        if notice.state in ("approved", "scheduled"):
            due = notice.send_at is None or notice.send_at <= now
            if not due or held:
                if notice.state == "approved":
                    await self.notices.set_state(notice.id, "scheduled", now, ("approved",))
                return False
            entry = NewAuditEntry(
                now,
                notice.approved_by or "bot",
                "notice.sending",
                subject=notice.id,
                detail={"category": notice.content.category},
            )
            if not await self.notices.set_state(
                notice.id, "sending", now, ("approved", "scheduled"), audit=entry
            ):
                return False
            log.info("notice sending", extra={"notice": notice.id})
        if not notice.fanout_done:
            if held:
                return False  # resumes when quiet hours end
            return await self._fan_out(notice.id)
        await self._progress(notice.id, now)
        finished = not await self.notices.unfinished(notice.id)
        if finished and await self.notices.set_state(notice.id, "sent", now, ("sending",)):
            log.info("notice sent", extra={"notice": notice.id})
            await self.notices.forget_list(notice.id)
            await self._progress(notice.id, now, force=True)
        return False

    async def _fan_out(self, notice_id: str) -> bool:
        """Batches for up to SLICE seconds; True while the audience is not exhausted."""
        started = self.clock.monotonic()
        began = self._began.setdefault(notice_id, started)
        residents = 0
        while self.clock.monotonic() - started < SLICE:
            step = await self.notices.fan_out(
                notice_id, self.route, self.local, self.batch, self.clock.now()
            )
            if step.queued and self.outbox_wake is not None:
                self.outbox_wake.set()
            if step.done:
                seconds = self.clock.monotonic() - began
                log.info(
                    "notice queued for everyone",
                    extra={"notice": notice_id, "seconds": round(seconds, 3)},
                )
                return True
            residents += step.queued + step.stopped + step.weekly_cap
            ahead = residents / self.rate - (self.clock.monotonic() - started) if self.rate else 0
            # Paced: the disk keeps room for webhooks' fsyncs; acknowledgements go between.
            await asyncio.sleep(max(ahead, 0))
        return True

    async def _progress(self, notice_id: str, now: datetime, force: bool = False) -> None:
        last = self._progress_at.get(notice_id)
        if not force and last is not None and now - last < PROGRESS_EVERY:
            return
        self._progress_at[notice_id] = now
        await self.notices.record_progress(notice_id, now, await self.notices.counts(notice_id))

    async def _drain_finished(self) -> None:
        """Rows of cancelled and expired notices still queued are dropped, in batches."""
        now = self.clock.now()
        for notice in await self.notices.in_states(("cancelled", "expired")):
            if notice.id in self._drained:
                continue
            if notice.finished_at and now - notice.finished_at > timedelta(days=DRAIN_DAYS):
                self._drained.add(notice.id)
                continue
            status = notice.state
            while await self.notices.drop_rows(notice.id, status, DROP_BATCH):
                await asyncio.sleep(0)
            await self.notices.forget_list(notice.id)
            await self._progress(notice.id, now, force=True)
            if not await self.notices.unfinished(notice.id):
                # A row in flight while it was drained may still come back to pending
                # (a send that failed): then the next pass drops it too.
                self._drained.add(notice.id)
