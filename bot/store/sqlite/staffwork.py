"""Staff's work in SQLite: the handoff desk (`store.staff`, for `bot handoff`) and the
console's unit of work (`store.console`), both on the intake lane (staff's transactions
are short). A unit composes the owners' services on the lane's connection, inside one
transaction: accounts, sessions, the audit log, cases, residents, bookings, timers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import sqlite_utils

from bot.store.base import AuditSealer
from bot.store.console import ConsoleWork
from bot.store.records import STAFF_KEY_PREFIX, NewAuditEntry, ResidentRow, StaffNote, Timer
from bot.store.sqlite import audit as audit_log
from bot.store.sqlite import bookings, outbox, pipeline, staff
from bot.store.sqlite.accounts import SqliteAccounts, SqliteSessions, SqliteSignInLimits
from bot.store.sqlite.console import SqliteCases
from bot.store.sqlite.lane import Lane

T = TypeVar("T")


class SqliteHandoffs:
    """bot.store.console.Handoffs on one connection, inside its current transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def in_handoff(self, resident_id: str) -> bool:
        return staff.in_handoff(self.db, resident_id)

    def staff_reply(
        self,
        resident_id: str,
        text: str,
        now: datetime,
        take_over: bool,
        local_providers: frozenset[str],
    ) -> int:
        provider, channel = staff.last_route(self.db, resident_id)
        provider = provider or "sim"
        outbox_id = outbox.add_outbox(
            self.db,
            resident_id,
            provider,
            channel or "sms",
            "reply",
            text,
            [],
            None,
            pipeline.utc_text(now),
            "sent" if provider in local_providers else "pending",
            f"{STAFF_KEY_PREFIX}{uuid.uuid4().hex}",
        )
        if take_over:
            staff.set_handoff(self.db, resident_id, True)
        return outbox_id

    def hand_back(
        self, resident_id: str, closing: str | None, now: datetime, local_providers: frozenset[str]
    ) -> int | None:
        outbox_id = None
        if closing:
            outbox_id = self.staff_reply(resident_id, closing, now, False, local_providers)
        _release(self.db, resident_id)
        return outbox_id


def _release(db: sqlite_utils.Database, resident_id: str) -> None:
    """The bot answers the resident again; their notes are dealt with."""
    staff.set_handoff(db, resident_id, False)
    staff.mark_seen(db, resident_id)


class SqliteStaffResidents:
    """bot.store.console.StaffResidents on one connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def get(self, resident_id: str) -> ResidentRow | None:
        return pipeline.resident(self.db, resident_id)

    def last_seen(self, resident_id: str) -> datetime | None:
        return pipeline.last_seen(self.db, resident_id)

    def set_notices(self, resident_id: str, enabled: bool) -> None:
        pipeline.update_resident(self.db, resident_id, {"notices_enabled": enabled})

    def known(self, resident_ids: Sequence[str]) -> list[str]:
        return pipeline.known_residents(self.db, resident_ids)

    def by_receipt(self, receipt: str) -> str | None:
        return bookings.resident_of_receipt(self.db, receipt)


class SqliteTimers:
    """bot.store.console.Timers on one connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def set(self, resident_id: str, timer: Timer) -> None:
        pipeline.set_timer(self.db, resident_id, timer)

    def cancel(self, resident_id: str, name: str) -> None:
        pipeline.cancel_timer(self.db, resident_id, name)


class SqliteConsoleWork:
    """bot.store.console.ConsoleWork: the owners' services on one connection, all inside
    the transaction the lane opened for this unit."""

    def __init__(self, db: sqlite_utils.Database, sealer: AuditSealer | None) -> None:
        self.accounts = SqliteAccounts(db)
        self.sign_ins = SqliteSignInLimits(db)
        self.sessions = SqliteSessions(db)
        self.audit = audit_log.SqliteAuditLog(db, sealer)
        self.cases = SqliteCases(db)
        self.residents = SqliteStaffResidents(db)
        self.handoffs = SqliteHandoffs(db)
        self.bookings = bookings.SqliteBookings(db)
        self.timers = SqliteTimers(db)


class SqliteConsole:
    """bot.store.base.Console on the intake lane."""

    def __init__(self, lane: Lane, sealer: AuditSealer | None) -> None:
        self.lane = lane
        self.sealer = sealer

    def _run(self, work: Callable[[ConsoleWork], T]) -> Callable[[sqlite_utils.Database], T]:
        def run(db: sqlite_utils.Database) -> T:
            return work(SqliteConsoleWork(db, self.sealer))

        return run

    async def read(self, work: Callable[[ConsoleWork], T]) -> T:
        return await self.lane.read(self._run(work))

    async def write(self, work: Callable[[ConsoleWork], T]) -> T:
        return await self.lane.write(self._run(work))


class SqliteStaffDesk:
    """bot.store.base.StaffDesk on the intake lane."""

    def __init__(self, lane: Lane, sealer: AuditSealer | None) -> None:
        self.lane = lane
        self.sealer = sealer

    async def handoff_notes(self) -> tuple[dict[str, datetime], list[StaffNote]]:
        def read(db: sqlite_utils.Database) -> tuple[dict[str, datetime], list[StaffNote]]:
            return staff.in_handoff_since(db), staff.unseen_notes(db)

        return await self.lane.read(read)

    async def find_resident(self, ref: str) -> str | None:
        return await self.lane.read(staff.find_resident, ref)

    async def hand_back(self, resident_id: str, audit: NewAuditEntry) -> None:
        def write(db: sqlite_utils.Database) -> None:
            _release(db, resident_id)
            audit_log.append(db, self.sealer, audit)

        await self.lane.write(write)
