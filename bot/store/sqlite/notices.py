"""Staff notices in SQLite (owner "notices"): the tables (notices, their images and imported
lists, residents' subscriptions and consents, answers, progress over time) and the notices
themselves — drafts, edits, approval, cancel, state. The fan-out and the delivery claim's
side are bot/store/sqlite/noticefanout.py; reports noticereports.py; a resident's side from a
turn (subscriptions, consent, answers) noticeresidents.py.

Every function takes the Database of the connection's owning thread, inside the caller's
transaction. A notice's outbox rows carry no text (the notice's text is not personal, and a
million copies of it would be): the delivery claim and what the simulator shows fill it in
(noticefanout.fill_items, fill_sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.noticerows import (
    DONE,
    NOTICE_COLUMNS,
    OPEN,
    candidate_id,
    notice_fields,
    notice_from_row,
)
from bot.store.records import (
    NewNotice,
    Notice,
)
from bot.store.sqlite.migrations import MigrationSet, run_script
from bot.store.sqlite.pipeline import from_utc_text, utc_text

MIGRATIONS = MigrationSet("notices")


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
    stamp = utc_text(new.at)
    db.execute(
        f"INSERT INTO notices (id, {NOTICE_COLUMNS}, created_by, created_at, updated_by, "
        "updated_at, list_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            notice_id,
            *notice_fields(new, audience_rule, priority, cap),
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
    changed = db.execute(
        f"UPDATE notices SET ({NOTICE_COLUMNS}, updated_by, updated_at) = "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ? AND state = 'draft'",
        [*notice_fields(new, audience_rule, priority, cap), new.by, utc_text(new.at), notice_id],
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
