"""Staff notices in SQLite (owner "notices"): the notices, their images and imported lists,
residents' subscriptions and consents, answers to a notice's question, progress over time,
and the queries that turn an audience into outbox rows (one per resident) in batches.

Every function takes the Database of the connection's owning thread, inside the caller's
transaction. A notice's outbox rows carry no text (the notice's text is not personal, and a
million copies of it would be): the delivery claim and what the simulator shows fill it in
from here (`fill_items`, `fill_sent`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

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
from bot.store.records import (
    AudienceCount,
    FanOutStep,
    NewNotice,
    Notice,
    NoticeContent,
    NoticeCounts,
    OpenAsk,
    OutboxItem,
    ProgressPoint,
    Route,
    SentMessage,
    Subscription,
)
from bot.store.sqlite.migrations import MigrationSet, run_script
from bot.store.sqlite.pipeline import from_utc_text, utc_text

MIGRATIONS = MigrationSet("notices")

ACTIVE_BOOKING = "('booked', 'changed')"


@MIGRATIONS.step("notices")
def _create(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE notices (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            category TEXT NOT NULL,
            topic TEXT NOT NULL,
            audience TEXT NOT NULL,                -- list | booked | category
            audience_rule TEXT NOT NULL,           -- the category's rule: subscribers | subscribers_and_known
            content TEXT NOT NULL,                 -- NoticeContent as JSON
            sms_text TEXT NOT NULL,
            rcs_text TEXT NOT NULL,
            suggestions TEXT NOT NULL DEFAULT '[]',
            segments INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            weekly_cap INTEGER,
            state TEXT NOT NULL DEFAULT 'draft',
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            approved_by TEXT,
            approved_at TEXT,
            send_at TEXT,
            expires_at TEXT,
            cancelled_by TEXT,
            finished_at TEXT,
            tested_at TEXT,
            fanout_cursor TEXT NOT NULL DEFAULT '',
            fanout_done INTEGER NOT NULL DEFAULT 0,
            queued_total INTEGER NOT NULL DEFAULT 0,
            skipped_stopped INTEGER NOT NULL DEFAULT 0,
            skipped_cap INTEGER NOT NULL DEFAULT 0,
            list_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX notices_state ON notices (state, created_at);
        CREATE TABLE notice_images (
            notice_id TEXT PRIMARY KEY REFERENCES notices (id),
            content_type TEXT NOT NULL,
            data BLOB NOT NULL
        );
        -- An imported list: numbers hashed and encrypted like every number, the rows go
        -- once the notice is finished (the outbox rows and the residents remain).
        CREATE TABLE notice_lists (
            notice_id TEXT NOT NULL REFERENCES notices (id),
            resident_id TEXT NOT NULL,
            phone_enc BLOB NOT NULL,
            PRIMARY KEY (notice_id, resident_id)
        );
        CREATE TABLE notice_subscriptions (
            resident_id TEXT NOT NULL,
            topic TEXT NOT NULL,
            active INTEGER NOT NULL,
            since TEXT NOT NULL,                   -- the consent, or the stop
            PRIMARY KEY (resident_id, topic)
        );
        CREATE INDEX notice_subscribers ON notice_subscriptions (topic, resident_id)
            WHERE active = 1;
        -- Evidence of consent: each subscribe, stop and resume with its time and how it
        -- came (sms, rcs, provider, staff). Never the message's text.
        CREATE TABLE notice_consents (
            id INTEGER PRIMARY KEY,
            resident_id TEXT NOT NULL,
            topic TEXT,                            -- NULL: every notice (停止 / 再開)
            action TEXT NOT NULL,                  -- subscribe | stop | resume
            via TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX notice_consents_by_resident ON notice_consents (resident_id, at);
        CREATE INDEX notice_consents_by_time ON notice_consents (action, at);
        CREATE TABLE notice_answers (
            notice_id TEXT NOT NULL,
            resident_id TEXT NOT NULL,
            choice TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (notice_id, resident_id)
        );
        CREATE TABLE notice_progress (
            notice_id TEXT NOT NULL,
            at TEXT NOT NULL,
            queued INTEGER NOT NULL,
            sent INTEGER NOT NULL,
            delivered INTEGER NOT NULL,
            read INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            PRIMARY KEY (notice_id, at)
        )
        """,
    )


# ---- notices ------------------------------------------------------------------------------


def _new_id(db: sqlite_utils.Database) -> str:
    while True:
        candidate = candidate_id()
        if db.execute("SELECT 1 FROM notices WHERE id = ?", [candidate]).fetchone() is None:
            return candidate


def _stamp(value: datetime | None) -> str | None:
    return utc_text(value) if value else None


def _time(value: str | None) -> datetime | None:
    return from_utc_text(value) if value else None


def create(
    db: sqlite_utils.Database, new: NewNotice, audience_rule: str, priority: int, cap: int | None
) -> str:
    notice_id = _new_id(db)
    content = new.content
    stamp = utc_text(new.at)
    db.execute(
        "INSERT INTO notices (id, title, category, topic, audience, audience_rule, content, "
        "sms_text, rcs_text, suggestions, segments, priority, weekly_cap, created_by, "
        "created_at, updated_by, updated_at, list_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            notice_id,
            content.title,
            content.category,
            content.topic,
            content.audience_mode,
            audience_rule,
            json.dumps(content.to_json(), ensure_ascii=False),
            new.rendering.sms_text,
            new.rendering.rcs_text,
            json.dumps(list(new.rendering.suggestions), ensure_ascii=False),
            new.rendering.segments,
            priority,
            cap,
            new.by,
            stamp,
            new.by,
            stamp,
            len(new.recipients),
        ],
    )
    _store_extras(db, notice_id, new)
    return notice_id


def _store_extras(db: sqlite_utils.Database, notice_id: str, new: NewNotice) -> None:
    if new.image is not None:
        db.execute(
            "INSERT INTO notice_images (notice_id, content_type, data) VALUES (?, ?, ?) "
            "ON CONFLICT(notice_id) DO UPDATE SET content_type = excluded.content_type, "
            "data = excluded.data",
            [notice_id, new.image[0], new.image[1]],
        )
    if new.recipients:
        db.conn.executemany(
            "INSERT OR IGNORE INTO notice_lists (notice_id, resident_id, phone_enc) "
            "VALUES (?, ?, ?)",
            [(notice_id, entry.resident_id, entry.phone_enc) for entry in new.recipients],
        )


def update(
    db: sqlite_utils.Database,
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
    changed = db.execute(
        "UPDATE notices SET title = ?, category = ?, topic = ?, audience = ?, audience_rule = ?, "
        "content = ?, sms_text = ?, rcs_text = ?, suggestions = ?, segments = ?, priority = ?, "
        "weekly_cap = ?, updated_by = ?, updated_at = ? WHERE id = ? AND state = 'draft'",
        [
            content.title,
            content.category,
            content.topic,
            content.audience_mode,
            audience_rule,
            json.dumps(content.to_json(), ensure_ascii=False),
            new.rendering.sms_text,
            new.rendering.rcs_text,
            json.dumps(list(new.rendering.suggestions), ensure_ascii=False),
            new.rendering.segments,
            priority,
            cap,
            new.by,
            utc_text(new.at),
            notice_id,
        ],
    ).rowcount
    if not changed:
        return False
    if not keep_image:
        db.execute("DELETE FROM notice_images WHERE notice_id = ?", [notice_id])
    if not keep_list:
        db.execute("DELETE FROM notice_lists WHERE notice_id = ?", [notice_id])
        db.execute(
            "UPDATE notices SET list_count = ? WHERE id = ?", [len(new.recipients), notice_id]
        )
    _store_extras(db, notice_id, new)
    return True


def _notice(row: dict[str, Any]) -> Notice:
    return notice_from_row(row, from_utc_text)


_NOTICE = (
    "SELECT n.*, EXISTS (SELECT 1 FROM notice_images i WHERE i.notice_id = n.id) AS has_image "
    "FROM notices n"
)


def get(db: sqlite_utils.Database, notice_id: str) -> Notice | None:
    rows = list(db.query(f"{_NOTICE} WHERE n.id = ?", [notice_id]))
    return _notice(rows[0]) if rows else None


def newest(
    db: sqlite_utils.Database, limit: int, after: tuple[datetime, str] | None = None
) -> list[Notice]:
    where, args = "", []
    if after is not None:  # a page after the previous one's last (created_at DESC, id)
        where = "WHERE n.created_at < ? OR (n.created_at = ? AND n.id > ?)"
        args = [utc_text(after[0]), utc_text(after[0]), after[1]]
    sql = f"{_NOTICE} {where} ORDER BY n.created_at DESC, n.id LIMIT ?"
    return [_notice(row) for row in db.query(sql, [*args, limit])]


def in_states(db: sqlite_utils.Database, states: Sequence[str]) -> list[Notice]:
    marks = ",".join("?" for _ in states)
    return [
        _notice(row)
        for row in db.query(f"{_NOTICE} WHERE n.state IN ({marks}) ORDER BY n.id", list(states))
    ]


def approve(
    db: sqlite_utils.Database,
    notice_id: str,
    by: str,
    now: datetime,
    send_at: datetime,
    expires_at: datetime,
) -> bool:
    """draft → approved (False when it was no longer a draft)."""
    return bool(
        db.execute(
            "UPDATE notices SET state = 'approved', approved_by = ?, approved_at = ?, "
            "send_at = ?, expires_at = ? WHERE id = ? AND state = 'draft'",
            [by, utc_text(now), utc_text(send_at), utc_text(expires_at), notice_id],
        ).rowcount
    )


def cancel(db: sqlite_utils.Database, notice_id: str, by: str, now: datetime) -> str | None:
    """The state it was cancelled from, or None when it had already finished."""
    found = db.execute("SELECT state FROM notices WHERE id = ?", [notice_id]).fetchone()
    if found is None or found[0] not in OPEN:
        return None
    db.execute(
        "UPDATE notices SET state = 'cancelled', cancelled_by = ?, finished_at = ? WHERE id = ?",
        [by, utc_text(now), notice_id],
    )
    return str(found[0])


def set_state(
    db: sqlite_utils.Database, notice_id: str, state: str, now: datetime, only_from: Sequence[str]
) -> bool:
    marks = ",".join("?" for _ in only_from)
    finished = utc_text(now) if state in DONE else None
    return bool(
        db.execute(
            f"UPDATE notices SET state = ?, finished_at = coalesce(?, finished_at) "
            f"WHERE id = ? AND state IN ({marks})",
            [state, finished, notice_id, *only_from],
        ).rowcount
    )


def priority_of(db: sqlite_utils.Database, notice_id: str) -> int:
    return int(db.execute("SELECT priority FROM notices WHERE id = ?", [notice_id]).fetchone()[0])


def tested(db: sqlite_utils.Database, notice_id: str, now: datetime) -> None:
    db.execute("UPDATE notices SET tested_at = ? WHERE id = ?", [utc_text(now), notice_id])


def image(db: sqlite_utils.Database, notice_id: str) -> tuple[str, bytes] | None:
    found = db.execute(
        "SELECT content_type, data FROM notice_images WHERE notice_id = ?", [notice_id]
    ).fetchone()
    return (found[0], bytes(found[1])) if found else None


def forget_list(db: sqlite_utils.Database, notice_id: str) -> int:
    """A finished notice's imported numbers are not kept."""
    return db.execute("DELETE FROM notice_lists WHERE notice_id = ?", [notice_id]).rowcount


# ---- the audience -------------------------------------------------------------------------


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
        row["id"]: Card.from_row(row, _time(row["expires_at"]))
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


# ---- reports -------------------------------------------------------------------------------


def counts(db: sqlite_utils.Database, notice_id: str) -> NoticeCounts:
    by_status = dict(
        db.execute(
            "SELECT status, count(*) FROM outbox WHERE notice_id = ? AND kind = 'notice' "
            "GROUP BY status",
            [notice_id],
        ).fetchall()
    )
    return counts_from(by_status)


def record_progress(
    db: sqlite_utils.Database, notice_id: str, now: datetime, c: NoticeCounts
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO notice_progress (notice_id, at, queued, sent, delivered, read, "
        "failed) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [notice_id, utc_text(now), c.queued, c.sent, c.delivered, c.read, c.failed],
    )


def progress(db: sqlite_utils.Database, notice_id: str) -> list[ProgressPoint]:
    return [
        ProgressPoint(from_utc_text(r[0]), r[1], r[2], r[3], r[4], r[5])
        for r in db.execute(
            "SELECT at, queued, sent, delivered, read, failed FROM notice_progress "
            "WHERE notice_id = ? ORDER BY at",
            [notice_id],
        )
    ]


def answers(db: sqlite_utils.Database, notice_id: str) -> dict[str, int]:
    return dict(
        db.execute(
            "SELECT choice, count(*) FROM notice_answers WHERE notice_id = ? GROUP BY choice",
            [notice_id],
        ).fetchall()
    )


def stopped_after(db: sqlite_utils.Database, notice_id: str, hours: float = 24) -> int:
    """Recipients who stopped every notice, or this notice's topic, within `hours` of it."""
    span = f"+{int(hours * 3600)} seconds"
    return int(
        db.execute(
            "SELECT count(DISTINCT o.resident_id) FROM outbox o JOIN notices n ON n.id = o.notice_id "
            "JOIN notice_consents c ON c.resident_id = o.resident_id AND c.action = 'stop' "
            "AND (c.topic IS NULL OR c.topic = n.topic) "
            "AND c.at >= coalesce(o.status_at, o.created_at) "
            "AND julianday(c.at) <= julianday(coalesce(o.status_at, o.created_at), ?) "
            f"WHERE o.notice_id = ? AND o.kind = 'notice' AND o.status IN {SENT}",
            [span, notice_id],
        ).fetchone()[0]
    )


# ---- subscriptions and consent --------------------------------------------------------------


def subscriptions(db: sqlite_utils.Database, resident_id: str) -> list[Subscription]:
    return [
        Subscription(row[0], bool(row[1]), from_utc_text(row[2]))
        for row in db.execute(
            "SELECT topic, active, since FROM notice_subscriptions WHERE resident_id = ? "
            "ORDER BY topic",
            [resident_id],
        )
    ]


def consent(
    db: sqlite_utils.Database,
    resident_id: str,
    topic: str | None,
    action: str,
    via: str,
    now: datetime,
) -> None:
    db.execute(
        "INSERT INTO notice_consents (resident_id, topic, action, via, at) VALUES (?, ?, ?, ?, ?)",
        [resident_id, topic, action, via, utc_text(now)],
    )


def set_topics(
    db: sqlite_utils.Database,
    resident_id: str,
    topics: Sequence[str],
    active: bool,
    via: str,
    now: datetime,
) -> list[str]:
    """Subscribe to (or stop) these topics; the ones that changed, each with its consent."""
    current = {s.topic: s.active for s in subscriptions(db, resident_id)}
    changed = [t for t in topics if current.get(t) != active and (active or t in current)]
    stamp = utc_text(now)
    for topic in changed:
        db.execute(
            "INSERT INTO notice_subscriptions (resident_id, topic, active, since) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(resident_id, topic) DO UPDATE SET "
            "active = excluded.active, since = excluded.since",
            [resident_id, topic, int(active), stamp],
        )
        consent(db, resident_id, topic, "subscribe" if active else "stop", via, now)
    return changed


# ---- answers ------------------------------------------------------------------------------


def open_ask(
    db: sqlite_utils.Database, resident_id: str, now: datetime, hours: float
) -> OpenAsk | None:
    """The newest notice with a question sent to the resident within `hours`."""
    since = utc_text(now - timedelta(hours=hours))
    rows = list(
        db.query(
            "SELECT o.id AS outbox_id, coalesce(o.status_at, o.created_at) AS at, n.id, n.title, "
            "n.topic, n.content FROM outbox o JOIN notices n ON n.id = o.notice_id "
            "WHERE o.resident_id = ? AND o.notice_id IS NOT NULL AND n.suggestions != '[]' "
            f"AND o.status IN {SENT} AND o.created_at >= ? ORDER BY o.id DESC LIMIT 1",
            [resident_id, since],
        )
    )
    if not rows:
        return None
    row = rows[0]
    content = NoticeContent.from_json(json.loads(row["content"]))
    assert content.ask is not None
    later = db.execute(
        "SELECT 1 FROM outbox WHERE resident_id = ? AND id > ? AND notice_id IS NULL LIMIT 1",
        [resident_id, row["outbox_id"]],
    ).fetchone()
    return OpenAsk(
        notice_id=row["id"],
        title=row["title"],
        topic=row["topic"],
        choices=content.ask.choices,
        handoff=content.ask.handoff,
        sent_at=from_utc_text(row["at"]),
        latest=later is None,
    )


def answer(
    db: sqlite_utils.Database, notice_id: str, resident_id: str, choice: str, now: datetime
) -> None:
    """The resident's answer (a later one replaces it: one answer per resident)."""
    db.execute(
        "INSERT INTO notice_answers (notice_id, resident_id, choice, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(notice_id, resident_id) DO UPDATE SET choice = excluded.choice, "
        "at = excluded.at",
        [notice_id, resident_id, choice, utc_text(now)],
    )
