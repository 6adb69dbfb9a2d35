"""The audit log: entries chained by HMAC; `bot audit verify` finds an edited, inserted or
deleted row (the triggers that refuse UPDATE/DELETE are dropped first, as an attacker with
the database file would); admins read and export it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from bot.audit import Audit, AuditChain, Verification, audit_key, verify
from bot.clock import TOKYO
from bot.staff.roles import Role
from bot.store import ConsoleWork
from bot.store.sqlite import SqliteStore
from tests.foundation.helpers import SECRET
from tests.staff.helpers import make_account, sign_in

KEY = audit_key(SECRET)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)
RESIDENT = "0123456789abcdef0123456789abcdef"


def in_store(path: Path, work: Callable[[ConsoleWork], Any], key: bytes = KEY) -> Any:
    """work(unit) in one transaction of the store's console, with the chain of `key`."""

    async def run() -> Any:
        store = SqliteStore(path, single_lane=True, audit=AuditChain(key))
        await store.open()
        try:
            return await store.console.write(work)
        finally:
            await store.close()

    return asyncio.run(run())


def verified(path: Path, key: bytes = KEY) -> Verification:
    return in_store(path, lambda work: verify(work.audit, AuditChain(key)), key)


@pytest.fixture
def log_file(tmp_path) -> Path:
    path = tmp_path / "bot.db"

    def write(work: ConsoleWork) -> None:
        log = Audit(work.audit, NOW)
        log.record("sato", "login.ok", subject="sato", detail={"factor": "password"})
        log.record("sato", "conversation.view", RESIDENT, detail={"entries": 12})
        log.record("sato", "conversation.reply", RESIDENT, detail={"outbox": 7, "chars": 40})
        log.record("sato", "booking.changed", RESIDENT, "ABCD2345", {"from": "a", "to": "b"})
        log.record("sato", "logout.ok", subject="sato")

    in_store(path, write)
    return path


@pytest.fixture
def db(log_file):
    """The file as someone who has it sees it: a plain connection (autocommit)."""
    database = sqlite_utils.Database(sqlite3.connect(log_file, isolation_level=None))
    yield database
    database.close()


def unprotect(db) -> None:
    """What someone with the file can do: drop the triggers that refuse changes."""
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("DROP TRIGGER audit_log_no_delete")


def test_an_untouched_log_verifies(log_file):
    result = verified(log_file)
    assert result.ok and result.checked == 5


def test_the_application_cannot_change_or_delete_entries(db):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE seq = 1")


def test_an_edited_entry_is_found(db, log_file):
    unprotect(db)
    db.execute("UPDATE audit_log SET actor = 'tanaka' WHERE seq = 3")
    result = verified(log_file)
    assert not result.ok
    assert result.problems == ["seq 3: its content does not match its MAC (edited)"]


def test_an_edited_detail_is_found(db, log_file):
    unprotect(db)
    db.execute("""UPDATE audit_log SET detail = '{"from":"a","to":"c"}' WHERE seq = 4""")
    assert any("seq 4" in p for p in verified(log_file).problems)


def test_a_deleted_entry_is_found(db, log_file):
    unprotect(db)
    db.execute("DELETE FROM audit_log WHERE seq = 2")
    problems = verified(log_file).problems
    assert any("seq 3: expected seq 2" in p for p in problems)
    assert any("seq 3: does not follow" in p for p in problems)


def test_entries_cut_from_the_end_are_found(db, log_file):
    unprotect(db)
    db.execute("DELETE FROM audit_log WHERE seq >= 4")
    problems = verified(log_file).problems
    assert problems and "the table ends at 3" in problems[0]


def test_cutting_the_end_and_moving_the_head_is_found(db, log_file):
    """The head is sealed with the key: pointing it at the new last entry does not help."""
    unprotect(db)
    db.execute("DELETE FROM audit_log WHERE seq >= 4")
    mac = db.execute("SELECT mac FROM audit_log WHERE seq = 3").fetchone()[0]
    db.execute("UPDATE audit_head SET seq = 3, mac = ?", [mac])
    assert not verified(log_file).ok


def test_an_inserted_entry_is_found_even_with_a_recomputed_hash(db, log_file):
    """A forger without the key can only guess MACs; with a plain SHA-256 chain this
    insertion (and the rewrite of every later link) would pass."""
    import hashlib

    unprotect(db)
    rows = db.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    db.execute("DELETE FROM audit_log")
    prev = "0" * 64
    forged = [rows[0], (2, rows[0][1], "sato", "login.ok", None, "x", "{}")] + [
        (r[0] + 1, *r[1:7]) for r in rows[1:]
    ]
    for row in forged:
        fields = (*row[:7], prev)
        mac = hashlib.sha256(json.dumps(list(fields)).encode()).hexdigest()
        db.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [*fields, mac])
        prev = mac
    problems = verified(log_file).problems
    assert any("seq 1: its content does not match" in p for p in problems)
    assert len(problems) >= 6


def test_another_key_does_not_verify(log_file):
    assert not verified(log_file, audit_key(b"another-secret-of-enough-length-000000")).ok


def test_entries_never_hold_a_number_and_store_utc(db, log_file):
    rows = db.execute("SELECT at, resident_id FROM audit_log").fetchall()
    assert all(at.endswith("+00:00") for at, _ in rows)
    with pytest.raises(ValueError):  # actions look like thing.done
        in_store(log_file, lambda work: Audit(work.audit, NOW).record("sato", "Reply sent"))


def test_bot_audit_verify_exits_1_on_a_changed_log(tmp_path):
    env = {
        "BOT_DB": str(tmp_path / "bot.db"),
        "BOT_SECRET_KEY": SECRET.decode(),
        "PATH": "/usr/bin:/bin",
    }
    run = [sys.executable, "-m", "bot.cli"]
    made = subprocess.run(
        [*run, "staff", "add", "sato", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip()
    assert len(password) == 19 and password.count("-") == 3
    ok = subprocess.run(
        [*run, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0 and "audit log OK: 1 entries" in ok.stdout
    database = sqlite_utils.Database(sqlite3.connect(tmp_path / "bot.db", isolation_level=None))
    unprotect(database)
    database.execute('UPDATE audit_log SET detail = \'{"role":"operator"}\' WHERE seq = 1')
    database.close()
    bad = subprocess.run(
        [*run, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert "seq 1: its content does not match its MAC (edited)" in bad.stdout


# ---- admins read and export it ---------------------------------------------------------------


async def test_admins_read_filter_and_export_the_log(client, clock):
    admin = await make_account(client.app, "kanri", Role.ADMIN)
    signed = await sign_in(client, admin, clock)
    body = await (await signed.get("/staff/api/audit")).json()
    actions = [e["action"] for e in body["entries"]]
    assert actions[:2] == ["login.ok", "login.ok"] and "account.created" in actions
    assert body["entries"][0]["at"].endswith("+09:00")  # shown in JST
    assert body["labels"]["login.ok"] == "ログイン"

    only = await (await signed.get("/staff/api/audit", params={"action": "account."})).json()
    assert {e["action"] for e in only["entries"]} == {"account.created"}
    # Reading the log was itself recorded.
    again = await (await signed.get("/staff/api/audit", params={"action": "audit."})).json()
    assert [e["action"] for e in again["entries"]] == ["audit.viewed", "audit.viewed"]

    export = await signed.get("/staff/api/audit/export.csv")
    assert export.status == 200 and export.content_type == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO((await export.text()).lstrip("\ufeff"))))
    assert table[0][:5] == ["seq", "at_jst", "at_utc", "actor", "action"]
    assert [row[4] for row in table[1:3]] == ["account.created", "login.ok"]

    verified = await (await signed.post("/staff/api/audit/verify")).json()
    assert verified["ok"] is True and verified["checked"] >= 5


async def test_csv_cells_cannot_become_formulas():
    from bot.audit import AuditEntry, to_csv

    entry = AuditEntry(1, NOW, '=HYPERLINK("x")', "login.failed", None, "@sum", {})
    text = to_csv([entry])
    assert "'=HYPERLINK" in text and "'@sum" in text
