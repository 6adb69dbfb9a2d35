"""bot.store.base.Notices on SQLite: each call one transaction on the notices lane (its own
connection and thread: a fan-out batch or a report over a million rows never waits behind
webhooks' commits, nor they behind it for longer than one short batch)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import sqlite_utils

from bot.store import records as r
from bot.store.base import AuditSealer
from bot.store.noticerows import OPEN
from bot.store.sqlite import audit as audit_log
from bot.store.sqlite import noticefanout, noticereports, noticeresidents, notices, outbox, pipeline
from bot.store.sqlite.console import SqliteCases
from bot.store.sqlite.lane import Lane


class SqliteNotices:
    """`lane`: staff's changes and the reports (every commit fsync'd). `fanout`: the
    fan-out's batches and dropping a finished notice's rows — work the dispatcher redoes
    from its cursor, so that lane's commits are not fsync'd one by one (see
    SqliteStore.open): a webhook's commit never waits for a fan-out's fsync."""

    def __init__(self, lane: Lane, sealer: AuditSealer | None, fanout: Lane | None = None) -> None:
        self.lane = lane
        self.fanout = fanout or lane
        self.sealer = sealer

    def _audited(self, db: sqlite_utils.Database, entry: r.NewAuditEntry) -> None:
        audit_log.append(db, self.sealer, entry)

    async def create(self, new: r.NewNotice, rule: r.NoticeRule, audit: r.NewAuditEntry) -> str:
        def write(db: sqlite_utils.Database) -> str:
            notice_id = notices.create(db, new, rule.audience, rule.priority, rule.weekly_cap)
            self._audited(db, _with_subject(audit, notice_id))
            return notice_id

        return await self.lane.write(write)

    async def update(
        self,
        notice_id: str,
        new: r.NewNotice,
        rule: r.NoticeRule,
        keep_image: bool,
        keep_list: bool,
        audit: r.NewAuditEntry,
    ) -> bool:
        def write(db: sqlite_utils.Database) -> bool:
            done = notices.update(
                db,
                notice_id,
                new,
                rule.audience,
                rule.priority,
                rule.weekly_cap,
                keep_image,
                keep_list,
            )
            if done:
                self._audited(db, audit)
            return done

        return await self.lane.write(write)

    async def get(self, notice_id: str) -> r.Notice | None:
        return await self.lane.read(notices.get, notice_id)

    async def newest(self, limit: int, after: tuple[datetime, str] | None = None) -> list[r.Notice]:
        return await self.lane.read(notices.newest, limit, after)

    async def in_states(self, states: Sequence[str]) -> list[r.Notice]:
        return await self.lane.read(notices.in_states, list(states))

    async def approve(
        self,
        notice_id: str,
        by: str,
        now: datetime,
        send_at: datetime,
        expires_at: datetime,
        audit: r.NewAuditEntry,
    ) -> bool:
        def write(db: sqlite_utils.Database) -> bool:
            done = notices.approve(db, notice_id, by, now, send_at, expires_at)
            if done:
                self._audited(db, audit)
            return done

        return await self.lane.write(write)

    async def cancel(
        self, notice_id: str, by: str, now: datetime, audit: r.NewAuditEntry
    ) -> str | None:
        def write(db: sqlite_utils.Database) -> str | None:
            was = notices.cancel(db, notice_id, by, now)
            if was is not None:
                self._audited(db, audit)
            return was

        # Urgent, like a webhook: staff stopping a notice must not wait behind a fan-out.
        return await self.lane.write(write, urgent=True)

    async def set_state(
        self,
        notice_id: str,
        state: str,
        now: datetime,
        only_from: Sequence[str],
        audit: r.NewAuditEntry | None = None,
    ) -> bool:
        def write(db: sqlite_utils.Database) -> bool:
            done = notices.set_state(db, notice_id, state, now, list(only_from))
            if done and audit is not None:
                self._audited(db, audit)
            return done

        return await self.lane.write(write)

    async def audience(self, notice_id: str, now: datetime) -> r.AudienceCount:
        return await self.lane.read(noticefanout.audience_count, notice_id, now)

    async def fan_out(
        self, notice_id: str, route: r.Route, local: frozenset[str], limit: int, now: datetime
    ) -> r.FanOutStep:
        gate = self.fanout.gate

        def give_way() -> bool:
            return gate.waiting > 0

        step = await self.fanout.write(
            noticefanout.fan_out, notice_id, route, local, limit, now, give_way
        )
        # The batch's WAL pages to disk now, with no lock held: else the next fsync'd commit
        # — a webhook's — would wait for them (one file: its fsync flushes every page).
        await self.fanout.thread.run(sync_wal, self.fanout.path)
        return step

    async def drop_rows(self, notice_id: str, status: str, limit: int) -> int:
        return await self.fanout.write(noticefanout.drop_rows, notice_id, status, limit)

    async def unfinished(self, notice_id: str) -> bool:
        return await self.lane.read(noticefanout.unfinished, notice_id)

    async def counts(self, notice_id: str) -> r.NoticeCounts:
        return await self.lane.read(noticereports.counts, notice_id)

    async def record_progress(self, notice_id: str, now: datetime, counts: r.NoticeCounts) -> None:
        await self.lane.write(noticereports.record_progress, notice_id, now, counts)

    async def progress(self, notice_id: str) -> list[r.ProgressPoint]:
        return await self.lane.read(noticereports.progress, notice_id)

    async def answers(self, notice_id: str) -> dict[str, int]:
        return await self.lane.read(noticereports.answers, notice_id)

    async def stopped_after(self, notice_id: str) -> int:
        return await self.lane.read(noticereports.stopped_after, notice_id)

    async def image(self, notice_id: str) -> tuple[str, bytes] | None:
        return await self.lane.read(notices.image, notice_id)

    async def test_send(
        self,
        notice_id: str,
        to: r.ListEntry,
        route: r.Route,
        local: frozenset[str],
        now: datetime,
        audit: r.NewAuditEntry,
    ) -> int:
        def write(db: sqlite_utils.Database) -> int:
            stamp = pipeline.utc_text(now)
            _known(db, to, route, stamp)
            person = pipeline.resident(db, to.resident_id)
            provider = (person.last_provider if person else None) or route.provider
            channel = (person.last_channel if person else None) or route.channel
            outbox_id = outbox.add_outbox(
                db,
                to.resident_id,
                provider,
                channel,
                "reply",  # not a notice to residents: a staff check, sent at once
                "",
                [],
                None,
                stamp,
                "sent" if provider in local else "pending",
                f"nt:{notice_id}:{uuid.uuid4().hex}",
                priority=r.REPLY_PRIORITY,
                notice_id=notice_id,
            )
            notices.tested(db, notice_id, now)
            self._audited(db, audit)
            return outbox_id

        return await self.lane.write(write)

    async def forget_list(self, notice_id: str) -> int:
        return await self.lane.write(notices.forget_list, notice_id)

    async def rehearse(self, notice_id: str, to: r.ListEntry, route: r.Route, now: datetime) -> int:
        def write(db: sqlite_utils.Database) -> int:
            stamp = pipeline.utc_text(now)
            _known(db, to, route, stamp)
            outbox_id = outbox.add_outbox(
                db, to.resident_id, route.provider, route.channel, "notice", "", [], None, stamp,
                "sent", f"n:{notice_id}:{to.resident_id}", priority=notices.priority_of(db, notice_id),
                notice_id=notice_id,
            )  # fmt: skip
            notices.set_state(db, notice_id, "sent", now, OPEN)
            return outbox_id

        return await self.lane.write(write)


def _known(db: sqlite_utils.Database, to: r.ListEntry, route: r.Route, stamp: str) -> None:
    """A number becomes a resident (hashed and encrypted) if the bot never heard from it."""
    db.execute(
        "INSERT OR IGNORE INTO residents (id, phone_enc, last_provider, last_channel, "
        "created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
        [to.resident_id, to.phone_enc, route.provider, route.channel, stamp, stamp],
    )


def sync_wal(path: str) -> None:
    """fsync the database's write-ahead log (the fan-out's commits are not fsync'd)."""
    try:
        fd = os.open(f"{path}-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _with_subject(entry: r.NewAuditEntry, notice_id: str) -> r.NewAuditEntry:
    """The entry of a create names the id the notice got in the same transaction."""
    return replace(entry, subject=notice_id)


class SqliteNoticeService:
    """bot.store.services.NoticeService on the turn's connection (its open transaction)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def subscriptions(self, resident_id: str) -> list[r.Subscription]:
        return noticeresidents.subscriptions(self.db, resident_id)

    def set_topics(
        self, resident_id: str, topics: Sequence[str], active: bool, via: str, now: datetime
    ) -> list[str]:
        return noticeresidents.set_topics(self.db, resident_id, topics, active, via, now)

    def consent(
        self, resident_id: str, topic: str | None, action: str, via: str, now: datetime
    ) -> None:
        noticeresidents.consent(self.db, resident_id, topic, action, via, now)

    def open_ask(self, resident_id: str, now: datetime, hours: float) -> r.OpenAsk | None:
        return noticeresidents.open_ask(self.db, resident_id, now, hours)

    def answer(self, notice_id: str, resident_id: str, choice: str, now: datetime) -> None:
        noticeresidents.answer(self.db, notice_id, resident_id, choice, now)


class SqliteTurnCases:
    """bot.store.services.TurnCases: the console's cases, from a turn's transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.cases = SqliteCases(db)

    def open(self, resident_id: str, now: datetime, opened_by: str, urgent: bool = False) -> None:
        self.cases.open(resident_id, now, opened_by, urgent)
