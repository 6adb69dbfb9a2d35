"""A notice's audience turned into outbox rows (SQLite): who it reaches, the fan-out's
batches (one row per notice and resident, each batch one transaction with its cursor), and
the delivery claim's side of notices' rows — which notices' rows may be claimed now, and the
notice's texts and card filled into claimed rows (a row carries no copy of them). Functions
take the lane's Database, inside the caller's transaction (bot/store/sqlite/notices.py holds
the tables)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from bot.store.noticerows import (
    LIVE,
    Card,
    drop_error,
    sent_with_notice,
    why_dropped,
    with_notice,
)
from bot.store.records import (
    AudienceCount,
    FanOutStep,
    NoticeContent,
    OutboxItem,
    Route,
    SentMessage,
)
from bot.store.sqlite.pipeline import from_utc_text, utc_text

# ---- the audience -------------------------------------------------------------------------

ACTIVE_BOOKING = "('booked', 'changed')"


class _Audience:
    """SQL for one notice's audience: the residents it is driven by (in id order, so a
    batch continues after the last id) and the conditions each must meet."""

    def __init__(self, db: sqlite_utils.Database, row: dict[str, Any], now: datetime) -> None:
        self.db = db
        content = NoticeContent.from_json(json.loads(row["content"]))
        self.notice_id = row["id"]
        self.mode = row["audience"]
        self.rule = row["audience_rule"]
        self.topic = row["topic"]
        self.districts = list(content.districts)
        self.day = content.booked_on.isoformat() if content.booked_on else None
        self.cap = row["weekly_cap"]
        self.category = row["category"]
        self.week_ago = utc_text(now - timedelta(days=7))

    def source(self) -> tuple[str, str, list[Any]]:
        """(FROM … WHERE …, its resident id column, arguments): the residents the audience
        is driven by, in id order."""
        if self.mode == "list":
            return "FROM notice_lists WHERE notice_id = ?", "resident_id", [self.notice_id]
        if self.mode == "booked":
            where, args = "", [self.day]
            if self.districts:
                where = f" AND district IN ({self._marks()})"
                args += self.districts
            return (
                f"FROM bookings WHERE collection_date = ? AND status IN {ACTIVE_BOOKING}{where}",
                "resident_id",
                args,
            )
        if self.rule == "subscribers":
            return (
                "FROM notice_subscriptions WHERE topic = ? AND active = 1",
                "resident_id",
                [self.topic],
            )
        # subscribers_and_known: every resident the bot knows, subscriber or not.
        return "FROM residents WHERE 1", "id", []

    def until(self, cursor: str, count: int) -> str | None:
        """The id `count` residents after `cursor` (fewer when the audience ends there)."""
        source, key, args = self.source()
        return self.db.execute(
            f"SELECT max(rid) FROM (SELECT DISTINCT {key} AS rid {source} AND {key} > ? "
            f"ORDER BY {key} LIMIT ?)",
            [*args, cursor, count],
        ).fetchone()[0]

    def between(self) -> tuple[str, list[Any]]:
        """The audience's residents in a range (the range's two ends appended): as ids, not a
        Python list, so a batch is SQL start to end (other threads keep the GIL)."""
        source, key, args = self.source()
        return f"SELECT {key} {source} AND {key} > ? AND {key} <= ?", args

    def _marks(self) -> str:
        return ",".join("?" for _ in self.districts)

    def in_districts(self) -> tuple[str, list[Any]]:
        """The resident is known to live in one of the districts: the 地区 they gave (or
        subscribed with), or a bulky-waste booking there. Always true without districts."""
        if not self.districts or self.mode != "category":
            return "1", []
        marks = self._marks()
        return (
            f"(r.district IN ({marks}) OR EXISTS (SELECT 1 FROM bookings b "
            f"WHERE b.resident_id = r.id AND b.district IN ({marks})))",
            [*self.districts, *self.districts],
        )

    def over_cap(self) -> tuple[str, list[Any]]:
        """The resident already has `cap` notices of this category queued in 7 days."""
        if not self.cap:
            return "0", []
        return (
            "(SELECT count(*) FROM outbox o2 JOIN notices n2 ON n2.id = o2.notice_id "
            "WHERE o2.resident_id = r.id AND o2.kind = 'notice' AND n2.category = ? "
            "AND o2.notice_id != ? AND o2.created_at > ? "
            "AND o2.status NOT IN ('cancelled', 'expired', 'suppressed')) >= ?",
            [self.category, self.notice_id, self.week_ago, self.cap],
        )


def _audience_row(db: sqlite_utils.Database, notice_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM notices WHERE id = ?", [notice_id]))
    if not rows:
        raise KeyError(notice_id)
    return rows[0]


def _skipped(db: sqlite_utils.Database, audience: _Audience, lo: str, hi: str) -> tuple[int, int]:
    """(stopped, over the cap) among the audience's residents in (lo, hi]."""
    members, args = audience.between()
    places, place_args = audience.in_districts()
    cap, cap_args = audience.over_cap()
    row = db.execute(
        f"SELECT sum(r.notices_enabled = 0), sum(r.notices_enabled = 1 AND ({cap})) "
        f"FROM residents r WHERE r.id IN ({members}) AND {places}",
        [*cap_args, *args, lo, hi, *place_args],
    ).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def audience_count(db: sqlite_utils.Database, notice_id: str, now: datetime) -> AudienceCount:
    """Who the notice would reach now (staff see it before approving): one pass."""
    audience = _Audience(db, _audience_row(db, notice_id), now)
    source, key, args = audience.source()
    places, place_args = audience.in_districts()
    cap, cap_args = audience.over_cap()
    row = db.execute(
        f"SELECT sum(r.notices_enabled = 1 AND NOT ({cap})), sum(r.notices_enabled = 0), "
        f"sum(r.notices_enabled = 1 AND ({cap})) FROM residents r "
        f"WHERE r.id IN (SELECT {key} {source}) AND {places}",
        [*cap_args, *cap_args, *args, *place_args],
    ).fetchone()
    recipients, stopped, capped = (int(value or 0) for value in row)
    if audience.mode == "list":  # numbers never heard from: nothing stops them
        recipients += db.execute(
            "SELECT count(*) FROM notice_lists l WHERE l.notice_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM residents r WHERE r.id = l.resident_id)",
            [notice_id],
        ).fetchone()[0]
    return AudienceCount(recipients, stopped, capped)


# Residents per statement inside a fan-out batch: between two, the batch commits early when
# another writer waits (a webhook's commit, a turn, a delivery claim): fan-out is background.
CHUNK = 100


def fan_out(
    db: sqlite_utils.Database,
    notice_id: str,
    route: Route,
    local: frozenset[str],
    limit: int,
    now: datetime,
    give_way: Callable[[], bool] = lambda: False,
) -> FanOutStep:
    """The next `limit` residents of the audience (fewer when `give_way` says another
    writer waits) → one outbox row each (unique per notice and resident: a batch run twice
    adds nothing), counts and the cursor in the same transaction, so a crash at any point
    resumes where the last commit left off."""
    row = _audience_row(db, notice_id)
    if row["fanout_done"]:
        return FanOutStep(0, 0, 0, True)
    audience = _Audience(db, row, now)
    cursor = row["fanout_cursor"]
    totals = [0, 0, 0]
    chunk = max(1, min(CHUNK, limit))
    for _ in range(-(-limit // chunk)):
        until = audience.until(cursor, chunk)
        if until is None:
            break
        for i, n in enumerate(_fan_out_chunk(db, audience, row, cursor, until, route, local, now)):
            totals[i] += n
        cursor = until
        if give_way():
            break
    if cursor == row["fanout_cursor"]:
        db.execute("UPDATE notices SET fanout_done = 1 WHERE id = ?", [notice_id])
        return FanOutStep(0, 0, 0, True)
    queued, stopped, capped = totals
    db.execute(
        "UPDATE notices SET fanout_cursor = ?, queued_total = queued_total + ?, "
        "skipped_stopped = skipped_stopped + ?, skipped_cap = skipped_cap + ? WHERE id = ?",
        [cursor, queued, stopped, capped, notice_id],
    )
    return FanOutStep(queued, stopped, capped, False)


def _fan_out_chunk(
    db: sqlite_utils.Database,
    audience: _Audience,
    row: dict[str, Any],
    lo: str,
    hi: str,
    route: Route,
    local: frozenset[str],
    now: datetime,
) -> tuple[int, int, int]:
    """(queued, stopped, over the cap) for the audience's residents in (lo, hi]."""
    notice_id = audience.notice_id
    stamp = utc_text(now)
    if audience.mode == "list":
        # Numbers the bot has never heard from become residents (hashed and encrypted, as
        # imported), reached by the default route.
        db.execute(
            "INSERT OR IGNORE INTO residents (id, phone_enc, last_provider, last_channel, "
            "created_at, last_seen_at) SELECT resident_id, phone_enc, ?, ?, ?, ? "
            "FROM notice_lists WHERE notice_id = ? AND resident_id > ? AND resident_id <= ?",
            [route.provider, route.channel, stamp, stamp, notice_id, lo, hi],
        )
    stopped, capped = _skipped(db, audience, lo, hi)  # before this batch's rows exist
    members, member_args = audience.between()
    places, place_args = audience.in_districts()
    cap, cap_args = audience.over_cap()
    local_marks = ",".join("?" for _ in local) or "''"
    queued = db.execute(
        "INSERT OR IGNORE INTO outbox (resident_id, provider, channel, kind, text, suggestions, "
        "created_at, status, next_attempt_at, idempotency_key, notice_id, priority) "
        "SELECT r.id, coalesce(r.last_provider, ?), coalesce(r.last_channel, ?), 'notice', '', "
        f"'[]', ?, CASE WHEN coalesce(r.last_provider, ?) IN ({local_marks}) THEN 'sent' "
        "ELSE 'pending' END, ?, 'n:' || ? || ':' || r.id, ?, ? FROM residents r "
        f"WHERE r.id IN ({members}) AND r.notices_enabled = 1 "
        f"AND {places} AND NOT ({cap}) ORDER BY r.id",
        [
            route.provider,
            route.channel,
            stamp,
            route.provider,
            *local,
            stamp,
            notice_id,
            notice_id,
            row["priority"],
            *member_args,
            lo,
            hi,
            *place_args,
            *cap_args,
        ],
    ).rowcount
    return queued, stopped, capped


def drop_rows(db: sqlite_utils.Database, notice_id: str, status: str, limit: int) -> int:
    """Up to `limit` still-queued rows of a cancelled or expired notice → `status`."""
    return db.execute(
        "UPDATE outbox SET status = ?, error = ? WHERE id IN (SELECT id FROM outbox "
        "WHERE notice_id = ? AND status = 'pending' AND kind = 'notice' LIMIT ?)",
        [status, f"notice_{status}", notice_id, limit],
    ).rowcount


def unfinished(db: sqlite_utils.Database, notice_id: str) -> bool:
    """Are rows still queued or being sent?"""
    return (
        db.execute(
            "SELECT 1 FROM outbox WHERE notice_id = ? AND kind = 'notice' "
            "AND status IN ('pending', 'sending') LIMIT 1",
            [notice_id],
        ).fetchone()
        is not None
    )


# ---- delivery -----------------------------------------------------------------------------


def claim_groups(
    db: sqlite_utils.Database, now: datetime, held: frozenset[int]
) -> list[tuple[str, int]]:
    """The notices whose rows the delivery claim may take now, each with the highest
    priority it may take: a sending notice not past its expiry (a held one: its test sends
    only), and notices with test sends pending."""
    stamp = utc_text(now)
    groups = []
    for notice_id, state, priority, expires in db.execute(
        "SELECT id, state, priority, expires_at FROM notices WHERE state IN ('approved', "
        "'scheduled', 'sending') OR (tested_at IS NOT NULL AND tested_at > ?)",
        [utc_text(now - timedelta(days=1))],
    ).fetchall():
        live = state in LIVE and priority not in held and (expires is None or expires > stamp)
        groups.append((notice_id, priority if live else 0))
    return groups


def _cards(db: sqlite_utils.Database, ids: set[str]) -> dict[str, Card]:
    marks = ",".join("?" for _ in ids)
    return {
        row["id"]: Card.from_row(
            row, from_utc_text(row["expires_at"]) if row["expires_at"] else None
        )
        for row in db.query(
            "SELECT n.id, n.state, n.audience, n.audience_rule, n.topic, n.sms_text, n.rcs_text, "
            "n.suggestions, n.content, n.expires_at, EXISTS (SELECT 1 FROM notice_images i "
            f"WHERE i.notice_id = n.id) AS has_image FROM notices n WHERE n.id IN ({marks})",
            list(ids),
        )
    }


def fill_items(
    db: sqlite_utils.Database, items: list[OutboxItem], now: datetime, drop: bool = True
) -> list[OutboxItem]:
    """Notice rows get the notice's text (per channel), choices, card and expiry; rows of a
    notice cancelled or expired meanwhile, or of a topic the resident stopped, are dropped
    (their status set) and left out (`drop`: False only fills)."""
    ids = {item.notice_id for item in items if item.notice_id}
    if not ids:
        return items
    cards = _cards(db, ids)
    stopped = _stopped_topics(db, [i for i in items if i.notice_id and i.kind == "notice"])
    kept: list[OutboxItem] = []
    stamp = utc_text(now)
    for item in items:
        card = cards.get(item.notice_id or "")
        if card is None:
            kept.append(item)
            continue
        why = why_dropped(item, card, stopped, now) if drop else None
        if why:
            db.execute(
                "UPDATE outbox SET status = ?, error = ?, status_at = ? WHERE id = ?",
                [why, drop_error(why), stamp, item.id],
            )
            continue
        kept.append(with_notice(item, card))
    return kept


def _stopped_topics(db: sqlite_utils.Database, items: list[OutboxItem]) -> set[tuple[str, str]]:
    if not items:
        return set()
    return {
        (row[0], row[1])
        for row in db.execute(
            "SELECT resident_id, topic FROM notice_subscriptions WHERE active = 0 "
            "AND resident_id IN (SELECT value FROM json_each(?))",
            [json.dumps([i.resident_id for i in items])],
        )
    }


def fill_sent(db: sqlite_utils.Database, messages: list[SentMessage]) -> list[SentMessage]:
    """What a resident was sent, notices with their text (as their channel showed it)."""
    ids = {m.notice_id for m in messages if m.notice_id and not m.text}
    if not ids:
        return messages
    return sent_with_notice(messages, _cards(db, ids))
