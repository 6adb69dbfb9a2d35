"""The delivery worker's bookkeeping on the outbox (SQLite): the queries, each inside the
caller's transaction, and SqliteDelivery (bot.store.base.DeliveryStore) running them on the
delivery lane."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from bot.store.base import SendBudget
from bot.store.records import OutboxItem, SentMark
from bot.store.sqlite import noticefanout, noticeresidents
from bot.store.sqlite.lane import Lane
from bot.store.sqlite.pipeline import from_utc_text, update_resident, utc_text


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        resident_id=row["resident_id"],
        provider=row["provider"],
        channel=row["channel"],
        kind=row["kind"],
        text=row["text"],
        suggestions=json.loads(row["suggestions"]),
        created_at=from_utc_text(row["created_at"]),
        attempts=row["attempts"],
        idempotency_key=row["idempotency_key"],
        provider_message_id=row["provider_message_id"],
        phone_enc=row["phone_enc"],
        notices_enabled=bool(1 if row["notices_enabled"] is None else row["notices_enabled"]),
        priority=row["priority"],
        notice_id=row["notice_id"],
        in_doubt_since=from_utc_text(row["doubt_since"]) if row["doubt_since"] else None,
    )


# The rows of one group: replies and reminders (notice None), or one staff notice's rows up
# to a priority (a notice held for quiet hours: its test sends only). Each is a range of the
# outbox_claim index, so rows of notices not listed are never read.
Group = tuple[str | None, int]

_SELECT = (
    "SELECT o.*, r.phone_enc, r.notices_enabled FROM outbox o "
    "LEFT JOIN residents r ON r.id = o.resident_id "
    "WHERE o.status = 'pending' AND {notice} AND o.priority <= ? "
    "AND o.provider IN ({providers}) AND o.next_attempt_at <= ? "
    "ORDER BY o.priority, o.id LIMIT ?"
)


def claim(
    db: sqlite_utils.Database,
    providers: Sequence[str],
    now: datetime,
    limit: int,
    groups: Sequence[Group] = ((None, 1 << 30),),
) -> list[OutboxItem]:
    """Due pending rows of these providers from these groups, by priority (replies first)
    then age, marked 'sending' (a crash leaves them so; reset_in_flight() puts them back)."""
    if not providers:
        return []
    marks = ",".join("?" for _ in providers)
    stamp = utc_text(now)
    found: list[dict[str, Any]] = []
    for notice_id, bound in groups:
        where = "o.notice_id IS NULL" if notice_id is None else "o.notice_id = ?"
        sql = _SELECT.format(notice=where, providers=marks)
        args = ([] if notice_id is None else [notice_id]) + [bound, *providers, stamp, limit]
        found += db.query(sql, args)
    rows = sorted(found, key=lambda row: (row["priority"], row["id"]))[:limit]
    db.conn.executemany(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_at = ? "
        "WHERE id = ?",
        [(stamp, row["id"]) for row in rows],
    )
    for row in rows:
        row["attempts"] += 1
    return [_item(row) for row in rows]


def sent(db: sqlite_utils.Database, marks: Sequence[SentMark]) -> None:
    db.conn.executemany(
        "UPDATE outbox SET status = 'sent', provider_message_id = ?, status_at = ?, error = NULL, "
        "doubt_since = NULL WHERE id = ? AND status IN ('pending', 'sending')",
        [(mark.provider_message_id, utc_text(mark.at), mark.outbox_id) for mark in marks],
    )


def retry(
    db: sqlite_utils.Database, outbox_id: int, next_at: datetime, error: str, in_doubt: bool
) -> None:
    """Back to pending; `in_doubt`: this attempt may have reached the provider (no answer)."""
    doubt = "coalesce(doubt_since, claimed_at)" if in_doubt else "doubt_since"
    db.execute(
        f"UPDATE outbox SET status = 'pending', next_attempt_at = ?, error = ?, "
        f"doubt_since = {doubt} WHERE id = ?",
        [utc_text(next_at), error, outbox_id],
    )


def failed(
    db: sqlite_utils.Database, outbox_id: int, error: str, now: datetime, status: str
) -> None:
    db.execute(
        "UPDATE outbox SET status = ?, error = ?, status_at = ?, doubt_since = NULL WHERE id = ?",
        [status, error, utc_text(now), outbox_id],
    )


def known_ids(db: sqlite_utils.Database, provider: str, ids: Sequence[str]) -> set[str]:
    """Which of these provider message ids an outbox row already holds."""
    if not ids:
        return set()
    marks = ",".join("?" for _ in ids)
    return {
        row[0]
        for row in db.execute(
            f"SELECT provider_message_id FROM outbox WHERE provider = ? "
            f"AND provider_message_id IN ({marks})",
            [provider, *ids],
        ).fetchall()
    }


def stop_notices(db: sqlite_utils.Database, resident_id: str) -> None:
    update_resident(db, resident_id, {"notices_enabled": False})


def next_due(
    db: sqlite_utils.Database,
    providers: Sequence[str],
    groups: Sequence[Group] = ((None, 1 << 30),),
) -> datetime | None:
    """The earliest due time of a pending row in these groups."""
    if not providers:
        return None
    marks = ",".join("?" for _ in providers)
    due: list[str] = []
    for notice_id, bound in groups:
        where = "notice_id IS NULL" if notice_id is None else "notice_id = ?"
        found = db.execute(
            f"SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' AND {where} "
            f"AND priority <= ? AND provider IN ({marks})",
            ([] if notice_id is None else [notice_id]) + [bound, *providers],
        ).fetchone()
        if found and found[0]:
            due.append(found[0])
    return from_utc_text(min(due)) if due else None


def stale_rich(db: sqlite_utils.Database, sent_before: datetime, limit: int) -> list[OutboxItem]:
    """Rich messages sent but not delivered in time (no DELIVERED/READ receipt yet)."""
    return [
        _item(row)
        for row in db.query(
            "SELECT o.*, r.phone_enc, r.notices_enabled FROM outbox o "
            "JOIN residents r ON r.id = o.resident_id "
            "WHERE o.provider = 'rcs' AND o.channel = 'rcs' AND o.status = 'sent' "
            "AND o.status_at <= ? AND coalesce(o.error, '') NOT LIKE 'rcs_revoke%' "
            "ORDER BY o.id LIMIT ?",
            [utc_text(sent_before), limit],
        )
    ]


def note(db: sqlite_utils.Database, outbox_id: int, error: str) -> None:
    db.execute("UPDATE outbox SET error = ? WHERE id = ?", [error, outbox_id])


def switch_to_sms(
    db: sqlite_utils.Database,
    outbox_id: int,
    provider: str,
    provider_message_id: str | None,
    now: datetime,
    why: str,
) -> None:
    """The rich message went by SMS instead: receipts now come from the SMS provider."""
    db.execute(
        "UPDATE outbox SET provider = ?, channel = 'sms', provider_message_id = ?, "
        "status = 'sent', status_at = ?, error = ? WHERE id = ?",
        [provider, provider_message_id, utc_text(now), why, outbox_id],
    )


class SqliteDelivery:
    """bot.store.base.DeliveryStore on the delivery lane."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    async def claim(
        self,
        providers: Sequence[str],
        now: datetime,
        limit: int,
        held: frozenset[int] = frozenset(),
    ) -> list[OutboxItem]:
        def write(db: sqlite_utils.Database) -> list[OutboxItem]:
            groups = [(None, 1 << 30), *noticefanout.claim_groups(db, now, held)]
            items = claim(db, list(providers), now, limit, groups)
            return noticefanout.fill_items(db, items, now)

        return await self.lane.write(write)

    async def sent(self, marks: Sequence[SentMark]) -> None:
        await self.lane.write(sent, list(marks))

    async def retry(
        self, outbox_id: int, next_at: datetime, error: str, in_doubt: bool = False
    ) -> None:
        await self.lane.write(retry, outbox_id, next_at, error, in_doubt)

    async def known_ids(self, provider: str, ids: Sequence[str]) -> set[str]:
        return await self.lane.read(known_ids, provider, list(ids))

    async def failed(
        self, outbox_id: int, error: str, now: datetime, status: str = "failed"
    ) -> None:
        await self.lane.write(failed, outbox_id, error, now, status)

    async def stop_notices(self, resident_id: str) -> None:
        def write(db: sqlite_utils.Database) -> None:
            stop_notices(db, resident_id)
            # Kept as evidence like a resident's own 停止 (the provider's opt-out list).
            noticeresidents.consent(db, resident_id, None, "stop", "provider", datetime.now(UTC))

        await self.lane.write(write)

    async def next_due(
        self, providers: Sequence[str], held: frozenset[int] = frozenset()
    ) -> datetime | None:
        def read(db: sqlite_utils.Database) -> datetime | None:
            now = datetime.now(UTC)
            groups = [(None, 1 << 30), *noticefanout.claim_groups(db, now, held)]
            return next_due(db, list(providers), groups)

        return await self.lane.read(read)

    async def stale_rich(self, sent_before: datetime, limit: int) -> list[OutboxItem]:
        def read(db: sqlite_utils.Database) -> list[OutboxItem]:
            items = stale_rich(db, sent_before, limit)
            return noticefanout.fill_items(db, items, sent_before, drop=False)

        return await self.lane.read(read)

    async def note(self, outbox_id: int, error: str) -> None:
        await self.lane.write(note, outbox_id, error)

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
        def write(db: sqlite_utils.Database) -> None:
            switch_to_sms(db, outbox_id, provider, provider_message_id, now, why)
            if retry_at is not None:  # one transaction: never 'sent' without an id
                retry(db, outbox_id, retry_at, why, in_doubt)

        await self.lane.write(write)

    def send_budget(self, provider: str, rate: float) -> SendBudget | None:
        return None  # one process sends: its own limiter is the whole budget
