"""Staff accounts in SQLite (owner "accounts"): accounts, their sessions, and failed
sign-ins per client address. The console's StaffAccounts, StaffSessions and SignInLimits,
inside the caller's transaction (nothing here begins or commits).

Passwords are stored only as argon2id hashes, TOTP secrets only sealed, session ids only as
their SHA-256 (bot.staff makes all three)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.store.records import StaffAccount, StaffSession
from bot.store.sqlite.migrations import MigrationSet, run_script
from bot.store.sqlite.pipeline import from_utc_text, utc_text

MIGRATIONS = MigrationSet("accounts")


@MIGRATIONS.step("accounts, sessions and sign-in failures")
def _accounts(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE staff_accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('operator', 'editor', 'approver', 'admin')),
            password_hash TEXT NOT NULL,              -- argon2id (PHC string)
            password_temporary INTEGER NOT NULL DEFAULT 1,  -- a one-time password: change it
            password_expires_at TEXT,                 -- a one-time password's end (UTC)
            totp_secret BLOB,                         -- AES-GCM ciphertext of the base32 secret
            totp_enabled INTEGER NOT NULL DEFAULT 0,
            totp_last_step INTEGER NOT NULL DEFAULT 0,  -- a code is accepted once
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_logins INTEGER NOT NULL DEFAULT 0,   -- in a row
            locked_until TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_login_at TEXT
        );
        CREATE TABLE staff_sessions (
            id_hash TEXT PRIMARY KEY,                 -- SHA-256 of the cookie value
            account_id INTEGER NOT NULL REFERENCES staff_accounts (id),
            stage TEXT NOT NULL,                      -- totp | change_password | enrol_totp | ready
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        );
        CREATE INDEX staff_sessions_account ON staff_sessions (account_id);
        CREATE TABLE staff_client_failures (
            client TEXT PRIMARY KEY,                  -- an IP address (staff's, not residents')
            failures INTEGER NOT NULL,
            window_start TEXT NOT NULL,
            locked_until TEXT
        )
        """,
    )


def _when(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


_COLUMNS = (
    "a.id, a.name, a.role, a.password_hash, a.password_temporary, a.password_expires_at, "
    "a.totp_secret, a.totp_enabled, a.totp_last_step, a.disabled, a.failed_logins, "
    "a.locked_until, a.created_at, a.last_login_at"
)


def _account(row: Sequence[Any]) -> StaffAccount:
    return StaffAccount(
        id=row[0],
        name=row[1],
        role=row[2],
        password_hash=row[3],
        password_temporary=bool(row[4]),
        password_expires_at=_when(row[5]),
        totp_secret=row[6],
        totp_enabled=bool(row[7]),
        totp_last_step=int(row[8]),
        disabled=bool(row[9]),
        failed_logins=int(row[10]),
        locked_until=_when(row[11]),
        created_at=from_utc_text(row[12]),
        last_login_at=_when(row[13]),
    )


class SqliteAccounts:
    """bot.store.base.StaffAccounts on one connection, inside its current transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(
        self, name: str, role: str, password_hash: str, expires_at: datetime, now: datetime
    ) -> StaffAccount | None:
        cursor = self.db.execute(
            "INSERT INTO staff_accounts (name, role, password_hash, password_temporary, "
            "password_expires_at, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?) "
            "ON CONFLICT(name) DO NOTHING",
            [name, role, password_hash, utc_text(expires_at), utc_text(now), utc_text(now)],
        )
        return self.by_name(name) if cursor.rowcount == 1 else None

    def by_name(self, name: str) -> StaffAccount | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM staff_accounts a WHERE a.name = ?", [name]
        ).fetchone()
        return _account(row) if row else None

    def by_id(self, account_id: int) -> StaffAccount | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM staff_accounts a WHERE a.id = ?", [account_id]
        ).fetchone()
        return _account(row) if row else None

    def all(self) -> list[StaffAccount]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM staff_accounts a ORDER BY a.name")
        return [_account(row) for row in rows.fetchall()]

    def count(self, active_only: bool = True) -> int:
        where = " WHERE disabled = 0" if active_only else ""
        return int(self.db.execute(f"SELECT count(*) FROM staff_accounts{where}").fetchone()[0])

    def set_password(
        self,
        account_id: int,
        password_hash: str,
        temporary: bool,
        expires_at: datetime | None,
        now: datetime,
    ) -> None:
        self.db.execute(
            "UPDATE staff_accounts SET password_hash = ?, password_temporary = ?, "
            "password_expires_at = ?, failed_logins = 0, locked_until = NULL, updated_at = ? "
            "WHERE id = ?",
            [
                password_hash,
                int(temporary),
                utc_text(expires_at) if expires_at else None,
                utc_text(now),
                account_id,
            ],
        )

    def set_totp(self, account_id: int, sealed: bytes | None, enabled: bool, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_accounts SET totp_secret = ?, totp_enabled = ?, totp_last_step = 0, "
            "updated_at = ? WHERE id = ?",
            [sealed, int(enabled), utc_text(now), account_id],
        )

    def use_totp_step(self, account_id: int, step: int) -> bool:
        cursor = self.db.execute(
            "UPDATE staff_accounts SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?",
            [step, account_id, step],
        )
        return cursor.rowcount == 1

    def set_role(self, account_id: int, role: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_accounts SET role = ?, updated_at = ? WHERE id = ?",
            [role, utc_text(now), account_id],
        )

    def set_disabled(self, account_id: int, disabled: bool, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_accounts SET disabled = ?, updated_at = ? WHERE id = ?",
            [int(disabled), utc_text(now), account_id],
        )

    def count_failure(self, account_id: int, lock_after: int, lock_until: datetime) -> int:
        self.db.execute(
            "UPDATE staff_accounts SET failed_logins = failed_logins + 1, "
            "locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END "
            "WHERE id = ?",
            [lock_after, utc_text(lock_until), account_id],
        )
        row = self.db.execute("SELECT failed_logins FROM staff_accounts WHERE id = ?", [account_id])
        return int(row.fetchone()[0])

    def signed_in(self, account_id: int, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL, last_login_at = ? "
            "WHERE id = ?",
            [utc_text(now), account_id],
        )

    def uncount_failure(self, account_id: int, lock_after: int) -> None:
        self.db.execute(
            "UPDATE staff_accounts SET failed_logins = MAX(failed_logins - 1, 0), "
            "locked_until = CASE WHEN failed_logins - 1 < ? THEN NULL ELSE locked_until END "
            "WHERE id = ?",
            [lock_after, account_id],
        )


class SqliteSignInLimits:
    """bot.store.base.SignInLimits: failed sign-ins per client address, in a window."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def locked_until(self, client: str) -> datetime | None:
        row = self.db.execute(
            "SELECT locked_until FROM staff_client_failures WHERE client = ?", [client]
        ).fetchone()
        return _when(row[0]) if row else None

    def count_failure(
        self,
        client: str,
        now: datetime,
        window_start_after: datetime,
        lock_after: int,
        lock_until: datetime,
    ) -> int:
        self.db.execute(
            "INSERT INTO staff_client_failures (client, failures, window_start) VALUES (?, 1, ?) "
            "ON CONFLICT(client) DO UPDATE SET "
            "failures = CASE WHEN window_start < ? THEN 1 ELSE failures + 1 END, "
            "window_start = CASE WHEN window_start < ? THEN excluded.window_start "
            "ELSE window_start END",
            [client, utc_text(now), utc_text(window_start_after), utc_text(window_start_after)],
        )
        count = int(
            self.db.execute(
                "SELECT failures FROM staff_client_failures WHERE client = ?", [client]
            ).fetchone()[0]
        )
        if count >= lock_after:
            self.db.execute(
                "UPDATE staff_client_failures SET locked_until = ? WHERE client = ?",
                [utc_text(lock_until), client],
            )
        return count

    def forgive(self, client: str, lock_after: int) -> None:
        self.db.execute(
            "UPDATE staff_client_failures SET failures = max(failures - 1, 0), "
            "locked_until = CASE WHEN failures - 1 < ? THEN NULL ELSE locked_until END "
            "WHERE client = ?",
            [lock_after, client],
        )


class SqliteSessions:
    """bot.store.base.StaffSessions on one connection, inside its current transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, id_hash: str, account_id: int, stage: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO staff_sessions (id_hash, account_id, stage, created_at, last_seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [id_hash, account_id, stage, utc_text(now), utc_text(now)],
        )

    def get(self, id_hash: str) -> StaffSession | None:
        row = self.db.execute(
            f"SELECT s.id_hash, s.stage, s.created_at, s.last_seen_at, {_COLUMNS} "
            "FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id "
            "WHERE s.id_hash = ?",
            [id_hash],
        ).fetchone()
        if row is None:
            return None
        return StaffSession(
            id_hash=row[0],
            stage=row[1],
            created_at=from_utc_text(row[2]),
            last_seen_at=from_utc_text(row[3]),
            account=_account(row[4:]),
        )

    def touch(self, id_hash: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_sessions SET last_seen_at = ? WHERE id_hash = ?", [utc_text(now), id_hash]
        )

    def end(self, id_hash: str) -> None:
        self.db.execute("DELETE FROM staff_sessions WHERE id_hash = ?", [id_hash])

    def end_all(self, account_id: int) -> int:
        cursor = self.db.execute("DELETE FROM staff_sessions WHERE account_id = ?", [account_id])
        return int(cursor.rowcount)

    def end_expired(self, idle_before: datetime, created_before: datetime) -> int:
        cursor = self.db.execute(
            "DELETE FROM staff_sessions WHERE last_seen_at < ? OR created_at < ?",
            [utc_text(idle_before), utc_text(created_before)],
        )
        return int(cursor.rowcount)
