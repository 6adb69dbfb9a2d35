"""Staff's side of texts at rest (bot.store.sealed): `bot handoff`'s desk and the console's
units of work see residents' words in clear; the backend stores them sealed.

Sealed on the way in: staff's replies and closing messages, timers' payloads set on a
resident's behalf, and the free text of an audit entry's detail (a reason typed to pass a
deadline can name a resident; bot.store.codec.FREE_TEXT_KEYS). Opened on the way out: notes, transcript entries, and audit
entries found by `search` (display and export). `entries` and `head` stay as stored: the
chain's MACs are computed over what is stored, and verification reads that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from bot.store import records as r
from bot.store.base import Console, StaffDesk
from bot.store.codec import Codec
from bot.store.console import (
    AuditLog,
    Cases,
    ConsoleWork,
    Handoffs,
    SignInLimits,
    StaffAccounts,
    StaffResidents,
    StaffSessions,
    Timers,
)
from bot.store.services import Bookings

T = TypeVar("T")


def _sealed_entry(codec: Codec, entry: r.NewAuditEntry) -> r.NewAuditEntry:
    return replace(entry, detail=codec.detail(entry.detail))


class _AuditLog:
    def __init__(self, inner: AuditLog, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    def append(self, entry: r.NewAuditEntry) -> r.AuditRow:
        return self.inner.append(_sealed_entry(self.codec, entry))

    def head(self) -> r.AuditHead | None:
        return self.inner.head()

    def entries(self, after_seq: int, limit: int) -> list[r.AuditRow]:
        return self.inner.entries(after_seq, limit)  # as stored: the MACs cover these

    def search(self, where: r.AuditFilter, before_seq: int | None, limit: int) -> list[r.AuditRow]:
        rows = self.inner.search(where, before_seq, limit)
        return [self._opened(row) for row in rows]

    def _opened(self, row: r.AuditRow) -> r.AuditRow:
        detail = self.codec.open_detail(json.loads(row.detail))
        return replace(row, detail=json.dumps(detail, ensure_ascii=False, sort_keys=True))


class _Cases:
    def __init__(self, inner: Cases, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec
        self.open_cases = inner.open_cases
        self.in_scope = inner.in_scope
        self.case_of = inner.case_of
        self.open = inner.open
        self.close = inner.close
        self.assign = inner.assign
        self.mark_read = inner.mark_read
        self.record_author = inner.record_author

    def waiting_notes(self, resident_id: str) -> list[r.StaffNote]:
        return [self.codec.open_note(note) for note in self.inner.waiting_notes(resident_id)]

    def transcript(
        self,
        resident_id: str,
        limit: int,
        before: r.Cursor | None = None,
        after: r.Cursor | None = None,
    ) -> r.TranscriptPage:
        page = self.inner.transcript(resident_id, limit, before, after)
        return replace(page, entries=[self.codec.open_entry(e) for e in page.entries])


class _Handoffs:
    def __init__(self, inner: Handoffs, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec
        self.in_handoff = inner.in_handoff

    def staff_reply(
        self,
        resident_id: str,
        text: str,
        now: datetime,
        take_over: bool,
        local_providers: frozenset[str],
    ) -> int:
        sealed = self.codec.text(text)
        return self.inner.staff_reply(resident_id, sealed, now, take_over, local_providers)

    def hand_back(
        self, resident_id: str, closing: str | None, now: datetime, local_providers: frozenset[str]
    ) -> int | None:
        sealed = self.codec.maybe_text(closing)
        return self.inner.hand_back(resident_id, sealed, now, local_providers)


class _Timers:
    def __init__(self, inner: Timers, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec
        self.cancel = inner.cancel

    def set(self, resident_id: str, timer: r.Timer) -> None:
        self.inner.set(resident_id, replace(timer, payload=self.codec.obj(timer.payload)))


class _ConsoleWork:
    """bot.store.console.ConsoleWork with residents' texts opened (what holds none is the
    backend's own)."""

    def __init__(self, inner: ConsoleWork, codec: Codec) -> None:
        self.inner = inner
        self._audit = _AuditLog(inner.audit, codec)
        self._cases = _Cases(inner.cases, codec)
        self._handoffs = _Handoffs(inner.handoffs, codec)
        self._timers = _Timers(inner.timers, codec)

    @property
    def accounts(self) -> StaffAccounts:
        return self.inner.accounts

    @property
    def sign_ins(self) -> SignInLimits:
        return self.inner.sign_ins

    @property
    def sessions(self) -> StaffSessions:
        return self.inner.sessions

    @property
    def audit(self) -> AuditLog:
        return self._audit

    @property
    def cases(self) -> Cases:
        return self._cases

    @property
    def residents(self) -> StaffResidents:
        return self.inner.residents

    @property
    def handoffs(self) -> Handoffs:
        return self._handoffs

    @property
    def bookings(self) -> Bookings:
        return self.inner.bookings

    @property
    def timers(self) -> Timers:
        return self._timers


class SealedConsole:
    def __init__(self, inner: Console, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    def _sealed(self, work: Callable[[ConsoleWork], T]) -> Callable[[ConsoleWork], T]:
        return lambda unit: work(_ConsoleWork(unit, self.codec))

    async def read(self, work: Callable[[ConsoleWork], T]) -> T:
        return await self.inner.read(self._sealed(work))

    async def write(self, work: Callable[[ConsoleWork], T]) -> T:
        return await self.inner.write(self._sealed(work))


class SealedStaffDesk:
    def __init__(self, inner: StaffDesk, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    async def handoff_notes(self) -> tuple[dict[str, datetime], list[r.StaffNote]]:
        residents, notes = await self.inner.handoff_notes()
        return residents, [self.codec.open_note(note) for note in notes]

    async def find_resident(self, ref: str) -> str | None:
        return await self.inner.find_resident(ref)

    async def hand_back(self, resident_id: str, audit: r.NewAuditEntry) -> None:
        await self.inner.hand_back(resident_id, _sealed_entry(self.codec, audit))
