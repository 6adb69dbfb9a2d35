"""Staff's work in PostgreSQL: the handoff desk (`store.staff`, for `bot handoff`) and the
console's unit of work (`store.console`), both on the store's staff lane, as
bot.store.sqlite.staffwork. A unit composes the owners' services on one
connection inside one transaction: accounts, sessions, the audit log, cases, residents,
bookings, timers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.store.base import AuditSealer
from bot.store.console import ConsoleWork
from bot.store.postgres import audit as audit_log
from bot.store.postgres import bookings, pipeline, staff
from bot.store.postgres.accounts import PostgresAccounts, PostgresSessions, PostgresSignInLimits
from bot.store.postgres.connection import BATCH_CHANNEL, Conn, Lane
from bot.store.postgres.console import PostgresCases
from bot.store.records import STAFF_KEY_PREFIX, NewAuditEntry, ResidentRow, StaffNote, Timer

T = TypeVar("T")


class PostgresHandoffs:
    """bot.store.console.Handoffs on one connection, inside its current transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def in_handoff(self, resident_id: str) -> bool:
        return staff.in_handoff(self.conn, resident_id)

    def staff_reply(
        self,
        resident_id: str,
        text: str,
        now: datetime,
        take_over: bool,
        local_providers: frozenset[str],
    ) -> int:
        provider, channel = staff.last_route(self.conn, resident_id)
        provider = provider or "sim"
        outbox_id = pipeline.add_outbox(
            self.conn,
            resident_id,
            provider,
            channel or "sms",
            text,
            now,
            "sent" if provider in local_providers else "pending",
            f"{STAFF_KEY_PREFIX}{uuid.uuid4().hex}",
        )
        # Every process's delivery worker may send it: wake them at commit.
        self.conn.execute("SELECT pg_notify(%s, '|1|')", [BATCH_CHANNEL])
        if take_over:
            staff.set_handoff(self.conn, resident_id, True)
        return outbox_id

    def hand_back(
        self, resident_id: str, closing: str | None, now: datetime, local_providers: frozenset[str]
    ) -> int | None:
        outbox_id = None
        if closing:
            outbox_id = self.staff_reply(resident_id, closing, now, False, local_providers)
        _release(self.conn, resident_id)
        return outbox_id


def _release(conn: Conn, resident_id: str) -> None:
    """The bot answers the resident again; their notes are dealt with."""
    staff.set_handoff(conn, resident_id, False)
    staff.mark_seen(conn, resident_id)


class PostgresStaffResidents:
    """bot.store.console.StaffResidents on one connection."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def get(self, resident_id: str) -> ResidentRow | None:
        return pipeline.resident(self.conn, resident_id)

    def last_seen(self, resident_id: str) -> datetime | None:
        return pipeline.last_seen(self.conn, resident_id)

    def set_notices(self, resident_id: str, enabled: bool) -> None:
        pipeline.update_resident(self.conn, resident_id, {"notices_enabled": enabled})

    def known(self, resident_ids: Sequence[str]) -> list[str]:
        return pipeline.known_residents(self.conn, resident_ids)

    def by_receipt(self, receipt: str) -> str | None:
        return bookings.resident_of_receipt(self.conn, receipt)


class PostgresTimers:
    """bot.store.console.Timers on one connection."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def set(self, resident_id: str, timer: Timer) -> None:
        pipeline.set_timer(self.conn, resident_id, timer)

    def cancel(self, resident_id: str, name: str) -> None:
        pipeline.cancel_timer(self.conn, resident_id, name)


class PostgresConsoleWork:
    """bot.store.console.ConsoleWork: the owners' services on one connection, all inside
    the transaction the lane opened for this unit."""

    def __init__(self, conn: Conn, sealer: AuditSealer | None) -> None:
        self.accounts = PostgresAccounts(conn)
        self.sign_ins = PostgresSignInLimits(conn)
        self.sessions = PostgresSessions(conn)
        self.audit = audit_log.PostgresAuditLog(conn, sealer)
        self.cases = PostgresCases(conn)
        self.residents = PostgresStaffResidents(conn)
        self.handoffs = PostgresHandoffs(conn)
        self.bookings = bookings.PostgresBookings(conn)
        self.timers = PostgresTimers(conn)


class PostgresConsole:
    """bot.store.base.Console on the staff lane: each unit one transaction."""

    def __init__(self, lane: Lane, sealer: AuditSealer | None) -> None:
        self.lane = lane
        self.sealer = sealer

    def _run(self, work: Callable[[ConsoleWork], T]) -> Callable[[Conn], T]:
        def run(conn: Conn) -> T:
            return work(PostgresConsoleWork(conn, self.sealer))

        return run

    async def read(self, work: Callable[[ConsoleWork], T]) -> T:
        return await self.lane.run(self._run(work))

    async def write(self, work: Callable[[ConsoleWork], T]) -> T:
        return await self.lane.run(self._run(work))


class PostgresStaffDesk:
    """bot.store.base.StaffDesk on the staff lane."""

    def __init__(self, lane: Lane, sealer: AuditSealer | None) -> None:
        self.lane = lane
        self.sealer = sealer

    async def handoff_notes(self) -> tuple[dict[str, datetime], list[StaffNote]]:
        def read(conn: Conn) -> tuple[dict[str, datetime], list[StaffNote]]:
            return staff.in_handoff_since(conn), staff.unseen_notes(conn)

        return await self.lane.run(read)

    async def find_resident(self, ref: str) -> str | None:
        return await self.lane.run(staff.find_resident, ref)

    async def hand_back(self, resident_id: str, audit: NewAuditEntry) -> None:
        def write(conn: Conn) -> None:
            _release(conn, resident_id)
            audit_log.append(conn, self.sealer, audit)

        await self.lane.run(write)
