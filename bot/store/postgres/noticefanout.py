"""A notice's audience turned into outbox rows (PostgreSQL), as
bot/store/sqlite/noticefanout.py for SQLite: who it reaches, the fan-out's batches (one row
per notice and resident, the cursor committed with its rows), and the delivery claim's side
of notices' rows — which notices' rows may go now, and their text filled in.

Every function takes the connection of the caller's transaction. Many `bot serve`
processes may run a dispatcher each: a fan-out batch locks its notice's row first, so two
never take the same residents (and the outbox's unique key would refuse a second row)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from bot.store.noticerows import (
    LIVE,
    Card,
    drop_error,
    sent_with_notice,
    why_dropped,
    with_notice,
)
from bot.store.postgres.connection import Conn
from bot.store.records import (
    AudienceCount,
    FanOutStep,
    NoticeContent,
    OutboxItem,
    Route,
    SentMessage,
)

ACTIVE_BOOKING = "('booked', 'changed')"


class _Audience:
    """SQL for one notice's audience (bot/store/sqlite/noticefanout.py's, in PostgreSQL's words):
    the residents it is driven by, in id order, and the conditions each must meet."""

    def __init__(self, row: dict[str, Any], now: datetime) -> None:
        content = NoticeContent.from_json(json.loads(row["content"]))
        self.notice_id = row["id"]
        self.mode = row["audience"]
        self.rule = row["audience_rule"]
        self.topic = row["topic"]
        self.districts = list(content.districts)
        self.day: date | None = content.booked_on
        self.cap = row["weekly_cap"]
        self.category = row["category"]
        self.week_ago = now - timedelta(days=7)

    def source(self) -> tuple[str, str, list[Any]]:
        """(FROM … WHERE …, its resident id column, arguments)."""
        if self.mode == "list":
            return "FROM notice_lists WHERE notice_id = %s", "resident_id", [self.notice_id]
        if self.mode == "booked":
            where, args = "", list[Any]([self.day])
            if self.districts:
                where = " AND district = ANY(%s)"
                args.append(self.districts)
            return (
                f"FROM bookings WHERE collection_date = %s AND status IN {ACTIVE_BOOKING}{where}",
                "resident_id",
                args,
            )
        if self.rule == "subscribers":
            return (
                "FROM notice_subscriptions WHERE topic = %s AND active = 1",
                "resident_id",
                [self.topic],
            )
        return "FROM residents WHERE true", "id", []  # subscribers_and_known

    def in_districts(self) -> tuple[str, list[Any]]:
        if not self.districts or self.mode != "category":
            return "true", []
        return (
            "(r.district = ANY(%s) OR EXISTS (SELECT 1 FROM bookings b "
            "WHERE b.resident_id = r.id AND b.district = ANY(%s)))",
            [self.districts, self.districts],
        )

    def over_cap(self) -> tuple[str, list[Any]]:
        if not self.cap:
            return "false", []
        return (
            "(SELECT count(*) FROM outbox o2 JOIN notices n2 ON n2.id = o2.notice_id "
            "WHERE o2.resident_id = r.id AND o2.kind = 'notice' AND n2.category = %s "
            "AND o2.notice_id != %s AND o2.created_at > %s "
            "AND o2.status NOT IN ('cancelled', 'expired', 'suppressed')) >= %s",
            [self.category, self.notice_id, self.week_ago, self.cap],
        )


def _notice_row(conn: Conn, notice_id: str, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(
        "SELECT * FROM notices WHERE id = %s" + (" FOR UPDATE" if lock else ""), [notice_id]
    ).fetchone()
    if row is None:
        raise KeyError(notice_id)
    return dict(row)


def audience_count(conn: Conn, notice_id: str, now: datetime) -> AudienceCount:
    """Who the notice would reach now (staff see it before approving): one pass."""
    audience = _Audience(_notice_row(conn, notice_id), now)
    source, key, args = audience.source()
    places, place_args = audience.in_districts()
    cap, cap_args = audience.over_cap()
    row = conn.execute(
        f"SELECT count(*) FILTER (WHERE r.notices_enabled AND NOT ({cap})) AS recipients, "
        "count(*) FILTER (WHERE NOT r.notices_enabled) AS stopped, "
        f"count(*) FILTER (WHERE r.notices_enabled AND ({cap})) AS capped FROM residents r "
        f"WHERE r.id IN (SELECT {key} {source}) AND {places}",
        [*cap_args, *cap_args, *args, *place_args],
    ).fetchone()
    assert row is not None
    recipients = int(row["recipients"])
    if audience.mode == "list":  # numbers never heard from: nothing stops them
        unknown = conn.execute(
            "SELECT count(*) AS n FROM notice_lists l WHERE l.notice_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM residents r WHERE r.id = l.resident_id)",
            [notice_id],
        ).fetchone()
        recipients += int(unknown["n"]) if unknown else 0
    return AudienceCount(recipients, int(row["stopped"]), int(row["capped"]))


def fan_out(
    conn: Conn, notice_id: str, route: Route, local: frozenset[str], limit: int, now: datetime
) -> FanOutStep:
    """The next `limit` residents of the audience → one outbox row each (unique per notice
    and resident), the counts and the cursor in the same transaction: a crash resumes where
    the last commit left off. The notice's row is locked first (one dispatcher at a time)."""
    row = _notice_row(conn, notice_id, lock=True)
    if row["fanout_done"]:
        return FanOutStep(0, 0, 0, True)
    audience = _Audience(row, now)
    source, key, args = audience.source()
    lo = row["fanout_cursor"]
    found = conn.execute(
        f"SELECT max(rid) AS hi FROM (SELECT DISTINCT {key} AS rid {source} AND {key} > %s "
        f"ORDER BY {key} LIMIT %s) AS batch",
        [*args, lo, limit],
    ).fetchone()
    hi = found["hi"] if found else None
    if hi is None:
        conn.execute("UPDATE notices SET fanout_done = 1 WHERE id = %s", [notice_id])
        return FanOutStep(0, 0, 0, True)
    members = f"SELECT {key} {source} AND {key} > %s AND {key} <= %s"
    member_args = [*args, lo, hi]
    if audience.mode == "list":
        # Numbers the bot has never heard from become residents (hashed and encrypted, as
        # imported), reached by the default route.
        conn.execute(
            "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
            "last_seen_at) SELECT resident_id, phone_enc, %s, %s, %s, %s FROM notice_lists "
            "WHERE notice_id = %s AND resident_id > %s AND resident_id <= %s "
            "ON CONFLICT (id) DO NOTHING",
            [route.provider, route.channel, now, now, notice_id, lo, hi],
        )
    places, place_args = audience.in_districts()
    cap, cap_args = audience.over_cap()
    skipped = conn.execute(  # before this batch's rows exist (the cap counts other notices)
        "SELECT count(*) FILTER (WHERE NOT r.notices_enabled) AS stopped, "
        f"count(*) FILTER (WHERE r.notices_enabled AND ({cap})) AS capped "
        f"FROM residents r WHERE r.id IN ({members}) AND {places}",
        [*cap_args, *member_args, *place_args],
    ).fetchone()
    assert skipped is not None
    queued = conn.execute(
        "INSERT INTO outbox (resident_id, provider, channel, kind, text, suggestions, "
        "created_at, status, next_attempt_at, idempotency_key, notice_id, priority) "
        "SELECT r.id, coalesce(r.last_provider, %s), coalesce(r.last_channel, %s), 'notice', "
        "'', '[]', %s, CASE WHEN coalesce(r.last_provider, %s) = ANY(%s) THEN 'sent' "
        "ELSE 'pending' END, %s, 'n:' || %s || ':' || r.id, %s, %s FROM residents r "
        f"WHERE r.id IN ({members}) AND r.notices_enabled AND {places} AND NOT ({cap}) "
        "ORDER BY r.id ON CONFLICT (idempotency_key) DO NOTHING",
        [
            route.provider,
            route.channel,
            now,
            route.provider,
            sorted(local),
            now,
            notice_id,
            notice_id,
            row["priority"],
            *member_args,
            *place_args,
            *cap_args,
        ],
    ).rowcount
    stopped, capped = int(skipped["stopped"]), int(skipped["capped"])
    conn.execute(
        "UPDATE notices SET fanout_cursor = %s, queued_total = queued_total + %s, "
        "skipped_stopped = skipped_stopped + %s, skipped_cap = skipped_cap + %s WHERE id = %s",
        [hi, queued, stopped, capped, notice_id],
    )
    return FanOutStep(queued, stopped, capped, False)


def drop_rows(conn: Conn, notice_id: str, status: str, limit: int) -> int:
    """Up to `limit` still-queued rows of a cancelled or expired notice → `status`."""
    return conn.execute(
        "UPDATE outbox SET status = %s, error = %s WHERE id IN (SELECT id FROM outbox "
        "WHERE notice_id = %s AND status = 'pending' AND kind = 'notice' LIMIT %s "
        "FOR UPDATE SKIP LOCKED)",
        [status, f"notice_{status}", notice_id, limit],
    ).rowcount


def unfinished(conn: Conn, notice_id: str) -> bool:
    """Are rows still queued or being sent?"""
    return (
        conn.execute(
            "SELECT 1 FROM outbox WHERE notice_id = %s AND kind = 'notice' "
            "AND status IN ('pending', 'sending') LIMIT 1",
            [notice_id],
        ).fetchone()
        is not None
    )


# ---- delivery -----------------------------------------------------------------------------


def claim_groups(conn: Conn, now: datetime, held: frozenset[int]) -> tuple[list[str], list[int]]:
    """The notices whose rows the delivery claim may take now, each with the highest
    priority it may take (as two arrays): a live notice not past its expiry (one held for
    quiet hours: its test sends only, priority 0), and notices with test sends pending."""
    ids: list[str] = []
    bounds: list[int] = []
    for row in conn.execute(
        "SELECT id, state, priority, expires_at FROM notices WHERE state = ANY(%s) "
        "OR (tested_at IS NOT NULL AND tested_at > %s)",
        [list(LIVE), now - timedelta(days=1)],
    ).fetchall():
        expires = row["expires_at"]
        live = row["state"] in LIVE and row["priority"] not in held
        live = live and (expires is None or expires > now)
        ids.append(row["id"])
        bounds.append(row["priority"] if live else 0)
    return ids, bounds


def _cards(conn: Conn, ids: set[str]) -> dict[str, Card]:
    rows = conn.execute(
        "SELECT n.id, n.state, n.audience, n.audience_rule, n.topic, n.sms_text, n.rcs_text, "
        "n.suggestions, n.content, n.expires_at, EXISTS (SELECT 1 FROM notice_images i "
        "WHERE i.notice_id = n.id) AS has_image FROM notices n WHERE n.id = ANY(%s)",
        [sorted(ids)],
    ).fetchall()
    return {row["id"]: Card.from_row(row, row["expires_at"]) for row in rows}


def fill_items(
    conn: Conn, items: list[OutboxItem], now: datetime, drop: bool = True
) -> list[OutboxItem]:
    """Notice rows get the notice's text, choices, card and expiry; rows of a notice
    cancelled or expired meanwhile, or of a topic the resident stopped, are dropped (their
    status set) and left out (`drop`: False only fills)."""
    ids = {item.notice_id for item in items if item.notice_id}
    if not ids:
        return items
    cards = _cards(conn, ids)
    residents = [i.resident_id for i in items if i.notice_id and i.kind == "notice"]
    stopped = {
        (row["resident_id"], row["topic"])
        for row in conn.execute(
            "SELECT resident_id, topic FROM notice_subscriptions WHERE active = 0 "
            "AND resident_id = ANY(%s)",
            [residents],
        ).fetchall()
    }
    kept: list[OutboxItem] = []
    for item in items:
        card = cards.get(item.notice_id or "")
        if card is None:
            kept.append(item)
            continue
        why = why_dropped(item, card, stopped, now) if drop else None
        if why:
            conn.execute(
                "UPDATE outbox SET status = %s, error = %s, status_at = %s, claimed_by = NULL "
                "WHERE id = %s",
                [why, drop_error(why), now, item.id],
            )
            continue
        kept.append(with_notice(item, card))
    return kept


def fill_sent(conn: Conn, messages: list[SentMessage]) -> list[SentMessage]:
    ids = {m.notice_id for m in messages if m.notice_id and not m.text}
    if not ids:
        return messages
    return sent_with_notice(messages, _cards(conn, ids))
