"""Staff notices' side of texts at rest (bot.store.sealed).

A notice's own words (title, body, choices) are the city's, written by staff for everyone:
they stay readable, and a notice's million outbox rows carry no copy of them. What a
resident gives back is theirs: the choice a resident answered (「支援が必要です」 says
something about that person) is sealed on its way in, like any text of theirs, and opened
only to count a notice's answers for staff. Audit entries' free text is sealed as the
console's is (bot.store.sealed_staff).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.store import records as r
from bot.store.base import Notices
from bot.store.codec import Codec
from bot.store.services import NoticeService


def _entry(codec: Codec, entry: r.NewAuditEntry) -> r.NewAuditEntry:
    return replace(entry, detail=codec.detail(entry.detail))


class SealedNoticeService:
    """A turn's NoticeService: a resident's answer sealed before the backend stores it."""

    def __init__(self, inner: NoticeService, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    def subscriptions(self, resident_id: str) -> list[r.Subscription]:
        return self.inner.subscriptions(resident_id)

    def set_topics(
        self, resident_id: str, topics: Sequence[str], active: bool, via: str, now: datetime
    ) -> list[str]:
        return self.inner.set_topics(resident_id, topics, active, via, now)

    def consent(
        self, resident_id: str, topic: str | None, action: str, via: str, now: datetime
    ) -> None:
        self.inner.consent(resident_id, topic, action, via, now)

    def open_ask(self, resident_id: str, now: datetime, hours: float) -> r.OpenAsk | None:
        return self.inner.open_ask(resident_id, now, hours)

    def answer(self, notice_id: str, resident_id: str, choice: str, now: datetime) -> None:
        self.inner.answer(notice_id, resident_id, self.codec.text(choice), now)


class SealedNotices:
    """bot.store.base.Notices with residents' answers sealed at rest."""

    def __init__(self, inner: Notices, codec: Codec) -> None:
        self.inner = inner
        self.codec = codec

    async def create(self, new: r.NewNotice, rule: r.NoticeRule, audit: r.NewAuditEntry) -> str:
        return await self.inner.create(new, rule, _entry(self.codec, audit))

    async def update(
        self,
        notice_id: str,
        new: r.NewNotice,
        rule: r.NoticeRule,
        keep_image: bool,
        keep_list: bool,
        audit: r.NewAuditEntry,
    ) -> bool:
        return await self.inner.update(
            notice_id, new, rule, keep_image, keep_list, _entry(self.codec, audit)
        )

    async def get(self, notice_id: str) -> r.Notice | None:
        return await self.inner.get(notice_id)

    async def newest(self, limit: int, after: tuple[datetime, str] | None = None) -> list[r.Notice]:
        return await self.inner.newest(limit, after)

    async def in_states(self, states: Sequence[str]) -> list[r.Notice]:
        return await self.inner.in_states(states)

    async def approve(
        self,
        notice_id: str,
        by: str,
        now: datetime,
        send_at: datetime,
        expires_at: datetime,
        audit: r.NewAuditEntry,
    ) -> bool:
        return await self.inner.approve(
            notice_id, by, now, send_at, expires_at, _entry(self.codec, audit)
        )

    async def cancel(
        self, notice_id: str, by: str, now: datetime, audit: r.NewAuditEntry
    ) -> str | None:
        return await self.inner.cancel(notice_id, by, now, _entry(self.codec, audit))

    async def set_state(
        self,
        notice_id: str,
        state: str,
        now: datetime,
        only_from: Sequence[str],
        audit: r.NewAuditEntry | None = None,
    ) -> bool:
        sealed = None if audit is None else _entry(self.codec, audit)
        return await self.inner.set_state(notice_id, state, now, only_from, sealed)

    async def audience(self, notice_id: str, now: datetime) -> r.AudienceCount:
        return await self.inner.audience(notice_id, now)

    async def fan_out(
        self, notice_id: str, route: r.Route, local: frozenset[str], limit: int, now: datetime
    ) -> r.FanOutStep:
        return await self.inner.fan_out(notice_id, route, local, limit, now)

    async def drop_rows(self, notice_id: str, status: str, limit: int) -> int:
        return await self.inner.drop_rows(notice_id, status, limit)

    async def unfinished(self, notice_id: str) -> bool:
        return await self.inner.unfinished(notice_id)

    async def counts(self, notice_id: str) -> r.NoticeCounts:
        return await self.inner.counts(notice_id)

    async def record_progress(self, notice_id: str, now: datetime, counts: r.NoticeCounts) -> None:
        await self.inner.record_progress(notice_id, now, counts)

    async def progress(self, notice_id: str) -> list[r.ProgressPoint]:
        return await self.inner.progress(notice_id)

    async def answers(self, notice_id: str) -> dict[str, int]:
        """Each stored answer is its own ciphertext (a fresh nonce each): the backend's
        counts are per stored value, summed here by the choice they open to."""
        tally: Counter[str] = Counter()
        for stored, n in (await self.inner.answers(notice_id)).items():
            tally[self.codec.open_text(stored)] += n
        return dict(tally)

    async def stopped_after(self, notice_id: str) -> int:
        return await self.inner.stopped_after(notice_id)

    async def image(self, notice_id: str) -> tuple[str, bytes] | None:
        return await self.inner.image(notice_id)

    async def test_send(
        self,
        notice_id: str,
        to: r.ListEntry,
        route: r.Route,
        local: frozenset[str],
        now: datetime,
        audit: r.NewAuditEntry,
    ) -> int:
        return await self.inner.test_send(
            notice_id, to, route, local, now, _entry(self.codec, audit)
        )

    async def forget_list(self, notice_id: str) -> int:
        return await self.inner.forget_list(notice_id)

    async def rehearse(self, notice_id: str, to: r.ListEntry, route: r.Route, now: datetime) -> int:
        return await self.inner.rehearse(notice_id, to, route, now)
