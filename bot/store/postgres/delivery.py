"""The delivery worker's bookkeeping on the outbox (PostgreSQL), shared by many processes
(owner "delivery": process leases and the shared send budget).

- A claim marks rows 'sending' with the claiming process's id and commits (sends take
  network time; no transaction stays open across them). Claims are serialised by one
  transaction-scoped advisory lock (they take a millisecond), so a resident whose row is
  being sent by one process gets no second row sent by another meanwhile: a resident's
  replies go out in order wherever they are sent from.
- Each serving process holds a lease (`store_leases`) it renews every second. A 'sending'
  row whose process's lease ran out (the process died or hung) is put back to pending by
  any survivor (`reclaim`) and sent again: at least once, and the provider's idempotency
  key makes the resident see it once.
- The send rate is one budget for all processes: a token bucket row per provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.store import records as r
from bot.store.base import SendBudget
from bot.store.postgres import noticefanout
from bot.store.postgres.connection import Conn, Lane
from bot.store.postgres.migrations import MigrationSet
from bot.store.postgres.notices import consent
from bot.store.postgres.pipeline import update_resident
from bot.store.records import OutboxItem, SentMark

MIGRATIONS = MigrationSet("delivery")
MIGRATIONS.ddl(
    "leases and send budget",
    """
    CREATE TABLE store_leases (
        owner text PRIMARY KEY,              -- a serving process (host, pid, random part)
        started_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE send_budget (
        provider text PRIMARY KEY,
        tokens double precision NOT NULL,    -- may go below 0: sends reserved ahead
        stamp timestamptz NOT NULL
    );
    """,
)

CLAIM_LOCK = 7_410_020
LEASE_SECONDS = 5.0
# A row taken back from a process that stopped: in doubt since its claim.
IN_DOUBT = "doubt_since = coalesce(doubt_since, claimed_at, created_at)"


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        resident_id=row["resident_id"],
        provider=row["provider"],
        channel=row["channel"],
        kind=row["kind"],
        text=row["text"],
        suggestions=row["suggestions"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        idempotency_key=row["idempotency_key"],
        provider_message_id=row["provider_message_id"],
        phone_enc=bytes(row["phone_enc"]) if row["phone_enc"] is not None else None,
        notices_enabled=bool(True if row["notices_enabled"] is None else row["notices_enabled"]),
        priority=row["priority"],
        notice_id=row["notice_id"],
        in_doubt_since=row["doubt_since"],
    )


# Pending rows the claim may take: replies and reminders (no staff notice), and the rows of
# the staff notices `claim_groups` lists, each up to its bound (bot/store/postgres/noticefanout).
_CLAIMABLE = (
    "c.status = 'pending' AND c.provider = ANY(%(providers)s) "
    "AND (c.notice_id IS NULL OR c.priority <= (SELECT g.bound FROM "
    "unnest(%(ids)s::text[], %(bounds)s::int[]) AS g(nid, bound) WHERE g.nid = c.notice_id))"
)


def claim(
    conn: Conn,
    owner: str,
    providers: Sequence[str],
    now: datetime,
    limit: int,
    held: frozenset[int] = frozenset(),
) -> list[OutboxItem]:
    """Due pending rows for these providers by priority (replies first, emergency notices
    next) then age, of residents with no row being sent by anyone, marked 'sending' by
    `owner` at `now` (the claim's time: should the attempt's outcome go unrecorded, the row
    is in doubt since then); staff notices' rows filled with their text, or dropped when
    their notice was cancelled or expired meanwhile (noticefanout.fill_items)."""
    if not providers:
        return []
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
    ids, bounds = noticefanout.claim_groups(conn, now, held)
    rows = conn.execute(
        "UPDATE outbox o SET status = 'sending', attempts = o.attempts + 1, claimed_by = %(owner)s, "
        "claimed_at = %(now)s "
        f"FROM (SELECT c.id, c.resident_id FROM outbox c WHERE {_CLAIMABLE} "
        "      AND c.next_attempt_at <= %(now)s "
        "      AND NOT EXISTS (SELECT 1 FROM outbox s WHERE s.status = 'sending' "
        "                      AND s.resident_id = c.resident_id) "
        "      ORDER BY c.priority, c.id LIMIT %(limit)s) pick "
        "LEFT JOIN residents r ON r.id = pick.resident_id "
        "WHERE o.id = pick.id "
        "RETURNING o.*, r.phone_enc, r.notices_enabled",
        {
            "owner": owner,
            "providers": list(providers),
            "ids": ids,
            "bounds": bounds,
            "now": now,
            "limit": limit,
        },
    ).fetchall()
    rows.sort(key=lambda row: (row["priority"], row["id"]))
    return noticefanout.fill_items(conn, [_item(row) for row in rows], now)


def sent(conn: Conn, marks: Sequence[SentMark]) -> None:
    """One statement for a batch's sends."""
    if not marks:
        return
    conn.execute(
        "UPDATE outbox o SET status = 'sent', provider_message_id = m.pid, status_at = m.at, "
        "error = NULL, doubt_since = NULL FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) "
        "AS m(id, pid, at) WHERE o.id = m.id AND o.status IN ('pending', 'sending')",
        [
            [mark.outbox_id for mark in marks],
            [mark.provider_message_id for mark in marks],
            [mark.at for mark in marks],
        ],
    )


# A row being sent is changed only by the process that claimed it: one whose lease ran out
# (its row taken over by another) cannot put it back while the other is sending it.
MINE = "(status <> 'sending' OR claimed_by = %s)"


def retry(
    conn: Conn, owner: str, outbox_id: int, next_at: datetime, error: str, in_doubt: bool
) -> None:
    """Back to pending; `in_doubt`: this attempt may have reached the provider (no answer),
    so the row is in doubt since its claim (an earlier doubt is kept: the earliest counts)."""
    doubt = "coalesce(doubt_since, claimed_at)" if in_doubt else "doubt_since"
    conn.execute(
        f"UPDATE outbox SET status = 'pending', next_attempt_at = %s, error = %s, "
        f"doubt_since = {doubt} WHERE id = %s AND {MINE}".encode(),
        [next_at, error, outbox_id, owner],
    )


def failed(conn: Conn, owner: str, outbox_id: int, error: str, now: datetime, status: str) -> None:
    conn.execute(
        f"UPDATE outbox SET status = %s, error = %s, status_at = %s, doubt_since = NULL "
        f"WHERE id = %s AND {MINE}".encode(),
        [status, error, now, outbox_id, owner],
    )


def known_ids(conn: Conn, provider: str, ids: Sequence[str]) -> set[str]:
    """Which of these provider message ids an outbox row already holds."""
    if not ids:
        return set()
    rows = conn.execute(
        "SELECT provider_message_id FROM outbox WHERE provider = %s "
        "AND provider_message_id = ANY(%s)",
        [provider, list(ids)],
    ).fetchall()
    return {row["provider_message_id"] for row in rows}


def stop_notices(conn: Conn, resident_id: str, now: datetime) -> None:
    update_resident(conn, resident_id, {"notices_enabled": False})
    # Kept as evidence like a resident's own 停止 (the provider's opt-out list).
    consent(conn, resident_id, None, "stop", "provider", now)


def next_due(
    conn: Conn, providers: Sequence[str], held: frozenset[int] = frozenset()
) -> datetime | None:
    """The earliest due time of a pending row the claim may take."""
    if not providers:
        return None
    ids, bounds = noticefanout.claim_groups(conn, datetime.now(UTC), held)
    found = conn.execute(
        f"SELECT min(c.next_attempt_at) AS due FROM outbox c WHERE {_CLAIMABLE}",
        {"providers": list(providers), "ids": ids, "bounds": bounds},
    ).fetchone()
    return found["due"] if found else None


def stale_rich(conn: Conn, sent_before: datetime, limit: int) -> list[OutboxItem]:
    """Rich messages sent but not delivered in time (no DELIVERED/READ receipt yet)."""
    return [
        _item(row)
        for row in conn.execute(
            "SELECT o.*, r.phone_enc, r.notices_enabled FROM outbox o "
            "JOIN residents r ON r.id = o.resident_id "
            "WHERE o.provider = 'rcs' AND o.channel = 'rcs' AND o.status = 'sent' "
            "AND o.status_at <= %s AND coalesce(o.error, '') NOT LIKE 'rcs_revoke%%' "
            "ORDER BY o.id LIMIT %s",
            [sent_before, limit],
        ).fetchall()
    ]


def note(conn: Conn, outbox_id: int, error: str) -> None:
    conn.execute("UPDATE outbox SET error = %s WHERE id = %s", [error, outbox_id])


def switch_to_sms(
    conn: Conn,
    outbox_id: int,
    provider: str,
    provider_message_id: str | None,
    now: datetime,
    why: str,
) -> None:
    """The rich message went by SMS instead: receipts now come from the SMS provider."""
    conn.execute(
        "UPDATE outbox SET provider = %s, channel = 'sms', provider_message_id = %s, "
        "status = 'sent', status_at = %s, error = %s WHERE id = %s",
        [provider, provider_message_id, now, why, outbox_id],
    )


# ---- leases ----------------------------------------------------------------------------------


def renew_lease(conn: Conn, owner: str) -> int:
    """Renew `owner`'s lease, and hand back to pending what processes whose lease ran out
    were sending (how many rows): in doubt since their claim, so the delivery worker asks
    the provider whether each reached it before sending it again (Channel.reconcile)."""
    conn.execute(
        "INSERT INTO store_leases (owner, expires_at) VALUES (%s, now() + %s * interval '1 s') "
        "ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at",
        [owner, LEASE_SECONDS],
    )
    dead = [
        row["owner"]
        for row in conn.execute(
            "DELETE FROM store_leases WHERE expires_at < now() RETURNING owner"
        ).fetchall()
    ]
    return conn.execute(
        f"UPDATE outbox SET status = 'pending', claimed_by = NULL, {IN_DOUBT} "
        "WHERE status = 'sending' AND (claimed_by = ANY(%s) OR claimed_by IS NULL OR NOT EXISTS "
        "(SELECT 1 FROM store_leases l WHERE l.owner = outbox.claimed_by))".encode(),
        [dead],
    ).rowcount


def end_lease(conn: Conn, owner: str) -> None:
    """A clean stop: what this process was still sending goes back to pending now, in doubt
    (its sends' answers were not recorded)."""
    conn.execute(
        f"UPDATE outbox SET status = 'pending', claimed_by = NULL, {IN_DOUBT} "
        "WHERE status = 'sending' AND claimed_by = %s".encode(),
        [owner],
    )
    conn.execute("DELETE FROM store_leases WHERE owner = %s", [owner])


# ---- the shared send budget ----------------------------------------------------------------


def take_tokens(conn: Conn, provider: str, rate: float, burst: float, count: int) -> float:
    """Take `count` sends from the provider's bucket (refilled at `rate`/s up to `burst`).
    Returns the seconds to wait before the last of them may go (0: at once)."""
    found = conn.execute(
        "INSERT INTO send_budget AS b (provider, tokens, stamp) "
        "VALUES (%(p)s, %(burst)s - %(n)s, clock_timestamp()) "
        "ON CONFLICT (provider) DO UPDATE SET "
        "tokens = least(%(burst)s, b.tokens + %(rate)s * extract(epoch FROM "
        "clock_timestamp() - b.stamp)) - %(n)s, stamp = clock_timestamp() "
        "RETURNING tokens",
        {"p": provider, "burst": burst, "n": count, "rate": rate},
    ).fetchone()
    assert found is not None
    tokens = float(found["tokens"])
    return 0.0 if tokens >= 0 else -tokens / rate


# ---- the store's side of delivery ------------------------------------------------------------


class PostgresSendBudget:
    """A provider's send rate shared by every process: sends are taken from one token
    bucket row (take_tokens), a block at a time (about 50 ms of the rate) so a busy
    sender does not pay a round trip per message. A waiting reply goes before a notice
    within the process."""

    def __init__(self, lane: Lane, provider: str, rate: float) -> None:
        self.lane, self.provider, self.rate = lane, provider, rate
        self.burst = max(1.0, rate)
        self.block = max(1, min(50, int(rate * 0.05)))
        self._left = 0
        self._lock = asyncio.Lock()
        self._replies = 0
        self._no_replies = asyncio.Event()
        self._no_replies.set()

    async def acquire(self, kind: str = "reply") -> None:
        reply = kind == "reply"
        if reply:
            self._replies += 1
            self._no_replies.clear()
        try:
            while not reply and self._replies:
                await self._no_replies.wait()
            async with self._lock:
                if self._left == 0:
                    wait = await self.lane.run(
                        take_tokens, self.provider, self.rate, self.burst, self.block
                    )
                    self._left = self.block
                    if wait > 0:
                        await asyncio.sleep(wait)
                self._left -= 1
        finally:
            if reply:
                self._replies -= 1
                if not self._replies:
                    self._no_replies.set()

    async def close(self) -> None:
        return None


class PostgresDelivery:
    """bot.store.base.DeliveryStore on the delivery lane."""

    def __init__(self, lane: Lane, owner: str) -> None:
        self.lane = lane
        self.owner = owner

    async def claim(
        self,
        providers: Sequence[str],
        now: datetime,
        limit: int,
        held: frozenset[int] = frozenset(),
    ) -> list[r.OutboxItem]:
        return await self.lane.run(claim, self.owner, list(providers), now, limit, held)

    async def sent(self, marks: Sequence[r.SentMark]) -> None:
        await self.lane.run(sent, list(marks))

    async def retry(
        self, outbox_id: int, next_at: datetime, error: str, in_doubt: bool = False
    ) -> None:
        await self.lane.run(retry, self.owner, outbox_id, next_at, error, in_doubt)

    async def known_ids(self, provider: str, ids: Sequence[str]) -> set[str]:
        return await self.lane.run(known_ids, provider, list(ids))

    async def failed(
        self, outbox_id: int, error: str, now: datetime, status: str = "failed"
    ) -> None:
        await self.lane.run(failed, self.owner, outbox_id, error, now, status)

    async def stop_notices(self, resident_id: str) -> None:
        await self.lane.run(stop_notices, resident_id, datetime.now(UTC))

    async def next_due(
        self, providers: Sequence[str], held: frozenset[int] = frozenset()
    ) -> datetime | None:
        return await self.lane.run(next_due, list(providers), held)

    async def stale_rich(self, sent_before: datetime, limit: int) -> list[r.OutboxItem]:
        def read(conn: Conn) -> list[r.OutboxItem]:
            items = stale_rich(conn, sent_before, limit)
            return noticefanout.fill_items(conn, items, sent_before, drop=False)

        return await self.lane.run(read)

    async def note(self, outbox_id: int, error: str) -> None:
        await self.lane.run(note, outbox_id, error)

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
        def write(conn: Conn) -> None:
            switch_to_sms(conn, outbox_id, provider, provider_message_id, now, why)
            if retry_at is not None:  # one transaction: never 'sent' without an id
                retry(conn, self.owner, outbox_id, retry_at, why, in_doubt)

        await self.lane.run(write)

    def send_budget(self, provider: str, rate: float) -> SendBudget | None:
        return PostgresSendBudget(self.lane, provider, rate)
