"""The delivery worker: outbox → channel.send, with retries, fallback, rate, quiet hours, loop guard.

Nothing lost, nothing twice. A row is marked 'sending' in the transaction that claims it,
and recorded 'sent' as soon as its provider answers (group-committed with whatever other
sends finished meanwhile): a crash leaves in doubt only the sends in flight at that
instant. Those, and sends that got no answer (a timeout), come back pending and in doubt;
before sending one again the worker asks its provider whether it arrived
(Channel.reconcile: Twilio's message list is searched; RCS and the gateway recognise a
repeat by the key every send carries) and records what it finds instead of resending.
This holds for any outbox row, replies and notices alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp

from bot.channels.base import Channel, Outbound, SendResult
from bot.channels.gateway import GatewayChannel
from bot.channels.rcs import RcsChannel
from bot.channels.settings import ChannelSettings
from bot.channels.twilio import TwilioChannel
from bot.clock import Clock
from bot.delivery.policy import MAX_ATTEMPTS, LoopGuard, backoff, is_quiet, quiet_ends
from bot.delivery.ratelimit import PriorityLimiter
from bot.delivery.render import as_rich, as_sms
from bot.metrics import Metrics
from bot.store.base import DeliveryStore, SendBudget
from bot.store.records import OutboxItem, SentMark

log = logging.getLogger("bot.delivery")

BATCH = 20  # rows claimed at a time at the default rate; more at a higher rate
MAX_BATCH = 200
CONCURRENCY = 16
SWEEP_EVERY = 1.0  # seconds between checks for rich messages not delivered in time


class Vault(Protocol):
    def decrypt(self, blob: bytes) -> str: ...


@dataclass
class DeliveryDeps:
    """Everything the worker needs, built by create_app (bot.app)."""

    store: DeliveryStore
    vault: Vault
    clock: Clock
    settings: ChannelSettings
    wake: asyncio.Event | None = None  # set when the outbox may have work (Wakeups.outbox)
    channels: dict[str, Channel] = field(default_factory=dict)  # overrides, for tests
    metrics: Metrics | None = None
    # The priorities of staff notices that wait now (quiet hours, bot.notices.policy).
    held: Callable[[datetime], frozenset[int]] = lambda now: frozenset()


def batch_size(rate: float) -> int:
    """Rows per claim: a tenth of a second's worth at the channel's rate (at least BATCH),
    so a fast channel is not held back by one claim's commit per 20 sends."""
    return max(BATCH, min(MAX_BATCH, int(rate / 10)))


def build_channels(cs: ChannelSettings, session: aiohttp.ClientSession) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if cs.twilio:
        channels["twilio"] = TwilioChannel(cs.twilio, session, cs.public_url)
    if cs.rcs:
        channels["rcs"] = RcsChannel(cs.rcs, session)
    if cs.gateway:
        channels["gateway"] = GatewayChannel(cs.gateway, session)
    return channels


class DeliveryWorker:
    def __init__(self, deps: DeliveryDeps, channels: dict[str, Channel]) -> None:
        self.deps = deps
        self.cs = deps.settings
        self.channels = channels
        self.providers = sorted(channels)
        self.sms_provider = next((p for p in ("twilio", "gateway") if p in channels), None)
        self.limiters: dict[str, SendBudget] = {
            name: deps.store.send_budget(name, self.cs.send_rate)
            or PriorityLimiter(self.cs.send_rate)
            for name in channels
        }
        self.loop_guard = LoopGuard(self.cs.loop_limit, self.cs.loop_window)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self.batch = batch_size(self.cs.send_rate)
        self._last_sweep = 0.0
        self.sends = 0  # provider calls made (metrics, tests)
        self.store = deps.store
        self._marks = SentMarks(deps.store)
        # Rows whose release back to pending could not be written (the store was away):
        # released again at every step until it can be, or the row would stay 'sending'
        # (and, on PostgreSQL, hold back everything else for that resident).
        self._unreleased: dict[int, tuple[datetime, str]] = {}

    # ---- the loop -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    worked = await self.step()
                except Exception:
                    log.exception("delivery step failed")
                    worked = False
                if not worked:
                    await self._idle(stop)
        finally:
            await self._marks.close()
            for limiter in self.limiters.values():
                await limiter.close()

    async def step(self) -> bool:
        """Claim and deliver one batch; sweep late rich messages. True if anything was due."""
        now = self.deps.clock.now()
        await self._release_pending()
        rows = await self.store.claim(self.providers, now, self.batch, self.deps.held(now))
        if rows:
            groups: dict[str, list[OutboxItem]] = {}
            for row in rows:  # one resident's rows in order; residents side by side
                groups.setdefault(row.resident_id, []).append(row)
            await asyncio.gather(*(self._deliver_group(group) for group in groups.values()))
        if "rcs" in self.channels and self.deps.clock.monotonic() - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = self.deps.clock.monotonic()
            await self.sweep_late_rich()
        return bool(rows)

    async def _idle(self, stop: asyncio.Event) -> None:
        timeout = 1.0
        try:
            now = self.deps.clock.now()
            due = await self.store.next_due(self.providers, self.deps.held(now))
        except Exception:
            due = None
        if due is not None:
            timeout = min(timeout, max((due - self.deps.clock.now()).total_seconds(), 0.01))
        waiters = [asyncio.ensure_future(stop.wait())]
        if self.deps.wake is not None:
            waiters.append(asyncio.ensure_future(self.deps.wake.wait()))
        _, pending = await asyncio.wait(waiters, timeout=timeout, return_when="FIRST_COMPLETED")
        for task in pending:
            task.cancel()
        if self.deps.wake is not None:
            self.deps.wake.clear()

    async def _deliver_group(self, rows: list[OutboxItem]) -> None:
        async with self._slots:
            for row in rows:
                try:
                    await self.deliver(row)
                except Exception as exc:
                    # The type only: exception texts can carry provider payloads with numbers.
                    log.exception(
                        "delivery error", extra={"outbox": row.id, "error": type(exc).__name__}
                    )
                    later = self.deps.clock.now() + timedelta(seconds=backoff(row.attempts))
                    # It may have failed after the provider took the message: in doubt.
                    await self._release(row.id, later, f"error:{type(exc).__name__}")

    async def _release(self, outbox_id: int, later: datetime, error: str) -> None:
        try:
            await self.store.retry(outbox_id, later, error, in_doubt=True)
        except Exception as exc:
            log.warning(
                "could not put a message back to pending; will try again",
                extra={"outbox": outbox_id, "error": type(exc).__name__},
            )
            self._unreleased[outbox_id] = (later, error)

    async def _release_pending(self) -> None:
        for outbox_id, (later, error) in list(self._unreleased.items()):
            try:
                await self.store.retry(outbox_id, later, error, in_doubt=True)
            except Exception:
                return  # the store is still away: the next step tries again
            del self._unreleased[outbox_id]

    # ---- one row --------------------------------------------------------------------

    async def deliver(self, row: OutboxItem) -> None:
        now = self.deps.clock.now()
        kind = row.kind
        if row.expires_at is not None and now >= row.expires_at:
            await self.store.failed(row.id, "notice_expired", now, "expired")
            return
        if kind == "notice":
            if not row.notices_enabled:
                await self.store.failed(row.id, "notices_disabled", now, "suppressed")
                return
            # A turn's own notices (reminders) wait out BOT_QUIET_HOURS row by row; staff
            # notices are held by the claim, by their category (flows/data/notices.yaml).
            if row.notice_id is None and is_quiet(
                now, self.cs.quiet_start_hour, self.cs.quiet_end_hour
            ):
                later = quiet_ends(now, self.cs.quiet_start_hour, self.cs.quiet_end_hour)
                await self.store.retry(row.id, later, "quiet_hours")
                return
        if not row.phone_enc:
            await self.store.failed(row.id, "no_number", now)
            return
        to = self.deps.vault.decrypt(row.phone_enc)
        if not self.loop_guard.allow(row.resident_id, row.text, self.deps.clock.monotonic()):
            log.warning("loop guard stopped a message", extra={"outbox": row.id})
            if self.deps.metrics is not None:
                self.deps.metrics.replies_suppressed.labels("loop_guard").inc()
            await self.store.failed(row.id, "loop_guard", now, "suppressed")
            return
        channel = self.channels[row.provider]
        if channel.capabilities.rich and row.channel == "rcs":
            messages = [as_rich(row, to, channel.capabilities.max_length, self.cs.public_url)]
        else:
            messages = as_sms(row, to, channel.capabilities.max_length)
        result, message_id = await self._send(channel, messages, row)
        await self._record(row, to, result, message_id)

    async def _send(
        self, channel: Channel, messages: list[Outbound], row: OutboxItem
    ) -> tuple[SendResult, str | None]:
        """Send each part of a row; a part of a row in doubt that the provider already has
        is not sent again (its id is taken instead)."""
        first_id: str | None = None
        result = SendResult(ok=False, error_code="nothing_to_send", permanent=True)
        for message in messages:
            if row.in_doubt_since is not None:
                found = await self._reconcile(channel, message, row)
                if isinstance(found, SendResult):  # the provider could not say: later
                    return found, first_id
                if found is not None:
                    result = SendResult(ok=True, provider_message_id=found)
                    first_id = first_id or found
                    continue
            await self.limiters[channel.name].acquire(row.kind)
            self.sends += 1
            result = await channel.send(message)
            if not result.ok:
                if first_id is not None:  # an earlier part is at the provider: a retry
                    result.ambiguous = True  # asks before sending any part again
                break
            first_id = first_id or result.provider_message_id
        return result, first_id

    async def _reconcile(
        self, channel: Channel, message: Outbound, row: OutboxItem
    ) -> str | SendResult | None:
        """The id of this part at the provider when an earlier attempt reached it; None when
        it did not (or a resend is recognised by its key); a SendResult to retry later when
        the provider cannot be asked now (on the last attempts it is sent anyway: a reply
        possibly twice is better than none)."""
        assert row.in_doubt_since is not None
        check = await channel.reconcile(message, row.in_doubt_since)
        if check.outcome == "found":
            known = await self.store.known_ids(channel.name, check.provider_message_ids)
            fresh = [sid for sid in check.provider_message_ids if sid not in known]
            if fresh:  # newest first: the oldest match after the claim is this row's
                self._count("reconciled", channel.name)
                return fresh[-1]
        elif check.outcome == "unknown":
            if row.attempts < MAX_ATTEMPTS - 1:
                result = SendResult(ok=False, error_code="reconcile:unknown")
                result.ambiguous = True  # still in doubt
                return result
            log.warning("sent without reconciling", extra={"outbox": row.id})
        return None

    async def _record(
        self, row: OutboxItem, to: str, result: SendResult, message_id: str | None
    ) -> None:
        now = self.deps.clock.now()
        if result.ok:
            await self._marks.record(SentMark(row.id, message_id, now))
            self._count("sent", row.provider)
            return
        code = result.error_code or "error"
        if result.fallback_to_sms and self.sms_provider:
            self._count("fallback_sms", row.provider)
            await self.send_by_sms(row, to, f"rcs_unavailable:{code}")
        elif result.opted_out:
            log.info("resident opted out at the provider", extra={"outbox": row.id})
            self._count("opted_out", row.provider)
            await self.store.stop_notices(row.resident_id)
            await self.store.failed(row.id, f"opted_out:{code}", now)
        elif result.permanent or row.attempts >= MAX_ATTEMPTS:
            self._count("failed", row.provider)
            await self.store.failed(row.id, code, now)
        else:
            self._count("retry", row.provider)
            later = now + timedelta(seconds=backoff(row.attempts, result.retry_after))
            await self.store.retry(row.id, later, code, in_doubt=result.ambiguous)

    def _count(self, outcome: str, provider: str) -> None:
        """Operators alert on these: failures, retries and fallbacks per provider."""
        if self.deps.metrics is not None:
            self.deps.metrics.delivery.labels(provider, outcome).inc()

    # ---- rich → SMS -------------------------------------------------------------------

    async def send_by_sms(self, row: OutboxItem, to: str, why: str) -> None:
        """The same content, suggestions as numbered choices, by the SMS provider."""
        assert self.sms_provider is not None
        channel = self.channels[self.sms_provider]
        # The row's own key, as when the row is retried as an SMS row (`deliver`): a
        # provider that deduplicates by key recognises the resend (RCS's keys are its own).
        messages = as_sms(row, to, channel.capabilities.max_length)
        result, message_id = await self._send(channel, messages, row)
        now = self.deps.clock.now()
        if result.ok:
            await self.store.switch_to_sms(row.id, self.sms_provider, message_id, now, why)
        elif result.permanent:
            await self.store.failed(row.id, f"{why};sms:{result.error_code}", now)
        else:  # try the SMS again later, as an SMS row (one transaction)
            later = now + timedelta(seconds=backoff(row.attempts, result.retry_after))
            error = f"{why};sms:{result.error_code}"
            await self.store.switch_to_sms(
                row.id, self.sms_provider, None, now, error, later, result.ambiguous
            )

    async def sweep_late_rich(self) -> None:
        """Rich messages not delivered within the timeout are withdrawn and sent by SMS."""
        rcs = self.channels.get("rcs")
        if self.cs.rcs is None or rcs is None or self.sms_provider is None:
            return
        before = self.deps.clock.now() - timedelta(seconds=self.cs.rcs.delivery_timeout)
        for row in await self.store.stale_rich(before, self.batch):
            if not row.phone_enc or not isinstance(rcs, RcsChannel):
                continue
            to = self.deps.vault.decrypt(row.phone_enc)
            revoked = await rcs.revoke(to, row.provider_message_id or "")
            if revoked:
                await self.send_by_sms(row, to, "rcs_not_delivered_in_time")
            else:  # delivered meanwhile (or unknown): leave it, and stop checking it
                await self.store.note(row.id, "rcs_revoke_refused")


class SentMarks:
    """Each successful send recorded as soon as its provider answered. Marks that arrive
    while a commit runs go into the next one (group commit): one fsync serves many sends,
    and no send waits for a whole batch to finish before it counts as sent. When the store
    refuses, the marks are kept and tried again (the rows stay 'sending' meanwhile; after a
    crash they are reconciled, not blindly resent)."""

    def __init__(self, store: DeliveryStore) -> None:
        self.store = store
        self._pending: list[tuple[SentMark, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, mark: SentMark) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((mark, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def _flush(self) -> None:
        delay = 0.05
        while self._pending:
            group, self._pending = self._pending, []
            try:
                await self.store.sent([mark for mark, _ in group])
            except Exception as exc:
                log.error("sends not recorded yet", extra={"error": type(exc).__name__})
                self._pending = group + self._pending
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.05
            for _, future in group:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            try:  # what is recorded already is worth finishing; the rest is in doubt
                await asyncio.wait_for(asyncio.shield(self._flusher), 5)
            except (TimeoutError, asyncio.CancelledError):
                self._flusher.cancel()
        for _, future in self._pending:
            future.cancel()


async def run_delivery(deps: DeliveryDeps, stop_event: asyncio.Event | None = None) -> None:
    """Deliver the outbox until `stop_event` is set (or the task is cancelled)."""
    stop = stop_event or asyncio.Event()
    async with aiohttp.ClientSession() as session:
        channels = deps.channels or build_channels(deps.settings, session)
        if not channels:
            await stop.wait()  # no real provider configured (simulator only)
            return
        await DeliveryWorker(deps, channels).run(stop)
