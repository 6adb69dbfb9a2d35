"""Flood limits per sender, one count for every process sharing the database (owner
"limits"; Store.sender_limits).

One process counts in memory (bot.channels.guards.InboundLimiter); with several, each would
count only the messages that reached it, and a sender spread over N processes would get N
limits. Here a sender's row (keyed by the resident id: a keyed hash, never the number)
holds the times of its messages within the limits in the last hour and whether it was sent
the note; the same rule (bot.store.records.FloodLimits.judge) runs under the row's lock, on
the database's clock, so every process counts every message once.

Checks that arrive while one is running are decided together (one transaction, rows locked
in key order so two processes never wait on each other crosswise), as intake commits are
grouped. Rows of senders silent for an hour are deleted by the serving processes' upkeep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.store.postgres.connection import Conn, Lane
from bot.store.postgres.migrations import MigrationSet
from bot.store.records import FloodLimits, FloodVerdict

MIGRATIONS = MigrationSet("limits")
MIGRATIONS.ddl(
    "sender limits",
    """
    CREATE TABLE sender_limits (
        sender text PRIMARY KEY,                 -- the resident id (a keyed hash)
        times double precision[] NOT NULL,       -- epoch seconds of messages within the limits
        noted boolean NOT NULL DEFAULT false,    -- sent the note in this flood
        seen_at timestamptz NOT NULL
    );
    CREATE INDEX sender_limits_seen ON sender_limits (seen_at);
    """,
)


def judge(conn: Conn, senders: Sequence[str], limits: FloodLimits) -> list[FloodVerdict]:
    """One message from each of `senders` (in arrival order; a sender may repeat)."""
    keys = sorted(set(senders))
    rows = conn.execute(
        "INSERT INTO sender_limits AS l (sender, times, noted, seen_at) "
        "SELECT k, '{}', false, now() FROM unnest(%s::text[]) AS k ORDER BY k "
        "ON CONFLICT (sender) DO UPDATE SET seen_at = excluded.seen_at "
        "RETURNING l.sender, l.times, l.noted, extract(epoch FROM clock_timestamp()) AS now",
        [keys],
    ).fetchall()
    state = {row["sender"]: (list(row["times"]), bool(row["noted"])) for row in rows}
    now = float(rows[0]["now"])
    verdicts = []
    for sender in senders:
        times, noted = state[sender]
        verdict, noted = limits.judge(times, noted, now)
        state[sender] = (times, noted)
        verdicts.append(verdict)
    conn.execute(
        "UPDATE sender_limits l SET times = u.times::double precision[], noted = u.noted "
        "FROM unnest(%s::text[], %s::text[], %s::boolean[]) AS u(sender, times, noted) "
        "WHERE l.sender = u.sender",
        [
            keys,
            ["{" + ",".join(repr(t) for t in state[k][0]) + "}" for k in keys],
            [state[k][1] for k in keys],
        ],
    )
    return verdicts


def forget_quiet(conn: Conn) -> int:
    """Senders silent for an hour: nothing of theirs counts any more."""
    return conn.execute(
        "DELETE FROM sender_limits WHERE seen_at < now() - interval '1 hour'"
    ).rowcount


class PostgresSenderLimits:
    """bot.store.base.SenderLimits: checks grouped into one transaction on `lane`."""

    def __init__(self, lane: Lane, limits: FloodLimits) -> None:
        self.lane = lane
        self.limits = limits
        self._pending: list[tuple[str, asyncio.Future[FloodVerdict]]] = []
        self._deciding: asyncio.Task[None] | None = None

    async def check(self, sender: str) -> FloodVerdict:
        future: asyncio.Future[FloodVerdict] = asyncio.get_running_loop().create_future()
        self._pending.append((sender, future))
        if self._deciding is None or self._deciding.done():
            self._deciding = asyncio.create_task(self._decide())
        return await asyncio.shield(future)

    async def _decide(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                verdicts = await self.lane.run(judge, [s for s, _ in group], self.limits)
            except Exception as exc:  # StoreUnavailable: each waiting webhook answers 503
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), verdict in zip(group, verdicts, strict=True):
                if not future.done():
                    future.set_result(verdict)
