"""Staff notices' queries in PostgreSQL, as bot/store/sqlite/notice*.py have them for SQLite:
drafts and their states, who a notice reaches, the fan-out into outbox rows (one per notice
and resident, in batches, the cursor committed with its rows), the delivery claim's part
(which notices' rows may go now, and their text filled in), and the reports.

Every function takes the connection of the caller's transaction. Many `bot serve`
processes may run a dispatcher each: a fan-out batch locks its notice's row first, so two
never take the same residents (and the outbox's unique key would refuse a second row)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.store.noticerows import (
    DONE,
    LIVE,
    OPEN,
    SENT,
    Card,
    candidate_id,
    counts_from,
    drop_error,
    notice_from_row,
    sent_with_notice,
    why_dropped,
    with_notice,
)
from bot.store.postgres.connection import Conn
from bot.store.records import (
    AudienceCount,
    FanOutStep,
    ListEntry,
    NewNotice,
    Notice,
    NoticeContent,
    NoticeCounts,
    OpenAsk,
    OutboxItem,
    ProgressPoint,
    Route,
    SentMessage,
)

ACTIVE_BOOKING = "('booked', 'changed')"

# ---- notices ------------------------------------------------------------------------------


def _new_id(conn: Conn) -> str:
    while True:
        candidate = candidate_id()
        if conn.execute("SELECT 1 FROM notices WHERE id = %s", [candidate]).fetchone() is None:
            return candidate


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def create(conn: Conn, new: NewNotice, audience_rule: str, priority: int, cap: int | None) -> str:
    notice_id = _new_id(conn)
    content = new.content
    conn.execute(
        "INSERT INTO notices (id, title, category, topic, audience, audience_rule, content, "
        "sms_text, rcs_text, suggestions, segments, priority, weekly_cap, created_by, "
        "created_at, updated_by, updated_at, list_count) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            notice_id,
            content.title,
            content.category,
            content.topic,
            content.audience_mode,
            audience_rule,
            _dumps(content.to_json()),
            new.rendering.sms_text,
            new.rendering.rcs_text,
            _dumps(list(new.rendering.suggestions)),
            new.rendering.segments,
            priority,
            cap,
            new.by,
            new.at,
            new.by,
            new.at,
            len(new.recipients),
        ],
    )
    _store_extras(conn, notice_id, new)
    return notice_id


def _store_extras(conn: Conn, notice_id: str, new: NewNotice) -> None:
    if new.image is not None:
        conn.execute(
            "INSERT INTO notice_images (notice_id, content_type, data) VALUES (%s, %s, %s) "
            "ON CONFLICT (notice_id) DO UPDATE SET content_type = excluded.content_type, "
            "data = excluded.data",
            [notice_id, new.image[0], new.image[1]],
        )
    if new.recipients:
        conn.execute(
            "INSERT INTO notice_lists (notice_id, resident_id, phone_enc) "
            "SELECT %s, rid, enc FROM unnest(%s::text[], %s::bytea[]) AS u(rid, enc) "
            "ON CONFLICT DO NOTHING",
            [
                notice_id,
                [entry.resident_id for entry in new.recipients],
                [entry.phone_enc for entry in new.recipients],
            ],
        )


def update(
    conn: Conn,
    notice_id: str,
    new: NewNotice,
    audience_rule: str,
    priority: int,
    cap: int | None,
    keep_image: bool,
    keep_list: bool,
) -> bool:
    """A draft edited (False when it is no longer a draft)."""
    content = new.content
    changed = conn.execute(
        "UPDATE notices SET title = %s, category = %s, topic = %s, audience = %s, "
        "audience_rule = %s, content = %s, sms_text = %s, rcs_text = %s, suggestions = %s, "
        "segments = %s, priority = %s, weekly_cap = %s, updated_by = %s, updated_at = %s "
        "WHERE id = %s AND state = 'draft'",
        [
            content.title,
            content.category,
            content.topic,
            content.audience_mode,
            audience_rule,
            _dumps(content.to_json()),
            new.rendering.sms_text,
            new.rendering.rcs_text,
            _dumps(list(new.rendering.suggestions)),
            new.rendering.segments,
            priority,
            cap,
            new.by,
            new.at,
            notice_id,
        ],
    ).rowcount
    if not changed:
        return False
    if not keep_image:
        conn.execute("DELETE FROM notice_images WHERE notice_id = %s", [notice_id])
    if not keep_list:
        conn.execute("DELETE FROM notice_lists WHERE notice_id = %s", [notice_id])
        conn.execute(
            "UPDATE notices SET list_count = %s WHERE id = %s", [len(new.recipients), notice_id]
        )
    _store_extras(conn, notice_id, new)
    return True


def _as_is(value: datetime) -> datetime:
    return value  # timestamptz: a datetime already


def _notice(row: dict[str, Any]) -> Notice:
    return notice_from_row(row, _as_is)


_NOTICE = (
    "SELECT n.*, EXISTS (SELECT 1 FROM notice_images i WHERE i.notice_id = n.id) AS has_image "
    "FROM notices n"
)


def get(conn: Conn, notice_id: str) -> Notice | None:
    row = conn.execute(f"{_NOTICE} WHERE n.id = %s", [notice_id]).fetchone()
    return _notice(row) if row else None


def newest(conn: Conn, limit: int, after: tuple[datetime, str] | None = None) -> list[Notice]:
    where, args = "", []
    if after is not None:  # a page after the previous one's last (created_at DESC, id)
        where = "WHERE n.created_at < %s OR (n.created_at = %s AND n.id > %s)"
        args = [after[0], after[0], after[1]]
    sql = f"{_NOTICE} {where} ORDER BY n.created_at DESC, n.id LIMIT %s"
    return [_notice(row) for row in conn.execute(sql.encode(), [*args, limit]).fetchall()]


def in_states(conn: Conn, states: Sequence[str]) -> list[Notice]:
    rows = conn.execute(
        f"{_NOTICE} WHERE n.state = ANY(%s) ORDER BY n.id", [list(states)]
    ).fetchall()
    return [_notice(row) for row in rows]


def approve(
    conn: Conn, notice_id: str, by: str, now: datetime, send_at: datetime, expires_at: datetime
) -> bool:
    """draft → approved (False when it was no longer a draft)."""
    return bool(
        conn.execute(
            "UPDATE notices SET state = 'approved', approved_by = %s, approved_at = %s, "
            "send_at = %s, expires_at = %s WHERE id = %s AND state = 'draft'",
            [by, now, send_at, expires_at, notice_id],
        ).rowcount
    )


def cancel(conn: Conn, notice_id: str, by: str, now: datetime) -> str | None:
    """The state it was cancelled from, or None when it had already finished."""
    found = conn.execute(
        "SELECT state FROM notices WHERE id = %s FOR UPDATE", [notice_id]
    ).fetchone()
    if found is None or found["state"] not in OPEN:
        return None
    conn.execute(
        "UPDATE notices SET state = 'cancelled', cancelled_by = %s, finished_at = %s WHERE id = %s",
        [by, now, notice_id],
    )
    return str(found["state"])


def set_state(
    conn: Conn, notice_id: str, state: str, now: datetime, only_from: Sequence[str]
) -> bool:
    finished = now if state in DONE else None
    return bool(
        conn.execute(
            "UPDATE notices SET state = %s, finished_at = coalesce(%s, finished_at) "
            "WHERE id = %s AND state = ANY(%s)",
            [state, finished, notice_id, list(only_from)],
        ).rowcount
    )


def priority_of(conn: Conn, notice_id: str) -> int:
    row = conn.execute("SELECT priority FROM notices WHERE id = %s", [notice_id]).fetchone()
    assert row is not None
    return int(row["priority"])


def tested(conn: Conn, notice_id: str, now: datetime) -> None:
    conn.execute("UPDATE notices SET tested_at = %s WHERE id = %s", [now, notice_id])


def image(conn: Conn, notice_id: str) -> tuple[str, bytes] | None:
    found = conn.execute(
        "SELECT content_type, data FROM notice_images WHERE notice_id = %s", [notice_id]
    ).fetchone()
    return (found["content_type"], bytes(found["data"])) if found else None


def forget_list(conn: Conn, notice_id: str) -> int:
    """A finished notice's imported numbers are not kept."""
    return conn.execute("DELETE FROM notice_lists WHERE notice_id = %s", [notice_id]).rowcount


def known(conn: Conn, to: ListEntry, route: Route, now: datetime) -> None:
    """A number becomes a resident (hashed and encrypted) if the bot never heard from it."""
    conn.execute(
        "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
        "last_seen_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        [to.resident_id, to.phone_enc, route.provider, route.channel, now, now],
    )


def add_row(
    conn: Conn,
    notice_id: str,
    resident_id: str,
    route: Route,
    kind: str,
    status: str,
    key: str,
    priority: int,
    now: datetime,
) -> int:
    """One outbox row of a notice written by staff's hand (a test send, a rehearsal)."""
    found = conn.execute(
        "INSERT INTO outbox (resident_id, provider, channel, kind, text, suggestions, "
        "created_at, status, idempotency_key, next_attempt_at, priority, notice_id) "
        "VALUES (%s, %s, %s, %s, '', '[]', %s, %s, %s, %s, %s, %s) RETURNING id",
        [resident_id, route.provider, route.channel, kind, now, status, key, now, priority,
         notice_id],
    ).fetchone()  # fmt: skip
    assert found is not None
    return int(found["id"])


# ---- the audience -------------------------------------------------------------------------


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


# ---- reports -------------------------------------------------------------------------------


def counts(conn: Conn, notice_id: str) -> NoticeCounts:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM outbox WHERE notice_id = %s AND kind = 'notice' "
        "GROUP BY status",
        [notice_id],
    ).fetchall()
    return counts_from({row["status"]: int(row["n"]) for row in rows})


def record_progress(conn: Conn, notice_id: str, now: datetime, c: NoticeCounts) -> None:
    conn.execute(
        "INSERT INTO notice_progress (notice_id, at, queued, sent, delivered, read, failed) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (notice_id, at) DO UPDATE SET "
        "queued = excluded.queued, sent = excluded.sent, delivered = excluded.delivered, "
        "read = excluded.read, failed = excluded.failed",
        [notice_id, now, c.queued, c.sent, c.delivered, c.read, c.failed],
    )


def progress(conn: Conn, notice_id: str) -> list[ProgressPoint]:
    return [
        ProgressPoint(r["at"], r["queued"], r["sent"], r["delivered"], r["read"], r["failed"])
        for r in conn.execute(
            "SELECT at, queued, sent, delivered, read, failed FROM notice_progress "
            "WHERE notice_id = %s ORDER BY at",
            [notice_id],
        ).fetchall()
    ]


def answers(conn: Conn, notice_id: str) -> dict[str, int]:
    return {
        row["choice"]: int(row["n"])
        for row in conn.execute(
            "SELECT choice, count(*) AS n FROM notice_answers WHERE notice_id = %s GROUP BY choice",
            [notice_id],
        ).fetchall()
    }


def stopped_after(conn: Conn, notice_id: str, hours: float = 24) -> int:
    """Recipients who stopped every notice, or this notice's topic, within `hours` of it."""
    row = conn.execute(
        "SELECT count(DISTINCT o.resident_id) AS n FROM outbox o "
        "JOIN notices n ON n.id = o.notice_id "
        "JOIN notice_consents c ON c.resident_id = o.resident_id AND c.action = 'stop' "
        "AND (c.topic IS NULL OR c.topic = n.topic) "
        "AND c.at >= coalesce(o.status_at, o.created_at) "
        "AND c.at <= coalesce(o.status_at, o.created_at) + %s * interval '1 second' "
        "WHERE o.notice_id = %s AND o.kind = 'notice' AND o.status = ANY(%s)",
        [hours * 3600, notice_id, list(SENT)],
    ).fetchone()
    return int(row["n"]) if row else 0


# ---- answers (a turn's) -------------------------------------------------------------------


def open_ask(conn: Conn, resident_id: str, now: datetime, hours: float) -> OpenAsk | None:
    """The newest notice with a question sent to the resident within `hours`."""
    row = conn.execute(
        "SELECT o.id AS outbox_id, coalesce(o.status_at, o.created_at) AS at, n.id, n.title, "
        "n.topic, n.content FROM outbox o JOIN notices n ON n.id = o.notice_id "
        "WHERE o.resident_id = %s AND o.notice_id IS NOT NULL AND n.suggestions != '[]' "
        "AND o.status = ANY(%s) AND o.created_at >= %s ORDER BY o.id DESC LIMIT 1",
        [resident_id, list(SENT), now - timedelta(hours=hours)],
    ).fetchone()
    if row is None:
        return None
    content = NoticeContent.from_json(json.loads(row["content"]))
    assert content.ask is not None
    later = conn.execute(
        "SELECT 1 FROM outbox WHERE resident_id = %s AND id > %s AND notice_id IS NULL LIMIT 1",
        [resident_id, row["outbox_id"]],
    ).fetchone()
    return OpenAsk(
        notice_id=row["id"],
        title=row["title"],
        topic=row["topic"],
        choices=content.ask.choices,
        handoff=content.ask.handoff,
        sent_at=row["at"],
        latest=later is None,
    )


def answer(conn: Conn, notice_id: str, resident_id: str, choice: str, now: datetime) -> None:
    """The resident's answer (a later one replaces it: one answer per resident)."""
    conn.execute(
        "INSERT INTO notice_answers (notice_id, resident_id, choice, at) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (notice_id, resident_id) DO UPDATE SET "
        "choice = excluded.choice, at = excluded.at",
        [notice_id, resident_id, choice, now],
    )
