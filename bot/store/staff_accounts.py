"""Staff accounts, their sessions and login failures: the SQL behind bot/staff/accounts.py.

Every function takes a Database already inside a transaction (the caller's); times are
UTC ISO 8601 text, like the rest of the store."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from bot.store.queries import from_utc_text, utc_text


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    password_hash: str
    password_temporary: bool
    password_expires_at: datetime | None
    totp_secret: bytes | None
    totp_enabled: bool
    totp_last_step: int
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    account: Account
    stage: str
    created_at: datetime
    last_seen_at: datetime


def _when(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


_COLUMNS = (
    "a.id, a.name, a.role, a.password_hash, a.password_temporary, a.password_expires_at, "
    "a.totp_secret, a.totp_enabled, a.totp_last_step, a.disabled, a.failed_logins, "
    "a.locked_until, a.created_at, a.last_login_at"
)


def _account(row: sqlite3.Row | tuple) -> Account:
    return Account(
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


# ---- accounts ------------------------------------------------------------------------------


def insert_account(
    db: sqlite_utils.Database,
    name: str,
    role: str,
    password_hash: str,
    expires_at: datetime,
    now: datetime,
) -> Account | None:
    """A new account with a one-time password; None when the name is taken."""
    cursor = db.execute(
        "INSERT INTO staff_accounts (name, role, password_hash, password_temporary, "
        "password_expires_at, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?) "
        "ON CONFLICT(name) DO NOTHING",
        [name, role, password_hash, utc_text(expires_at), utc_text(now), utc_text(now)],
    )
    return account_by_name(db, name) if cursor.rowcount == 1 else None


def account_by_name(db: sqlite_utils.Database, name: str) -> Account | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM staff_accounts a WHERE a.name = ?", [name]).fetchone()
    return _account(row) if row else None


def account_by_id(db: sqlite_utils.Database, account_id: int) -> Account | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM staff_accounts a WHERE a.id = ?", [account_id]
    ).fetchone()
    return _account(row) if row else None


def all_accounts(db: sqlite_utils.Database) -> list[Account]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM staff_accounts a ORDER BY a.name").fetchall()
    return [_account(row) for row in rows]


def count_accounts(db: sqlite_utils.Database, active_only: bool = True) -> int:
    where = " WHERE disabled = 0" if active_only else ""
    return int(db.execute(f"SELECT count(*) FROM staff_accounts{where}").fetchone()[0])


def set_password(
    db: sqlite_utils.Database,
    account_id: int,
    password_hash: str,
    temporary: bool,
    expires_at: datetime | None,
    now: datetime,
) -> None:
    db.execute(
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


def set_totp(
    db: sqlite_utils.Database, account_id: int, secret: bytes | None, enabled: bool, now: datetime
) -> None:
    db.execute(
        "UPDATE staff_accounts SET totp_secret = ?, totp_enabled = ?, totp_last_step = 0, "
        "updated_at = ? WHERE id = ?",
        [secret, int(enabled), utc_text(now), account_id],
    )


def use_totp_step(db: sqlite_utils.Database, account_id: int, step: int) -> bool:
    """Record that the code of time step `step` was used; False if it (or a later one)
    already was: a code seen by someone looking over a shoulder cannot be replayed."""
    cursor = db.execute(
        "UPDATE staff_accounts SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?",
        [step, account_id, step],
    )
    return cursor.rowcount == 1


def set_role(db: sqlite_utils.Database, account_id: int, role: str, now: datetime) -> None:
    db.execute(
        "UPDATE staff_accounts SET role = ?, updated_at = ? WHERE id = ?",
        [role, utc_text(now), account_id],
    )


def set_disabled(db: sqlite_utils.Database, account_id: int, disabled: bool, now: datetime) -> None:
    db.execute(
        "UPDATE staff_accounts SET disabled = ?, updated_at = ? WHERE id = ?",
        [int(disabled), utc_text(now), account_id],
    )


def record_account_failure(
    db: sqlite_utils.Database, account_id: int, lock_after: int, lock_until: datetime
) -> int:
    """One more failure in a row; locks the account at `lock_after`. The new count."""
    db.execute(
        "UPDATE staff_accounts SET failed_logins = failed_logins + 1, "
        "locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END "
        "WHERE id = ?",
        [lock_after, utc_text(lock_until), account_id],
    )
    row = db.execute("SELECT failed_logins FROM staff_accounts WHERE id = ?", [account_id])
    return int(row.fetchone()[0])


def record_login(db: sqlite_utils.Database, account_id: int, now: datetime) -> None:
    db.execute(
        "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL, last_login_at = ? "
        "WHERE id = ?",
        [utc_text(now), account_id],
    )


# ---- failures per client -----------------------------------------------------------------


def client_locked_until(db: sqlite_utils.Database, client: str) -> datetime | None:
    row = db.execute(
        "SELECT locked_until FROM staff_client_failures WHERE client = ?", [client]
    ).fetchone()
    return _when(row[0]) if row else None


def record_client_failure(
    db: sqlite_utils.Database,
    client: str,
    now: datetime,
    window_start_after: datetime,
    lock_after: int,
    lock_until: datetime,
) -> int:
    """Count a failure from `client` in the current window (a window older than
    `window_start_after` starts again at 1); locks at `lock_after`. The new count."""
    db.execute(
        "INSERT INTO staff_client_failures (client, failures, window_start) VALUES (?, 1, ?) "
        "ON CONFLICT(client) DO UPDATE SET "
        "failures = CASE WHEN window_start < ? THEN 1 ELSE failures + 1 END, "
        "window_start = CASE WHEN window_start < ? THEN excluded.window_start "
        "ELSE window_start END",
        [client, utc_text(now), utc_text(window_start_after), utc_text(window_start_after)],
    )
    count = int(
        db.execute(
            "SELECT failures FROM staff_client_failures WHERE client = ?", [client]
        ).fetchone()[0]
    )
    if count >= lock_after:
        db.execute(
            "UPDATE staff_client_failures SET locked_until = ? WHERE client = ?",
            [utc_text(lock_until), client],
        )
    return count


# ---- sessions ------------------------------------------------------------------------------


def insert_session(
    db: sqlite_utils.Database, id_hash: str, account_id: int, stage: str, now: datetime
) -> None:
    db.execute(
        "INSERT INTO staff_sessions (id_hash, account_id, stage, created_at, last_seen_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [id_hash, account_id, stage, utc_text(now), utc_text(now)],
    )


def session_by_hash(db: sqlite_utils.Database, id_hash: str) -> SessionRow | None:
    row = db.execute(
        f"SELECT s.id_hash, s.stage, s.created_at, s.last_seen_at, {_COLUMNS} "
        "FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id "
        "WHERE s.id_hash = ?",
        [id_hash],
    ).fetchone()
    if row is None:
        return None
    return SessionRow(
        id_hash=row[0],
        stage=row[1],
        created_at=from_utc_text(row[2]),
        last_seen_at=from_utc_text(row[3]),
        account=_account(row[4:]),
    )


def touch_session(db: sqlite_utils.Database, id_hash: str, now: datetime) -> None:
    db.execute(
        "UPDATE staff_sessions SET last_seen_at = ? WHERE id_hash = ?", [utc_text(now), id_hash]
    )


def delete_session(db: sqlite_utils.Database, id_hash: str) -> None:
    db.execute("DELETE FROM staff_sessions WHERE id_hash = ?", [id_hash])


def delete_sessions_of(db: sqlite_utils.Database, account_id: int) -> int:
    return db.execute("DELETE FROM staff_sessions WHERE account_id = ?", [account_id]).rowcount


def delete_expired_sessions(
    db: sqlite_utils.Database, idle_before: datetime, created_before: datetime
) -> int:
    return db.execute(
        "DELETE FROM staff_sessions WHERE last_seen_at < ? OR created_at < ?",
        [utc_text(idle_before), utc_text(created_before)],
    ).rowcount


def forgive_client_failure(db: sqlite_utils.Database, client: str, lock_after: int) -> None:
    """An attempt counted up front turned out right: take it back (and the lock it made)."""
    db.execute(
        "UPDATE staff_client_failures SET failures = max(failures - 1, 0), "
        "locked_until = CASE WHEN failures - 1 < ? THEN NULL ELSE locked_until END "
        "WHERE client = ?",
        [lock_after, client],
    )


def has_accounts_table(db: sqlite_utils.Database) -> bool:
    return "staff_accounts" in db.table_names()
