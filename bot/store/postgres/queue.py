"""The work queue in PostgreSQL, shared by every process using the database (owner
"pipeline"'s tables): claims of inbox rows, due timers, and the turns' completions.

- an inbox row is claimed under a transaction-scoped advisory lock on its resident
  (`pg_try_advisory_xact_lock`): while one process runs that resident's turn no other can,
  and when the process dies its session ends and the lock with it (the row is still
  pending: nothing was committed), so a survivor takes it at its next batch;
- due timers are deleted and queued in one statement under `FOR UPDATE SKIP LOCKED`: each
  fires once;
- a batch's completions are written together, a statement per kind of change.

Every function runs inside the caller's transaction on the given connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.store.postgres import faq
from bot.store.postgres.connection import Conn, dumps
from bot.store.postgres.pipeline import INBOX_COLUMNS, resident_row, update_resident
from bot.store.records import REMINDER_PRIORITY, REPLY_PRIORITY, Claimed, Completion

# Advisory lock namespace (the two-key form: namespace, hashtext(resident id)).
RESIDENT_LOCK = 7_410_010


def claim_pending(conn: Conn, limit: int, now: datetime) -> tuple[list[Claimed], int]:
    """Due timers queued first; then the oldest pending row of up to `limit` residents no
    other process is working on, oldest first, with their resident rows and conversations,
    and the batch's number. Each resident is locked for the rest of the transaction (see the
    module's docstring). Three round trips."""
    # Candidates: residents by their oldest pending row. Some may be another process's now,
    # so more are asked for than wanted; the lock is tried on them in order, lazily (LIMIT).
    with conn.pipeline():
        promote_due_timers(conn, now)
        found = conn.execute(
            "SELECT resident_id FROM inbox WHERE status = 'pending' "
            "GROUP BY resident_id ORDER BY min(id) LIMIT %s",
            [limit * 4],
        )
    candidates = [row["resident_id"] for row in found.fetchall()]
    if not candidates:
        return [], 0
    mine = [
        row["r"]
        for row in conn.execute(
            "SELECT r FROM unnest(%s::text[]) AS r "
            "WHERE pg_try_advisory_xact_lock(%s, hashtext(r)) LIMIT %s",
            [candidates, RESIDENT_LOCK, limit],
        ).fetchall()
    ]
    if not mine:
        return [], 0
    # Read again under the locks (a new statement sees what others committed meanwhile):
    # the head of each locked resident's queue now.
    with conn.pipeline():
        numbered = conn.execute("SELECT nextval('inbox_batches') AS n")
        heads = conn.execute(
            "SELECT i.*, r.id AS r_id, r.notices_enabled, r.handoff, r.last_provider, "
            "r.last_channel, r.failed_turns, r.district, r.town, c.state "
            "FROM (SELECT DISTINCT ON (resident_id) * FROM inbox "
            "      WHERE status = 'pending' AND resident_id = ANY(%s) "
            "      ORDER BY resident_id, id) i "
            "LEFT JOIN residents r ON r.id = i.resident_id "
            "LEFT JOIN conversations c ON c.resident_id = i.resident_id "
            "ORDER BY i.id",
            [mine],
        )
    batch = int(numbered.fetchall()[0]["n"])
    return [
        Claimed(
            id=row["id"],
            provider=row["provider"],
            resident_id=row["resident_id"],
            channel=row["channel"],
            kind=row["kind"],
            text=row["text"],
            postback=row["postback"],
            payload=row["payload"],
            redactions=row["redactions"],
            truncated=bool(row["truncated"]),
            received_at=row["received_at"],
            resident=resident_row({**row, "id": row["r_id"]}) if row["r_id"] else None,
            conversation=row["state"],
            limited=row["limited"],
        )
        for row in heads.fetchall()
    ], batch


# ---- timers ------------------------------------------------------------------------------


def promote_due_timers(conn: Conn, now: datetime, limit: int = 256) -> int:
    """Due timers become inbox rows (so they queue behind the resident's messages), in one
    statement; a timer another process is promoting is skipped, so each fires once."""
    cur = conn.execute(
        "WITH due AS (DELETE FROM timers WHERE id IN (SELECT id FROM timers "
        "WHERE due_at <= %(now)s ORDER BY due_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
        "RETURNING *) "
        f"INSERT INTO inbox ({INBOX_COLUMNS}) "
        "SELECT 'timer', d.id || ':' || to_char(d.due_at AT TIME ZONE 'UTC', "
        '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\'), d.resident_id, '
        "coalesce(r.last_channel, 'sms'), 'timer', d.name, NULL, d.payload, '[]', false, "
        "%(now)s, NULL FROM due d LEFT JOIN residents r ON r.id = d.resident_id "
        "ORDER BY d.due_at, d.id ON CONFLICT (provider, provider_message_id) DO NOTHING",
        {"now": now, "limit": limit},
    )
    return cur.rowcount


def next_timer_due(conn: Conn) -> datetime | None:
    found = conn.execute("SELECT min(due_at) AS due FROM timers").fetchone()
    return found["due"] if found else None


# ---- a turn's completion ------------------------------------------------------------------


def complete_all(
    conn: Conn, finished: Sequence[tuple[Claimed, Completion]], now: datetime, batch: int
) -> None:
    """Write what the turns changed, with their inbox rows' statuses, inside the caller's
    transaction: a statement per kind of change for all the turns at once (sent in the
    caller's pipeline, one round trip for a whole batch). One row per resident at most."""
    if not finished:
        return
    failed_turns = [
        (i.resident_id, d.failed_turns) for i, d in finished if d.failed_turns is not None
    ]
    if failed_turns:
        conn.execute(
            "UPDATE residents r SET failed_turns = v.n FROM unnest(%s::text[], %s::int[]) "
            "AS v(id, n) WHERE r.id = v.id",
            [[rid for rid, _ in failed_turns], [n for _, n in failed_turns]],
        )
    for item, done in finished:
        if done.resident:
            update_resident(conn, item.resident_id, done.resident)
    forget = [i.resident_id for i, d in finished if d.save_conversation and d.conversation is None]
    if forget:
        conn.execute("DELETE FROM conversations WHERE resident_id = ANY(%s)", [forget])
    keep = [
        (i.resident_id, d.conversation)
        for i, d in finished
        if d.save_conversation and d.conversation is not None
    ]
    if keep:
        conn.execute(
            "INSERT INTO conversations (resident_id, state, updated_at) "
            "SELECT id, state::json, %s FROM unnest(%s::text[], %s::text[]) AS u(id, state) "
            "ON CONFLICT (resident_id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            [now, [rid for rid, _ in keep], [dumps(state) for _, state in keep]],
        )
    cancels = [(i.resident_id, name) for i, d in finished for name in d.cancel_timers]
    if cancels:
        conn.execute(
            "DELETE FROM timers t USING unnest(%s::text[], %s::text[]) AS c(rid, name) "
            "WHERE t.resident_id = c.rid AND t.name = c.name",
            [[rid for rid, _ in cancels], [name for _, name in cancels]],
        )
    timers = {(i.resident_id, t.name): t for i, d in finished for t in d.timers}  # set wins
    if timers:
        conn.execute(
            "INSERT INTO timers (resident_id, name, due_at, payload) "
            "SELECT rid, name, due, payload::json FROM unnest(%s::text[], %s::text[], "
            "%s::timestamptz[], %s::text[]) AS u(rid, name, due, payload) "
            "ON CONFLICT (resident_id, name) DO UPDATE SET due_at = excluded.due_at, "
            "payload = excluded.payload",
            [
                [rid for rid, _ in timers],
                [name for _, name in timers],
                [t.due_at for t in timers.values()],
                [dumps(t.payload) for t in timers.values()],
            ],
        )
    notes = [(i.resident_id, kind, text) for i, d in finished for kind, text in d.staff_notes]
    if notes:
        conn.execute(
            "INSERT INTO staff_notes (resident_id, kind, text, created_at) "
            "SELECT rid, kind, text, %s FROM unnest(%s::text[], %s::text[], %s::text[]) "
            "WITH ORDINALITY AS u(rid, kind, text, n) ORDER BY n",
            [now, [n[0] for n in notes], [n[1] for n in notes], [n[2] for n in notes]],
        )
    replies = [(i, out) for i, d in finished for out in d.outbox]
    if replies:
        conn.execute(
            "INSERT INTO outbox (resident_id, provider, channel, kind, text, suggestions, "
            "inbox_id, created_at, status, idempotency_key, next_attempt_at, priority) "
            "SELECT rid, provider, channel, kind, text, suggestions::json, inbox_id, %(now)s, "
            "status, key, %(now)s, priority FROM unnest(%(rid)s::text[], %(provider)s::text[], "
            "%(channel)s::text[], %(kind)s::text[], %(text)s::text[], %(suggestions)s::text[], "
            "%(inbox)s::bigint[], %(status)s::text[], %(key)s::text[], %(priority)s::int[]) "
            "WITH ORDINALITY AS u(rid, provider, channel, kind, text, suggestions, inbox_id, "
            "status, key, priority, n) ORDER BY n",
            {
                "now": now,
                "rid": [i.resident_id for i, _ in replies],
                "provider": [o.provider for _, o in replies],
                "channel": [o.channel for _, o in replies],
                "kind": [o.kind for _, o in replies],
                "text": [o.text for _, o in replies],
                "suggestions": [dumps(o.suggestions) for _, o in replies],
                "inbox": [i.id for i, _ in replies],
                "status": [o.status for _, o in replies],
                "key": [o.idempotency_key for _, o in replies],
                "priority": [
                    o.priority
                    if o.priority is not None
                    else (REMINDER_PRIORITY if o.kind == "notice" else REPLY_PRIORITY)
                    for _, o in replies
                ],
            },
        )
    faq.record_all(conn, [miss for _, d in finished for miss in d.faq_misses], now)
    conn.execute(
        "UPDATE inbox i SET status = v.status, processed_at = %s, batch = %s "
        "FROM unnest(%s::bigint[], %s::text[]) AS v(id, status) WHERE i.id = v.id",
        [now, batch, [i.id for i, _ in finished], [d.status for _, d in finished]],
    )
