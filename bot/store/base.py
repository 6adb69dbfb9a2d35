"""The store seam: what the pipeline, delivery, the staff desk, the staff console and the CLI
may ask of storage.

One `Store` per city database; one backend package per database kind (bot/store/sqlite/,
bot/store/postgres/), chosen by `bot.store.open_store(settings.database, texts)`. SQL lives
only in the backends. The guarantees every backend keeps (docs/architecture.md):

- `ingest` returns only after its rows are committed; (provider, provider_message_id) is
  unique, so a provider's retry is reported as a duplicate and never processed twice;
- `process_batch` claims the oldest pending inbox row of each resident (one resident's
  rows are processed in order, one at a time, wherever the claim is made) and runs each
  turn in one transaction with its `Completion` (state + outbox + timers + inbox status);
- due timers become inbox rows of their resident, so they queue behind messages;
- delivery claims due outbox rows (replies before notices) and a crash re-sends rather
  than loses them (at least once; providers' idempotency keys make it shown once);
- a unit of staff work (`console.write`) and the audit entries that record it commit
  together; audit appends are serialised, so the chain never forks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.errors import BotError
from bot.store.console import ConsoleWork
from bot.store.records import (
    AudienceCount,
    AuditRow,
    BatchResult,
    Claimed,
    Completion,
    FanOutStep,
    FaqMissCount,
    FloodLimits,
    FloodVerdict,
    InboundRow,
    Ingested,
    ListEntry,
    NewAuditEntry,
    NewNotice,
    Notice,
    NoticeCounts,
    NoticeRule,
    OutboxItem,
    ProgressPoint,
    Route,
    SentMark,
    SentMessage,
    StaffNote,
    StoreHealth,
)
from bot.store.services import TurnServices

T = TypeVar("T")


class StoreUnavailable(BotError):
    """The store could not take a write now (locked, stopping, connection lost): the
    caller answers 503 and the provider retries. Nothing was half-written."""


class StoreUnusable(BotError):
    """The database cannot be used at all (corrupt, unreadable, not a database): start-up
    stops with this one-line message (exit 2), naming the file and what is wrong."""


class RowNotStored(StoreUnavailable):
    """One row of a group commit could not be stored (its own values were refused); the
    others were. Not worth retrying at once: the provider may try again later."""


@dataclass
class Wakeups:
    """Events the store sets when work may be waiting (another process's commit included:
    a backend shared by many processes listens for their notifications)."""

    inbox: asyncio.Event = field(default_factory=asyncio.Event)
    outbox: asyncio.Event = field(default_factory=asyncio.Event)
    # Called (in the event loop) with the inbox ids another process just finished, so a
    # request waiting for its message's reply (the simulator) learns of it. One process
    # (SQLite) never calls it: its own batches resolve its waiters.
    processed: Callable[[Sequence[int]], None] | None = None


class TurnHandler(Protocol):
    """Runs one claimed row (bot.pipeline.turns). Called inside the store's transaction, on
    whatever thread the backend runs turns: it may block, and it must not await."""

    def now(self) -> datetime:
        """The time of a batch: read when its transaction begins (due timers, stamps)."""
        ...

    def handle(self, item: Claimed, services: TurnServices, now: datetime) -> Completion: ...

    def failed(self, item: Claimed, error: BaseException, now: datetime) -> Completion:
        """`handle` raised (its writes were rolled back): what to store instead."""
        ...


class SendBudget(Protocol):
    async def acquire(self, kind: str) -> None: ...

    async def close(self) -> None: ...


class SenderLimits(Protocol):
    """Flood limits per sender kept by the store for every process using it (PostgreSQL),
    so a sender's messages count wherever they arrive (bot.channels.guards)."""

    async def check(self, sender: str) -> FloodVerdict:
        """Count one message from `sender` (a keyed hash, never the number) if it is within
        the limits (FloodLimits.judge, on the store's clock)."""
        ...


class DeliveryStore(Protocol):
    """The outbox as the delivery worker sees it. Each call is one transaction."""

    async def claim(
        self,
        providers: Sequence[str],
        now: datetime,
        limit: int,
        held: frozenset[int] = frozenset(),
    ) -> list[OutboxItem]:
        """Due pending rows of these providers, by priority (replies first, then notices by
        their category's priority), marked as being sent (with the claim's time). Rows of
        staff notices come with the notice's texts and card; those of a priority in `held`
        (quiet hours) wait, and those of a notice cancelled or expired are dropped, never
        returned. A row left being sent by a process that died comes back pending and
        `in_doubt_since` that claim (for SQLite at start-up; elsewhere when its lease ends):
        the worker reconciles it with the provider before any resend — replies and notices
        alike."""
        ...

    async def sent(self, marks: Sequence[SentMark]) -> None:
        """Recorded as soon as the provider answered (each send, not each batch): a crash
        can leave in doubt only the sends in flight at that instant."""
        ...

    async def retry(
        self, outbox_id: int, next_at: datetime, error: str, in_doubt: bool = False
    ) -> None:
        """Pending again at `next_at`. `in_doubt`: the attempt got no answer (a timeout, a
        dropped connection), so it may have reached the provider: doubt since its claim."""
        ...

    async def known_ids(self, provider: str, ids: Sequence[str]) -> set[str]:
        """Which of these provider message ids some outbox row already holds (a message
        found at the provider that is already another row's is not this row's)."""
        ...

    async def failed(
        self, outbox_id: int, error: str, now: datetime, status: str = "failed"
    ) -> None: ...

    async def stop_notices(self, resident_id: str) -> None:
        """The provider says the resident opted out: no more notices."""
        ...

    async def next_due(
        self, providers: Sequence[str], held: frozenset[int] = frozenset()
    ) -> datetime | None: ...

    async def stale_rich(self, sent_before: datetime, limit: int) -> list[OutboxItem]:
        """Rich messages sent but not delivered by `sent_before` (not yet withdrawn)."""
        ...

    async def note(self, outbox_id: int, error: str) -> None: ...

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
        """The rich message goes by SMS instead (receipts now come from the SMS provider):
        sent with `provider_message_id`, or, with `retry_at`, pending again as an SMS row
        in the same transaction (`in_doubt`: the SMS attempt may have reached it)."""
        ...

    def send_budget(self, provider: str, rate: float) -> SendBudget | None:
        """A send-rate budget shared by every process using this store, or None when the
        process's own limiter is the whole budget (one process: SQLite)."""
        ...


class StaffDesk(Protocol):
    """Conversations handed to staff, as `bot handoff` sees them. One transaction each."""

    async def handoff_notes(self) -> tuple[dict[str, datetime], list[StaffNote]]:
        """(residents in handoff → last seen, unseen notes of anyone, oldest first)."""
        ...

    async def find_resident(self, ref: str) -> str | None:
        """The one resident whose id starts with `ref`, open or not."""
        ...

    async def hand_back(self, resident_id: str, audit: NewAuditEntry) -> None:
        """The bot answers the resident again; their notes are marked seen; `audit` (who
        did it) is appended to the audit log in the same transaction."""
        ...


# ---- the staff console ------------------------------------------------------------------------


class AuditSealer(Protocol):
    """Links entries into the tamper-evident chain (bot.audit.AuditChain, keyed with the
    server's secret, which the database never holds). Given to the store by whoever opens
    it (create_app, the CLI); a store opened without one refuses audit appends."""

    def link(self, entry: NewAuditEntry, previous: AuditRow | None) -> AuditRow:
        """The row to store after `previous` (None: the first entry): seq, texts (`at` as
        UTC ISO 8601 with microseconds, `detail` as canonical JSON) and MACs."""
        ...

    def seal(self, row: AuditRow) -> str:
        """The head's seal when `row` is the last entry."""
        ...


class Console(Protocol):
    """The staff console's storage (`store.console`). `write(work)` calls work(unit) in one
    write transaction; `read(work)` for work that only reads. Work is synchronous and
    short: slow steps (password hashing) run before it, outside the transaction."""

    async def read(self, work: Callable[[ConsoleWork], T]) -> T: ...

    async def write(self, work: Callable[[ConsoleWork], T]) -> T: ...


class Notices(Protocol):
    """Staff notices (`store.notices`, bot.notices): each call one transaction. Changes
    staff make are recorded by the `audit` entry given, in the same transaction."""

    async def create(self, new: NewNotice, rule: NoticeRule, audit: NewAuditEntry) -> str:
        """A draft; returns its id (8 characters, no 0/O/1/I)."""
        ...

    async def update(
        self,
        notice_id: str,
        new: NewNotice,
        rule: NoticeRule,
        keep_image: bool,
        keep_list: bool,
        audit: NewAuditEntry,
    ) -> bool:
        """A draft edited; False (nothing written) when it is no longer a draft."""
        ...

    async def get(self, notice_id: str) -> Notice | None: ...

    async def newest(self, limit: int, after: tuple[datetime, str] | None = None) -> list[Notice]:
        """Up to `limit` notices, newest first (then by id); `after`: those that come after
        this (created_at, id) in that order — the next page."""
        ...

    async def in_states(self, states: Sequence[str]) -> list[Notice]: ...

    async def approve(
        self,
        notice_id: str,
        by: str,
        now: datetime,
        send_at: datetime,
        expires_at: datetime,
        audit: NewAuditEntry,
    ) -> bool:
        """draft → approved; False when it was not a draft (someone was quicker)."""
        ...

    async def cancel(
        self, notice_id: str, by: str, now: datetime, audit: NewAuditEntry
    ) -> str | None:
        """→ cancelled (no more of its rows are claimed from the commit on); the state it
        had, or None when it had already finished."""
        ...

    async def set_state(
        self,
        notice_id: str,
        state: str,
        now: datetime,
        only_from: Sequence[str],
        audit: NewAuditEntry | None = None,
    ) -> bool:
        """Move it on (only from one of `only_from`); False when it was elsewhere."""
        ...

    async def audience(self, notice_id: str, now: datetime) -> AudienceCount:
        """Who it would reach now, and who in its audience is skipped (stopped, cap)."""
        ...

    async def fan_out(
        self, notice_id: str, route: Route, local: frozenset[str], limit: int, now: datetime
    ) -> FanOutStep:
        """The next `limit` residents of the audience → outbox rows (one per notice and
        resident), in one short transaction; `done` when the audience is exhausted."""
        ...

    async def drop_rows(self, notice_id: str, status: str, limit: int) -> int:
        """Up to `limit` queued rows → `status` (cancelled, expired)."""
        ...

    async def unfinished(self, notice_id: str) -> bool: ...

    async def counts(self, notice_id: str) -> NoticeCounts: ...

    async def record_progress(
        self, notice_id: str, now: datetime, counts: NoticeCounts
    ) -> None: ...

    async def progress(self, notice_id: str) -> list[ProgressPoint]: ...

    async def answers(self, notice_id: str) -> dict[str, int]: ...

    async def stopped_after(self, notice_id: str) -> int:
        """Recipients who stopped (all notices or the topic) within 24 h of receiving it."""
        ...

    async def image(self, notice_id: str) -> tuple[str, bytes] | None: ...

    async def test_send(
        self,
        notice_id: str,
        to: ListEntry,
        route: Route,
        local: frozenset[str],
        now: datetime,
        audit: NewAuditEntry,
    ) -> int:
        """Queue the notice for one number (a staff phone), ahead of other notices and
        outside its counts; returns the outbox id."""
        ...

    async def forget_list(self, notice_id: str) -> int:
        """A finished notice's imported numbers are deleted."""
        ...

    async def rehearse(self, notice_id: str, to: ListEntry, route: Route, now: datetime) -> int:
        """A rehearsal (a conversation test's `notice:` turn, `bot chat`'s /notice): the
        notice delivered to this one resident at once, as sent (no approval, no channel)."""


class FaqMisses(Protocol):
    """Questions the city FAQ could not answer (turns record them with their Completion)."""

    async def most_frequent(self, limit: int) -> list[FaqMissCount]:
        """The most asked first, then the most recent."""
        ...


class Store(Protocol):
    """One city's database."""

    @property
    def delivery(self) -> DeliveryStore: ...

    @property
    def staff(self) -> StaffDesk: ...

    @property
    def console(self) -> Console: ...

    @property
    def notices(self) -> Notices: ...

    @property
    def faq(self) -> FaqMisses: ...

    async def open(self, wake: Wakeups | None = None, *, serve: bool = False) -> None:
        """Upgrade the schema (every owner's migrations). `serve`: this process processes
        and delivers, so it takes over work a dead process left in flight (a CLI command
        that only reads or edits must not)."""
        ...

    async def close(self) -> None: ...

    # ---- intake ----
    async def ingest(self, rows: Sequence[InboundRow], now: datetime) -> list[Ingested]: ...

    async def record_status(
        self,
        provider: str,
        provider_message_id: str,
        status: str,
        error_code: str | None,
        now: datetime,
    ) -> bool:
        """Store a delivery receipt; the row's status only moves forward. True if matched."""
        ...

    # ---- processing ----
    async def process_batch(self, handler: TurnHandler, limit: int) -> BatchResult: ...

    async def next_timer_due(self) -> datetime | None: ...

    async def inbox_status(self, inbox_id: int) -> str | None: ...

    # ---- reading what was sent ----
    async def replies_for(self, inbox_id: int) -> list[SentMessage]: ...

    async def sent_to(self, resident_id: str, after_id: int = 0) -> list[SentMessage]: ...

    async def conversation(self, resident_id: str) -> dict[str, Any] | None: ...

    # ---- upkeep ----
    async def purge_old(self, before: datetime) -> dict[str, int]:
        """Erase texts older than `before` (rows, ids and statuses stay)."""
        ...

    def sender_limits(self, limits: FloodLimits) -> SenderLimits | None:
        """Flood limits shared by every process using this store, or None when the
        process's own count is exact (one process: SQLite). Like send_budget."""
        ...

    # ---- health ----
    async def health(self) -> StoreHealth:
        """Whether the database can be trusted with a write now, and if not why (deleted,
        replaced, corrupt, unreadable, unwritable, disk_full, io_error): /healthz reports
        it. A backend that finds its database unusable also refuses writes (503) rather
        than acknowledge what it cannot keep. Cheap enough to call every second."""
        ...
