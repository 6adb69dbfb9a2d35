"""The staff set of migrations: accounts, sessions, the audit log and the console's cases.

Owned by the staff console (bot/staff/, bot/audit.py); registered in bot/store/migrations.py."""

from __future__ import annotations

import sqlite_utils

from bot.store.migration_sets import Step, migrate_set, run_script

OWNER = "staff"


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


def _audit(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,                          -- UTC ISO 8601
            actor TEXT NOT NULL,                       -- account name, or cli:<os user>
            action TEXT NOT NULL,
            resident_id TEXT,                          -- internal id, never the number
            subject TEXT,
            detail TEXT NOT NULL DEFAULT '{}',
            prev_mac TEXT NOT NULL,
            mac TEXT NOT NULL
        );
        CREATE INDEX audit_by_resident ON audit_log (resident_id, seq);
        CREATE INDEX audit_by_actor ON audit_log (actor, seq);
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            mac TEXT NOT NULL
        )
        """,
    )
    # A trigger's body holds `;`: one statement each. They stop the application (and a
    # careless hand) from changing the log; the MAC chain catches anyone who drops them.
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def _cases(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE staff_cases (
            resident_id TEXT PRIMARY KEY,
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,                   -- handoff | lookup | notice
            assigned_to INTEGER REFERENCES staff_accounts (id),
            urgent INTEGER NOT NULL DEFAULT 0,
            closed_at TEXT
        );
        CREATE TABLE staff_reads (
            account_id INTEGER NOT NULL REFERENCES staff_accounts (id),
            resident_id TEXT NOT NULL,
            note_id INTEGER NOT NULL,                  -- the last note this person has seen
            PRIMARY KEY (account_id, resident_id)
        );
        CREATE TABLE staff_reply_authors (
            outbox_id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES staff_accounts (id)
        );
        CREATE INDEX staff_notes_by_resident ON staff_notes (resident_id, id);
        -- A resident's whole transcript, page by page (the pipeline indexes pending rows only).
        CREATE INDEX inbox_by_resident ON inbox (resident_id, received_at)
        """,
    )


STEPS: list[tuple[int, str, Step]] = [
    (1, "staff accounts, sessions and login failures", _accounts),
    (2, "audit log (hash chain)", _audit),
    (3, "console cases, read marks and reply authors", _cases),
]


def migrate_staff(db: sqlite_utils.Database) -> list[int]:
    return migrate_set(db, OWNER, STEPS)
