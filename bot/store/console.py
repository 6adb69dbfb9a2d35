"""What one transaction of staff work may touch of storage (the staff console, `bot staff`,
`bot audit`): narrow services bound to that transaction, as a turn's are (services.py).

`store.console.write(work)` (bot.store.base.Console) calls work(unit) with a `ConsoleWork`;
everything the work changes, the audit entries that record it included, commits together
or not at all. Backends implement these structurally (bot/store/<backend>/).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.store.records import (
    AuditFilter,
    AuditHead,
    AuditRow,
    Case,
    CaseState,
    Cursor,
    NewAuditEntry,
    ResidentRow,
    StaffAccount,
    StaffNote,
    StaffSession,
    Timer,
    TranscriptPage,
)
from bot.store.services import Bookings


class AuditLog(Protocol):
    """The audit log (owner "audit"): append-only, each entry chained to the one before."""

    def append(self, entry: NewAuditEntry) -> AuditRow:
        """Link `entry` after the last entry and move the head to it, in this transaction.
        Appenders are serialised: reading the last entry and writing after it must not
        interleave with another writer's (SQLite: one writer at a time; PostgreSQL: a lock
        every appender takes first, see docs/architecture.md)."""
        ...

    def head(self) -> AuditHead | None: ...

    def entries(self, after_seq: int, limit: int) -> list[AuditRow]:
        """Entries after `after_seq` in seq order (verification reads the log in batches)."""
        ...

    def search(self, where: AuditFilter, before_seq: int | None, limit: int) -> list[AuditRow]:
        """Entries matching `where`, newest first, older than `before_seq` when given."""
        ...


class StaffAccounts(Protocol):
    """Staff accounts (owner "accounts")."""

    def add(
        self, name: str, role: str, password_hash: str, expires_at: datetime, now: datetime
    ) -> StaffAccount | None:
        """A new account with a one-time password until `expires_at`; None when the name
        is taken (in any letter case)."""
        ...

    def by_name(self, name: str) -> StaffAccount | None: ...

    def by_id(self, account_id: int) -> StaffAccount | None: ...

    def all(self) -> list[StaffAccount]:
        """Every account, by name."""
        ...

    def count(self, active_only: bool = True) -> int: ...

    def set_password(
        self,
        account_id: int,
        password_hash: str,
        temporary: bool,
        expires_at: datetime | None,
        now: datetime,
    ) -> None:
        """A new password (failures and lock cleared)."""
        ...

    def set_totp(
        self, account_id: int, sealed: bytes | None, enabled: bool, now: datetime
    ) -> None: ...

    def use_totp_step(self, account_id: int, step: int) -> bool:
        """Record that the code of time step `step` was used; False if it (or a later one)
        already was: a code seen over a shoulder cannot be replayed."""
        ...

    def set_role(self, account_id: int, role: str, now: datetime) -> None: ...

    def set_disabled(self, account_id: int, disabled: bool, now: datetime) -> None: ...

    def count_failure(self, account_id: int, lock_after: int, lock_until: datetime) -> int:
        """One more failed sign-in in a row (locked until `lock_until` at `lock_after`);
        the new count."""
        ...

    def signed_in(self, account_id: int, now: datetime) -> None:
        """A sign-in succeeded: failures and lock cleared, last sign-in set."""
        ...

    def uncount_failure(self, account_id: int, lock_after: int) -> None:
        """Take back the failure counted at the start of a step that succeeded but is not
        the last (a right password with its code still to come), and the lock that count
        set; the failures before it stay."""
        ...


class SignInLimits(Protocol):
    """Failed sign-ins per client address within a window (owner "accounts")."""

    def locked_until(self, client: str) -> datetime | None: ...

    def count_failure(
        self,
        client: str,
        now: datetime,
        window_start_after: datetime,
        lock_after: int,
        lock_until: datetime,
    ) -> int:
        """Count a failure in the current window (a window that began before
        `window_start_after` starts again at 1); locks at `lock_after`. The new count."""
        ...

    def forgive(self, client: str, lock_after: int) -> None:
        """An attempt counted up front turned out right: take it back (and its lock)."""
        ...


class StaffSessions(Protocol):
    """Console sessions, by the hash of their cookie value (owner "accounts")."""

    def add(self, id_hash: str, account_id: int, stage: str, now: datetime) -> None: ...

    def get(self, id_hash: str) -> StaffSession | None: ...

    def touch(self, id_hash: str, now: datetime) -> None: ...

    def end(self, id_hash: str) -> None: ...

    def end_all(self, account_id: int) -> int: ...

    def end_expired(self, idle_before: datetime, created_before: datetime) -> int: ...


class Cases(Protocol):
    """Residents in staff's hands (owner "console"), their transcripts and read marks."""

    def open_cases(self, account_id: int) -> list[Case]:
        """Every open case, urgent first, then the longest waiting; `unread` counts the
        notes this account has not seen."""
        ...

    def in_scope(self, resident_id: str) -> bool:
        """Was this resident ever in staff's hands (handed over, left a message, opened by
        staff)? Only such residents' data is shown in the console."""
        ...

    def case_of(self, resident_id: str) -> CaseState | None:
        """The open case's own row, or None."""
        ...

    def open(self, resident_id: str, now: datetime, opened_by: str, urgent: bool = False) -> None:
        """Open (or reopen) the resident's case; an open one stays open and only gains
        urgency. A notice's `ask` → handoff answer opens one with urgent=True."""
        ...

    def close(self, resident_id: str, now: datetime) -> None: ...

    def assign(self, resident_id: str, account_id: int | None, now: datetime) -> None:
        """Assign the open case (opening one for a handed-over resident without a row)."""
        ...

    def mark_read(self, account_id: int, resident_id: str) -> None:
        """This account has now seen every note of the resident."""
        ...

    def waiting_notes(self, resident_id: str) -> list[StaffNote]:
        """Notes nobody has dealt with yet (the handoff request, messages left), oldest first."""
        ...

    def record_author(self, outbox_id: int, account_id: int) -> None: ...

    def transcript(
        self,
        resident_id: str,
        limit: int,
        before: Cursor | None = None,
        after: Cursor | None = None,
    ) -> TranscriptPage:
        """Up to `limit` texts between the resident and the city: the latest, those before
        `before`, or those since `after` (oldest first). A bot reply sorts right after the
        message it answers, a staff reply after everything received up to its time."""
        ...


class StaffResidents(Protocol):
    """What staff may read and change of residents (owner "pipeline", "bookings")."""

    def get(self, resident_id: str) -> ResidentRow | None: ...

    def last_seen(self, resident_id: str) -> datetime | None:
        """When the resident last wrote (or was first seen)."""
        ...

    def set_notices(self, resident_id: str, enabled: bool) -> None: ...

    def known(self, resident_ids: Sequence[str]) -> list[str]:
        """Those of `resident_ids` that are residents (a number looked up by its hash)."""
        ...

    def by_receipt(self, receipt: str) -> str | None:
        """The resident whose booking has this 受付番号."""
        ...


class Handoffs(Protocol):
    """Staff's replies and hand-backs (owner "staff"; outbox rows of the pipeline)."""

    def in_handoff(self, resident_id: str) -> bool: ...

    def staff_reply(
        self,
        resident_id: str,
        text: str,
        now: datetime,
        take_over: bool,
        local_providers: frozenset[str],
    ) -> int:
        """Queue a message from staff on the resident's last provider and channel (stored
        as sent when that provider is one of `local_providers`, answered in-process); with
        `take_over` the resident is put in handoff. Returns the outbox id."""
        ...

    def hand_back(
        self, resident_id: str, closing: str | None, now: datetime, local_providers: frozenset[str]
    ) -> int | None:
        """The bot answers the resident again (notes marked seen), with staff's closing
        message queued first when there is one. Returns its outbox id."""
        ...


class Timers(Protocol):
    def set(self, resident_id: str, timer: Timer) -> None:
        """Set a resident's named timer (one by that name is replaced)."""
        ...

    def cancel(self, resident_id: str, name: str) -> None: ...


class ConsoleWork(Protocol):
    """One transaction of staff work (the console, `bot staff`, `bot audit`): whatever it
    changes, and the audit entries that record it, commit together or not at all.
    Synchronous, like a turn's services: it runs on the store's thread, never awaits."""

    @property
    def accounts(self) -> StaffAccounts: ...

    @property
    def sign_ins(self) -> SignInLimits: ...

    @property
    def sessions(self) -> StaffSessions: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def cases(self) -> Cases: ...

    @property
    def residents(self) -> StaffResidents: ...

    @property
    def handoffs(self) -> Handoffs: ...

    @property
    def bookings(self) -> Bookings:
        """The same service a turn uses: capacity is checked atomically as for the bot."""
        ...

    @property
    def timers(self) -> Timers: ...
