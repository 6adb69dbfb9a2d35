"""Staff notices' own queries in PostgreSQL, as bot/store/sqlite/notices.py has them for
SQLite: drafts, edits, approval, cancel and state, a notice's image and imported list, and
the rows staff send by hand (a test send, a rehearsal). The tables are
bot/store/postgres/notices.py's; the fan-out and the delivery claim's side are
noticefanout.py; reports noticereports.py; a turn's side noticeresidents.py.

Every function takes the connection of the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.store.noticerows import (
    DONE,
    NOTICE_COLUMNS,
    OPEN,
    candidate_id,
    notice_fields,
    notice_from_row,
)
from bot.store.postgres.connection import Conn
from bot.store.records import (
    ListEntry,
    NewNotice,
    Notice,
    Route,
)


def _new_id(conn: Conn) -> str:
    while True:
        candidate = candidate_id()
        if conn.execute("SELECT 1 FROM notices WHERE id = %s", [candidate]).fetchone() is None:
            return candidate


def create(conn: Conn, new: NewNotice, audience_rule: str, priority: int, cap: int | None) -> str:
    notice_id = _new_id(conn)
    conn.execute(
        f"INSERT INTO notices (id, {NOTICE_COLUMNS}, created_by, created_at, updated_by, "
        "updated_at, list_count) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)".encode(),
        [
            notice_id,
            *notice_fields(new, audience_rule, priority, cap),
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
    changed = conn.execute(
        f"UPDATE notices SET ({NOTICE_COLUMNS}, updated_by, updated_at) = "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "WHERE id = %s AND state = 'draft'".encode(),
        [*notice_fields(new, audience_rule, priority, cap), new.by, new.at, notice_id],
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
