"""The delivery worker: outbox → channel.send, with retries, fallback, rate, quiet hours, loop guard.

At least once: a row is marked 'sending' in the same transaction that claims it, and the
pipeline puts 'sending' rows back to 'pending' on start-up, so a crash re-sends rather than
loses. Every send carries a key stable for the row, so providers that honour it (RCS
messageId, the gateway's Idempotency-Key) show it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp

from bot.channels.base import Channel, SendResult
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
        # Successful sends are recorded together after each batch: one commit, not one per
        # reply. Until then the rows stay 'sending'; after a crash they are sent again.
        self._sent: list[SentMark] = []
        self.store = deps.store

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
            for limiter in self.limiters.values():
                await limiter.close()

    async def step(self) -> bool:
        """Claim and deliver one batch; sweep late rich messages. True if anything was due."""
        now = self.deps.clock.now()
        rows = await self.store.claim(self.providers, now, self.batch, self.deps.held(now))
        if rows:
            groups: dict[str, list[OutboxItem]] = {}
            for row in rows:  # one resident's rows in order; residents side by side
                groups.setdefault(row.resident_id, []).append(row)
            try:
                await asyncio.gather(*(self._deliver_group(group) for group in groups.values()))
            finally:
                await self._flush_sent()
        if "rcs" in self.channels and self.deps.clock.monotonic() - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = self.deps.clock.monotonic()
            await self.sweep_late_rich()
        return bool(rows)

    async def _flush_sent(self) -> None:
        marks, self._sent = self._sent, []
        if marks:
            await self.store.sent(marks)

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
                    await self.store.retry(row.id, later, f"error:{type(exc).__name__}")

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
            await self.store.failed(row.id, "loop_guard", now, "suppressed")
            return
        channel = self.channels[row.provider]
        if channel.capabilities.rich and row.channel == "rcs":
            rich = as_rich(row, to, channel.capabilities.max_length, self.cs.public_url)
            result, message_id = await self._send(channel, [rich], kind)
        else:
            result, message_id = await self._send(
                channel, as_sms(row, to, channel.capabilities.max_length), kind
            )
        await self._record(row, to, result, message_id)

    async def _send(
        self, channel: Channel, messages: list, kind: str
    ) -> tuple[SendResult, str | None]:
        first_id: str | None = None
        result = SendResult(ok=False, error_code="nothing_to_send", permanent=True)
        for message in messages:
            await self.limiters[channel.name].acquire(kind)
            self.sends += 1
            result = await channel.send(message)
            if not result.ok:
                break
            first_id = first_id or result.provider_message_id
        return result, first_id

    async def _record(
        self, row: OutboxItem, to: str, result: SendResult, message_id: str | None
    ) -> None:
        now = self.deps.clock.now()
        if result.ok:
            self._sent.append(SentMark(row.id, message_id, now))
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
            await self.store.retry(row.id, later, code)

    def _count(self, outcome: str, provider: str) -> None:
        """Operators alert on these: failures, retries and fallbacks per provider."""
        if self.deps.metrics is not None:
            self.deps.metrics.delivery.labels(provider, outcome).inc()

    # ---- rich → SMS -------------------------------------------------------------------

    async def send_by_sms(self, row: OutboxItem, to: str, why: str) -> None:
        """The same content, suggestions as numbered choices, by the SMS provider."""
        assert self.sms_provider is not None
        channel = self.channels[self.sms_provider]
        key = f"{as_rich(row, to).idempotency_key}-sms"
        messages = as_sms(row, to, channel.capabilities.max_length, key=key)
        result, message_id = await self._send(channel, messages, row.kind)
        now = self.deps.clock.now()
        if result.ok:
            await self.store.switch_to_sms(row.id, self.sms_provider, message_id, now, why)
        elif result.permanent:
            await self.store.failed(row.id, f"{why};sms:{result.error_code}", now)
        else:  # try the SMS again later, as an SMS row
            await self.store.switch_to_sms(row.id, self.sms_provider, None, now, why)
            later = now + timedelta(seconds=backoff(row.attempts, result.retry_after))
            await self.store.retry(row.id, later, f"{why};sms:{result.error_code}")

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


async def run_delivery(deps: DeliveryDeps, stop_event: asyncio.Event | None = None) -> None:
    """Deliver the outbox until `stop_event` is set (or the task is cancelled)."""
    stop = stop_event or asyncio.Event()
    async with aiohttp.ClientSession() as session:
        channels = deps.channels or build_channels(deps.settings, session)
        if not channels:
            await stop.wait()  # no real provider configured (simulator only)
            return
        await DeliveryWorker(deps, channels).run(stop)
