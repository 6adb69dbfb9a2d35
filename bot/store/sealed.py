"""Residents' texts encrypted at rest, for every backend: a Store around the backend's Store.

Why here, and not in each backend: what is personal is decided by the records that cross
the seam (a message's text, a reply, a staff note, a conversation's state), not by how a
backend lays out its tables. `SealedStore` seals those fields on the way in and opens them
on the way out, so a backend (SQLite today, PostgreSQL next) only ever receives ciphertext
in its ordinary text and JSON columns, and cannot forget a field. Texts are opened only to
process a turn (inside `process_batch`), to send (the delivery claim) and to show staff or
the simulator's resident (the staff desk, `replies_for`, `sent_to`).

How each field is sealed is bot.store.codec's; the staff console's side is
bot.store.sealed_staff's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.store import records as r
from bot.store.base import (
    Console,
    DeliveryStore,
    FaqMisses,
    Notices,
    SendBudget,
    SenderLimits,
    StaffDesk,
    Store,
    TurnHandler,
    Wakeups,
)
from bot.store.codec import Codec
from bot.store.sealed_notices import SealedNotices, SealedNoticeService
from bot.store.sealed_staff import SealedConsole, SealedStaffDesk
from bot.store.services import (
    Bookings,
    Conversations,
    NoticeService,
    Residents,
    TurnCases,
    TurnServices,
)

# ---- a turn: opened to process, sealed to store ----------------------------------------


class _Conversations:
    def __init__(self, inner: Conversations, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    def get(self, resident_id: str) -> dict[str, Any] | None:
        return self.codec.open_maybe_obj(self.inner.get(resident_id))


class _TurnServices:
    def __init__(self, inner: TurnServices, codec: Codec) -> None:
        self.inner = inner
        self._conversations = _Conversations(inner.conversations, codec)
        self._notices = SealedNoticeService(inner.notices, codec)

    @property
    def residents(self) -> Residents:
        return self.inner.residents

    @property
    def conversations(self) -> Conversations:
        return self._conversations

    @property
    def bookings(self) -> Bookings:
        return self.inner.bookings

    @property
    def notices(self) -> NoticeService:
        return self._notices

    @property
    def cases(self) -> TurnCases:
        return self.inner.cases


class _SealingHandler:
    """The pipeline's TurnHandler, seeing plain texts; the backend sees only sealed ones."""

    def __init__(self, inner: TurnHandler, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec
        self._services: tuple[TurnServices, _TurnServices] | None = None

    def now(self) -> datetime:
        return self.inner.now()

    def _wrap(self, services: TurnServices) -> _TurnServices:
        # A backend hands the same services object to every turn of a batch.
        if self._services is None or self._services[0] is not services:
            self._services = (services, _TurnServices(services, self.codec))
        return self._services[1]

    def handle(self, item: r.Claimed, services: TurnServices, now: datetime) -> r.Completion:
        done = self.inner.handle(self.codec.open_claimed(item), self._wrap(services), now)
        return self.codec.completion(done)

    def failed(self, item: r.Claimed, error: BaseException, now: datetime) -> r.Completion:
        try:
            opened = self.codec.open_claimed(item)
        except ValueError:  # the failure was opening it: answer with what is readable
            opened = replace(item, text="", postback=None, payload={}, conversation=None)
        return self.codec.completion(self.inner.failed(opened, error, now))


# ---- the protocols ------------------------------------------------------------------------


class SealedDelivery:
    def __init__(self, inner: DeliveryStore, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    async def claim(
        self,
        providers: Sequence[str],
        now: datetime,
        limit: int,
        held: frozenset[int] = frozenset(),
    ) -> list[r.OutboxItem]:
        items = await self.inner.claim(providers, now, limit, held)
        return [self.codec.open_outbox(item) for item in items]

    async def sent(self, marks: Sequence[r.SentMark]) -> None:
        await self.inner.sent(marks)

    async def retry(
        self, outbox_id: int, next_at: datetime, error: str, in_doubt: bool = False
    ) -> None:
        await self.inner.retry(outbox_id, next_at, error, in_doubt)

    async def known_ids(self, provider: str, ids: Sequence[str]) -> set[str]:
        return await self.inner.known_ids(provider, ids)

    async def failed(
        self, outbox_id: int, error: str, now: datetime, status: str = "failed"
    ) -> None:
        await self.inner.failed(outbox_id, error, now, status)

    async def stop_notices(self, resident_id: str) -> None:
        await self.inner.stop_notices(resident_id)

    async def next_due(
        self, providers: Sequence[str], held: frozenset[int] = frozenset()
    ) -> datetime | None:
        return await self.inner.next_due(providers, held)

    async def stale_rich(self, sent_before: datetime, limit: int) -> list[r.OutboxItem]:
        items = await self.inner.stale_rich(sent_before, limit)
        return [self.codec.open_outbox(item) for item in items]

    async def note(self, outbox_id: int, error: str) -> None:
        await self.inner.note(outbox_id, error)

    async def switch_to_sms(
        self,
        outbox_id: int,
        provider: str,
        provider_message_id: str | None,
        now: datetime,
        why: str,
        retry_at: datetime | None = None,
        in_doubt: bool = False,
    ) -> None:
        await self.inner.switch_to_sms(
            outbox_id, provider, provider_message_id, now, why, retry_at, in_doubt
        )

    def send_budget(self, provider: str, rate: float) -> SendBudget | None:
        return self.inner.send_budget(provider, rate)


class SealedFaqMisses:
    def __init__(self, inner: FaqMisses, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    async def most_frequent(self, limit: int) -> list[r.FaqMissCount]:
        rows = await self.inner.most_frequent(limit)
        return [replace(row, text=self.codec.open_text(row.text)) for row in rows]


class SealedStore:
    """bot.store.base.Store with residents' texts sealed: wraps any backend's Store."""

    def __init__(self, inner: Store, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec
        self._delivery = SealedDelivery(inner.delivery, codec)
        self._staff = SealedStaffDesk(inner.staff, codec)
        self._console = SealedConsole(inner.console, codec)
        self._faq = SealedFaqMisses(inner.faq, codec)
        self._notices = SealedNotices(inner.notices, codec)

    @property
    def delivery(self) -> DeliveryStore:
        return self._delivery

    @property
    def staff(self) -> StaffDesk:
        return self._staff

    @property
    def console(self) -> Console:
        return self._console

    @property
    def faq(self) -> FaqMisses:
        return self._faq

    @property
    def notices(self) -> Notices:
        return self._notices

    async def open(self, wake: Wakeups | None = None, *, serve: bool = False) -> None:
        await self.inner.open(wake, serve=serve)

    async def close(self) -> None:
        await self.inner.close()

    async def ingest(self, rows: Sequence[r.InboundRow], now: datetime) -> list[r.Ingested]:
        return await self.inner.ingest([self.codec.inbound(row) for row in rows], now)

    async def record_status(
        self,
        provider: str,
        provider_message_id: str,
        status: str,
        error_code: str | None,
        now: datetime,
    ) -> bool:
        return await self.inner.record_status(
            provider, provider_message_id, status, error_code, now
        )

    async def process_batch(self, handler: TurnHandler, limit: int) -> r.BatchResult:
        return await self.inner.process_batch(_SealingHandler(handler, self.codec), limit)

    async def next_timer_due(self) -> datetime | None:
        return await self.inner.next_timer_due()

    async def inbox_status(self, inbox_id: int) -> str | None:
        return await self.inner.inbox_status(inbox_id)

    async def replies_for(self, inbox_id: int) -> list[r.SentMessage]:
        return [self.codec.open_sent(message) for message in await self.inner.replies_for(inbox_id)]

    async def sent_to(self, resident_id: str, after_id: int = 0) -> list[r.SentMessage]:
        messages = await self.inner.sent_to(resident_id, after_id)
        return [self.codec.open_sent(message) for message in messages]

    async def conversation(self, resident_id: str) -> dict[str, Any] | None:
        return self.codec.open_maybe_obj(await self.inner.conversation(resident_id))

    async def purge_old(self, before: datetime) -> dict[str, int]:
        return await self.inner.purge_old(before)

    def sender_limits(self, limits: r.FloodLimits) -> SenderLimits | None:
        return self.inner.sender_limits(limits)  # keyed hashes only: nothing to seal

    async def health(self) -> r.StoreHealth:
        return await self.inner.health()
