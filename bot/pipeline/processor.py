"""Synchronous core of the pipeline. It owns one database connection and is only ever
called from one thread at a time (the server's store threads, or replay/chat directly)."""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from bot.clock import TOKYO, Clock
from bot.pipeline.intake import IntakeRow
from bot.store import faq_misses
from bot.store import queries as q
from bot.store.database import write_gate, write_transaction
from bot.system_texts import SystemTexts
from bot.turn import Reply, ResidentContext, Responder, Turn, TurnResult

log = logging.getLogger("bot.pipeline")

# A batch gives way to a waiting intake commit once it has run this long (seconds): long
# enough that processing still moves several rows per commit under a stream of webhooks,
# short enough to keep acknowledgements quick.
YIELD_AFTER = 0.008

HANDOFF_EXPIRY = "handoff_expire"
DEFAULT_HANDOFF_HOURS = 72.0

# Providers whose replies are returned to the caller instead of sent by the delivery worker.
LOCAL_PROVIDERS = {"sim", "replay", "chat"}


@dataclass
class BatchResult:
    inbox_ids: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    outbox_rows: int = 0
    residents: set[str] = field(default_factory=set)


class Processor:
    def __init__(
        self,
        db: sqlite_utils.Database,
        responder: Responder,
        clock: Clock,
        texts: SystemTexts,
        max_chars: int = 2000,
        handoff_hours: float = DEFAULT_HANDOFF_HOURS,
    ) -> None:
        self.db = db
        self.handoff_hours = handoff_hours
        self.responder = responder
        self.clock = clock
        self.texts = texts
        self.max_chars = max_chars
        self.last_error: BaseException | None = None  # for replay's failure messages
        row = db.execute("SELECT coalesce(max(batch), 0) FROM inbox").fetchone()
        self._batches = itertools.count(int(row[0]) + 1)
        # The batch's residents and conversations, read in one query each (every resident
        # has one row in a batch, so each is read before anything of theirs changes).
        self._residents: dict[str, dict[str, Any]] = {}
        self._conversations: dict[str, dict[str, Any]] = {}

    # ---- intake (group commit) ---------------------------------------------------

    def ingest(self, rows: list[IntakeRow]) -> list[tuple[int, bool]]:
        """Store many inbound rows in one commit. Returns (inbox_id, duplicate) per row."""
        now = self.clock.now()
        results: list[tuple[int, bool]] = []
        with write_transaction(self.db, urgent=True):  # webhooks wait for this commit
            for item in rows:
                row = item.row
                q.touch_resident(
                    self.db, item.resident_id, item.phone_enc, row["provider"], row["channel"], now
                )
                inbox_id = q.insert_inbox(self.db, row)
                if inbox_id is None:
                    existing = q.find_inbox_id(self.db, row["provider"], row["provider_message_id"])
                    results.append((existing or 0, True))
                else:
                    results.append((inbox_id, False))
        return results

    # ---- processing ----------------------------------------------------------------

    def promote_due_timers(self, now: datetime, limit: int = 256) -> int:
        """Due timers become inbox rows, so they run through the same per-resident order."""
        timers = q.due_timers(self.db, now, limit)
        for timer in timers:
            resident = q.get_resident(self.db, timer["resident_id"])
            q.insert_inbox(
                self.db,
                {
                    "provider": "timer",
                    "provider_message_id": f"{timer['id']}:{timer['due_at']}",
                    "resident_id": timer["resident_id"],
                    "channel": (resident or {}).get("last_channel") or "sms",
                    "kind": "timer",
                    "text": timer["name"],
                    "payload": json.loads(timer["payload"]),
                    # When it actually runs: a timer firing late (server down) must know it.
                    "received_at": q.utc_text(now),
                },
            )
            q.delete_timer(self.db, timer["id"])
        return len(timers)

    def process_batch(self, limit: int = 32) -> BatchResult:
        """Process the oldest pending row of up to `limit` residents in one transaction.

        When intake is waiting for the write lock (a webhook waits for its commit) and the
        batch has run YIELD_AFTER, it commits after the row in hand; the rows not reached
        stay pending, first in line and still in order, for the next batch."""
        result = BatchResult()
        now = self.clock.now()
        gate = write_gate(self.db)
        started = time.perf_counter()
        with write_transaction(self.db):
            self.promote_due_timers(now)
            rows = q.next_pending(self.db, limit)
            if not rows:
                return result
            batch = next(self._batches)
            ids = [row["resident_id"] for row in rows]
            self._residents = q.get_residents(self.db, ids)
            self._conversations = q.load_conversations(self.db, ids)
            try:
                self._run_rows(rows, batch, now, gate, started, result)
            finally:
                self._residents, self._conversations = {}, {}
        return result

    def _run_rows(
        self,
        rows: list[dict[str, Any]],
        batch: int,
        now: datetime,
        gate: Any,
        started: float,
        result: BatchResult,
    ) -> None:
        for row in rows:
            if (
                gate is not None
                and gate.urgent_waiting
                and time.perf_counter() - started >= YIELD_AFTER
            ):
                break
            try:
                with self.db.atomic():
                    result.outbox_rows += self._process_row(row, batch, now)
            except Exception as exc:  # a bug must not lose the message or stall the queue
                self.last_error = exc
                log.error(
                    "processing failed",
                    extra={"inbox_id": row["id"], "error": type(exc).__name__},
                    exc_info=True,
                )
                with self.db.atomic():
                    result.outbox_rows += self._fail_row(row, batch, now)
                result.failed.append(row["id"])
            result.inbox_ids.append(row["id"])
            result.residents.add(row["resident_id"])

    def process_all(self, limit: int = 32) -> BatchResult:
        """Process until nothing is pending (replay, chat and tests)."""
        total = BatchResult()
        while True:
            batch = self.process_batch(limit)
            if not batch.inbox_ids:
                return total
            total.inbox_ids += batch.inbox_ids
            total.failed += batch.failed
            total.outbox_rows += batch.outbox_rows
            total.residents |= batch.residents

    def _resident_row(self, resident_id: str) -> dict[str, Any]:
        row = self._residents.get(resident_id)
        if row is None:
            row = q.get_resident(self.db, resident_id) or {}
        return row

    def _turn(self, row: dict[str, Any]) -> Turn:
        is_timer = row["kind"] == "timer"
        return Turn(
            kind=row["kind"],
            resident=row["resident_id"],
            channel=row["channel"],
            received_at=q.from_utc_text(row["received_at"]).astimezone(TOKYO),
            text="" if is_timer else row["text"],
            postback=row["postback"],
            timer=row["text"] if is_timer else None,
            payload=json.loads(row["payload"]),
            redactions=json.loads(row["redactions"]),
            truncated=bool(row["truncated"]),
        )

    def _process_row(self, row: dict[str, Any], batch: int, now: datetime) -> int:
        resident_row = self._resident_row(row["resident_id"])
        resident = ResidentContext(
            resident=row["resident_id"],
            notices_enabled=bool(resident_row.get("notices_enabled", 1)),
            handoff=bool(resident_row.get("handoff", 0)),
            district=resident_row.get("district"),
            town=resident_row.get("town"),
        )
        turn = self._turn(row)
        if turn.kind == "message" and resident_row.get("failed_turns"):
            q.set_failed_turns(self.db, resident.resident, 0)  # a message worked again
        if resident.handoff:
            handled = self._during_handoff(row, turn, resident, batch, now)
            if handled is not None:
                return handled
        conversation = self._stored_conversation(resident.resident)
        outcome = self.responder.respond(turn, conversation, resident, self.db)
        replies = self._system_notes(turn) + outcome.replies
        self._apply(outcome, resident, now)
        if outcome.resident_updates.get("handoff") and not any(
            timer.name == HANDOFF_EXPIRY for timer in outcome.timers
        ):
            # Nobody stays silenced if staff never answer: the bot takes over again later.
            # (The city's handoff action sets it to the closing time instead.)
            due = now + timedelta(hours=self.handoff_hours)
            q.set_timer(self.db, resident.resident, HANDOFF_EXPIRY, due, {})
        notices_enabled = bool(
            outcome.resident_updates.get("notices_enabled", resident.notices_enabled)
        )
        written = self._write_replies(row, replies, notices_enabled, now)
        q.finish_inbox(self.db, row["id"], "done", now, batch)
        return written

    def _stored_conversation(self, resident_id: str) -> dict[str, Any] | None:
        if self._residents or self._conversations:  # read for the whole batch
            return self._conversations.get(resident_id)
        return q.load_conversation(self.db, resident_id)

    def _during_handoff(
        self, row: dict[str, Any], turn: Turn, resident: ResidentContext, batch: int, now: datetime
    ) -> int | None:
        """A person is handling this resident. Returns the replies written, or None when
        the turn should go to the flows as usual (配信停止 / 配信再開 still work)."""
        if turn.kind == "timer":
            if turn.timer != HANDOFF_EXPIRY:
                return None
            q.update_resident(self.db, resident.resident, {"handoff": False})
            q.finish_inbox(self.db, row["id"], "done", now, batch)
            back = turn.payload.get("back")
            text = (
                self.texts.get("handoff_closed", back=back)
                if back
                else self.texts.get("handoff_expired")
            )
            return self._write_replies(row, [Reply(text, kind="notice")], True, now)
        intent = self._intent(turn, now)
        if intent in {"stop_notices", "resume_notices"}:
            return None
        if intent == "help":
            q.finish_inbox(self.db, row["id"], "done", now, batch)
            return self._write_replies(row, [Reply(self.texts.get("handoff_help"))], True, now)
        if intent == "cancel":
            q.update_resident(self.db, resident.resident, {"handoff": False})
            q.cancel_timer(self.db, resident.resident, HANDOFF_EXPIRY)
            q.save_conversation(self.db, resident.resident, None, now)
            q.finish_inbox(self.db, row["id"], "done", now, batch)
            return self._write_replies(row, [Reply(self.texts.get("handoff_ended"))], True, now)
        # Anything else is for staff: the bot stays silent and staff see the message.
        q.add_staff_note(self.db, resident.resident, "message", turn.text, now)
        q.finish_inbox(self.db, row["id"], "done", now, batch)
        return 0

    def _intent(self, turn: Turn, now: datetime) -> str | None:
        nlu = getattr(self.responder, "nlu", None)
        if nlu is None or not turn.text:
            return None
        return getattr(nlu.understand(turn.text, now), "intent", None)

    def _system_notes(self, turn: Turn) -> list[Reply]:
        notes = []
        if turn.redactions:
            notes.append(Reply(self.texts.get("redacted")))
        if turn.truncated:
            notes.append(Reply(self.texts.get("truncated", limit=self.max_chars)))
        return notes

    def _apply(self, outcome: TurnResult, resident: ResidentContext, now: datetime) -> None:
        q.save_conversation(self.db, resident.resident, outcome.conversation, now)
        if outcome.resident_updates:
            q.update_resident(self.db, resident.resident, outcome.resident_updates)
        for name in outcome.cancel_timers:
            q.cancel_timer(self.db, resident.resident, name)
        for timer in outcome.timers:
            q.set_timer(self.db, resident.resident, timer.name, timer.due_at, timer.payload)
        for note in outcome.staff_notes:
            q.add_staff_note(self.db, resident.resident, "note", note, now)
        for question in outcome.faq_misses:
            faq_misses.record(self.db, question, now)

    def _write_replies(
        self, row: dict[str, Any], replies: list[Reply], notices_enabled: bool, now: datetime
    ) -> int:
        provider, channel = row["provider"], row["channel"]
        if provider == "timer":
            resident_row = self._resident_row(row["resident_id"])
            provider = resident_row.get("last_provider") or "sim"
            channel = resident_row.get("last_channel") or channel
        for index, reply in enumerate(replies):
            if reply.kind == "notice" and not notices_enabled:
                status = "suppressed"  # the resident asked for no unsolicited messages
            elif provider in LOCAL_PROVIDERS:
                status = "sent"  # returned to the caller directly
            else:
                status = "pending"
            q.add_outbox(
                self.db,
                {
                    "resident_id": row["resident_id"],
                    "provider": provider,
                    "channel": channel,
                    "kind": reply.kind,
                    "text": reply.text,
                    "suggestions": reply.suggestions,
                    "inbox_id": row["id"],
                    "created_at": q.utc_text(now),
                    "status": status,
                    "idempotency_key": f"{row['id']}-{index}",
                },
            )
        return len(replies)

    def _fail_row(self, row: dict[str, Any], batch: int, now: datetime) -> int:
        q.finish_inbox(self.db, row["id"], "failed", now, batch)
        if row["kind"] != "message":
            return 0  # a timer answers nobody, and does not count towards a restart
        # A resident's messages failing twice running points at what is stored for them
        # (a conversation the engine cannot resume, data that changed under it): start
        # them afresh rather than answer every message with the same apology.
        resident = row["resident_id"]
        again = int(self._resident_row(resident).get("failed_turns") or 0) >= 1
        restart = again and self._stored_conversation(resident) is not None
        q.set_failed_turns(self.db, resident, 0 if restart else 1)
        if restart:
            q.save_conversation(self.db, resident, None, now)
            log.error(
                "conversation restarted after repeated failures", extra={"inbox_id": row["id"]}
            )
        text = self.texts.get("error_restart" if restart else "error")
        return self._write_replies(row, [Reply(text)], True, now)
