"""Residents' texts encrypted at rest, for every backend: a Store around the backend's Store.

Why here, and not in each backend: what is personal is decided by the records that cross
the seam (a message's text, a reply, a staff note, a conversation's state), not by how a
backend lays out its tables. `SealedStore` seals those fields on the way in and opens them
on the way out, so a backend (SQLite today, PostgreSQL next) only ever receives ciphertext
in its ordinary text and JSON columns, and cannot forget a field. Texts are opened only to
process a turn (inside `process_batch`), to send (the delivery claim) and to show staff or
the simulator's resident (the staff desk, `replies_for`, `sent_to`).

Representation (the `Codec`): a text is `Sealer.seal(text)` (ASCII); a JSON object (a
conversation, a timer's or message's payload) is `{"sealed": <sealed JSON text>}`, so
records keep their types and backends keep their schema. Empty texts and empty objects stay
as they are (nothing personal in them); values a backend writes itself (a timer's name as
its inbox text) and rows written before sealing are read back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from bot.store import records as r
from bot.store.base import (
    DeliveryStore,
    SendBudget,
    StaffDesk,
    Store,
    TurnHandler,
    Wakeups,
)
from bot.store.services import Bookings, Conversations, Residents, TurnServices

SEALED_KEY = "sealed"


class Sealer(Protocol):
    """bot.identity.TextVault."""

    def seal(self, text: str) -> str: ...

    def open(self, stored: str) -> str: ...

    def is_sealed(self, stored: str) -> bool: ...


class Codec:
    """How each kind of field is sealed and opened (backends' legacy migrations use it too,
    so rows sealed in place read back exactly like rows sealed on the way in)."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    def text(self, value: str) -> str:
        return self.sealer.seal(value) if value else value

    def open_text(self, value: str) -> str:
        return self.sealer.open(value) if value and self.sealer.is_sealed(value) else value

    def maybe_text(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def open_maybe_text(self, value: str | None) -> str | None:
        return None if value is None else self.open_text(value)

    def texts(self, values: Sequence[str]) -> list[str]:
        return [self.text(value) for value in values]

    def open_texts(self, values: Sequence[str]) -> list[str]:
        return [self.open_text(value) for value in values]

    def obj(self, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            return value
        return {SEALED_KEY: self.sealer.seal(json.dumps(value, ensure_ascii=False, default=str))}

    def open_obj(self, value: dict[str, Any]) -> dict[str, Any]:
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED_KEY), str):
            opened = json.loads(self.sealer.open(value[SEALED_KEY]))
            if isinstance(opened, dict):
                return opened
        return value

    def maybe_obj(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else self.obj(value)

    def open_maybe_obj(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else self.open_obj(value)

    # ---- records ------------------------------------------------------------------------

    def inbound(self, row: r.InboundRow) -> r.InboundRow:
        return replace(
            row,
            text=self.text(row.text),
            postback=self.maybe_text(row.postback),
            payload=self.obj(row.payload),
        )

    def open_claimed(self, item: r.Claimed) -> r.Claimed:
        return replace(
            item,
            text=self.open_text(item.text),
            postback=self.open_maybe_text(item.postback),
            payload=self.open_obj(item.payload),
            conversation=self.open_maybe_obj(item.conversation),
        )

    def completion(self, done: r.Completion) -> r.Completion:
        return replace(
            done,
            conversation=self.maybe_obj(done.conversation),
            timers=[replace(timer, payload=self.obj(timer.payload)) for timer in done.timers],
            staff_notes=[(kind, self.text(text)) for kind, text in done.staff_notes],
            outbox=[
                replace(out, text=self.text(out.text), suggestions=self.texts(out.suggestions))
                for out in done.outbox
            ],
        )

    def open_outbox(self, item: r.OutboxItem) -> r.OutboxItem:
        return replace(
            item, text=self.open_text(item.text), suggestions=self.open_texts(item.suggestions)
        )

    def open_sent(self, message: r.SentMessage) -> r.SentMessage:
        return replace(
            message,
            text=self.open_text(message.text),
            suggestions=self.open_texts(message.suggestions),
        )

    def open_note(self, note: r.StaffNote) -> r.StaffNote:
        return replace(note, text=self.open_text(note.text))

    def open_line(self, line: r.TranscriptLine) -> r.TranscriptLine:
        return replace(
            line, text=self.open_text(line.text), suggestions=self.open_texts(line.suggestions)
        )

    def open_case(self, case: r.OpenCase) -> r.OpenCase:
        return replace(
            case,
            notes=[self.open_note(note) for note in case.notes],
            transcript=[self.open_line(line) for line in case.transcript],
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

    @property
    def residents(self) -> Residents:
        return self.inner.residents

    @property
    def conversations(self) -> Conversations:
        return self._conversations

    @property
    def bookings(self) -> Bookings:
        return self.inner.bookings


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
        self, providers: Sequence[str], now: datetime, limit: int
    ) -> list[r.OutboxItem]:
        return [
            self.codec.open_outbox(item) for item in await self.inner.claim(providers, now, limit)
        ]

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

    async def next_due(self, providers: Sequence[str]) -> datetime | None:
        return await self.inner.next_due(providers)

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
    ) -> None:
        await self.inner.switch_to_sms(outbox_id, provider, provider_message_id, now, why)

    def send_budget(self, provider: str, rate: float) -> SendBudget | None:
        return self.inner.send_budget(provider, rate)


class SealedStaffDesk:
    def __init__(self, inner: StaffDesk, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    async def open_cases(self, transcript_limit: int) -> list[r.OpenCase]:
        return [
            self.codec.open_case(case) for case in await self.inner.open_cases(transcript_limit)
        ]

    async def handoff_notes(self) -> tuple[dict[str, datetime], list[r.StaffNote]]:
        residents, notes = await self.inner.handoff_notes()
        return residents, [self.codec.open_note(note) for note in notes]

    async def find_open(self, ref: str) -> str | None:
        return await self.inner.find_open(ref)

    async def find_resident(self, ref: str) -> str | None:
        return await self.inner.find_resident(ref)

    async def staff_reply(
        self,
        resident_id: str,
        text: str,
        now: datetime,
        take_over: bool,
        local_providers: frozenset[str],
    ) -> int:
        return await self.inner.staff_reply(
            resident_id, self.codec.text(text), now, take_over, local_providers
        )

    async def in_handoff(self, resident_id: str) -> bool:
        return await self.inner.in_handoff(resident_id)

    async def hand_back(
        self,
        resident_id: str,
        closing: str | None = None,
        now: datetime | None = None,
        local_providers: frozenset[str] = frozenset(),
    ) -> int | None:
        return await self.inner.hand_back(
            resident_id, self.codec.maybe_text(closing), now, local_providers
        )


class SealedStore:
    """bot.store.base.Store with residents' texts sealed: wraps any backend's Store."""

    def __init__(self, inner: Store, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec
        self._delivery = SealedDelivery(inner.delivery, codec)
        self._staff = SealedStaffDesk(inner.staff, codec)

    @property
    def delivery(self) -> DeliveryStore:
        return self._delivery

    @property
    def staff(self) -> StaffDesk:
        return self._staff

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

    async def health(self) -> r.StoreHealth:
        return await self.inner.health()
