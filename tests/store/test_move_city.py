"""`bot migrate --from var/bot.db --to postgresql://…`: a city built by the real bot in
SQLite (a booking, its reminder timer, conversations, a message for staff) arrives in
PostgreSQL row for row — encrypted numbers intact — and the bot goes on from there; a
second run refuses the (now full) target and changes nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.audit import AuditChain, verify
from bot.city import build_responder
from bot.cli import main
from bot.clock import TOKYO, FrozenClock
from bot.identity import TextVault
from bot.local import LocalBot
from bot.store import open_store
from bot.store.codec import Codec
from bot.store.records import NewAuditEntry
from tests.support.db import Peek

ROOT = Path(__file__).resolve().parents[2]
BOOKING = ["粗大ごみを出したい", "扇風機", "西町", "1", "はい"]


def _norm(value):
    """One form for a value from either database (times as UTC text, flags as 0/1,
    JSON as parsed values)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), ensure_ascii=False, sort_keys=True)
        except ValueError:
            return value
    return str(value) if value is not None and not isinstance(value, int | bytes) else value


def _staff_work(path: Path, chain: AuditChain, texts: TextVault, now) -> None:
    """An account (its sealed TOTP secret is bytes) and two audit entries."""

    async def write() -> None:
        store = open_store(path, texts, audit=chain)
        await store.open()
        try:

            def work(w) -> None:
                made = w.accounts.add("yamada", "admin", "argon2-hash", now, now)
                w.accounts.set_totp(made.id, b"sealed-secret", True, now)
                w.audit.append(NewAuditEntry(now, "cli:root", "account.created", subject="1"))
                w.audit.append(NewAuditEntry(now, "yamada", "login.ok"))

            await store.console.write(work)
        finally:
            await store.close()

    asyncio.run(write())


def test_a_city_moves_to_postgresql_whole_and_once(tmp_path, pg_server, capsys):
    source = tmp_path / "bot.db"
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))
    bot = LocalBot(build_responder(ROOT / "flows", clock), clock, ROOT / "flows", source)
    vault = bot.vault
    for text in BOOKING:
        bot.send("+819011112222", text)
    bot.send("+819033334444", "こんにちは")
    bot.send("+819055556666", "担当者と話したい")
    bot.send("+819077778888", "粗大ごみを出したい")  # mid-way: a conversation is stored
    bot.close()
    chain = AuditChain.from_secret(b"k" * 40)
    _staff_work(source, chain, vault.texts, clock.now())
    target = pg_server.database()

    assert main(["migrate", "--from", str(source), "--to", target]) == 0
    assert "moved" in capsys.readouterr().out

    lite = sqlite3.connect(source)
    pg = Peek(target)
    tables = [
        name
        for (name,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in ("store_migrations", "schema_migrations") and not name.startswith("sqlite_")
    ]
    assert {"residents", "inbox", "outbox", "conversations", "timers", "bookings"} <= set(tables)
    for table in tables:
        columns = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
        listed = ", ".join(columns)
        want = [
            tuple(map(_norm, row))
            for row in lite.execute(f"SELECT {listed} FROM {table} ORDER BY 1")
        ]
        got = [tuple(map(_norm, row)) for row in pg(f"SELECT {listed} FROM {table} ORDER BY 1")]
        assert got == want, table
    assert lite.execute("SELECT count(*) FROM bookings").fetchone()[0] == 1
    stored = lite.execute("SELECT resident_id, state FROM conversations").fetchall()
    (phone,) = pg(
        "SELECT phone_enc FROM residents WHERE id = ?", [vault.resident_id("+819011112222")]
    )[0]
    assert vault.decrypt(bytes(phone)) == "+819011112222"
    lite_cases = sorted(
        r
        for (r,) in lite.execute(
            "SELECT id FROM residents WHERE handoff = 1 OR id IN "
            "(SELECT resident_id FROM staff_notes WHERE seen = 0)"
        )
    )
    lite.close()

    # Again: refused (exit 2, one line), and nothing doubled.
    counts = {t: pg.one(f"SELECT count(*) FROM {t}") for t in tables}
    assert main(["migrate", "--from", str(source), "--to", target]) == 2
    assert "already holds a city" in capsys.readouterr().err
    assert {t: pg.one(f"SELECT count(*) FROM {t}") for t in tables} == counts

    # The bot goes on in PostgreSQL: the resident's conversation, and new ids after the old.
    async def read() -> tuple:
        store = open_store(target, vault.texts, audit=chain)
        await store.open()
        try:
            states = [await store.conversation(rid) for rid, _ in stored]
            since, notes = await store.staff.handoff_notes()
            checked = await store.console.read(lambda w: verify(w.audit, chain))
            account = await store.console.read(lambda w: w.accounts.by_name("yamada"))
            return states, sorted(set(since) | {n.resident_id for n in notes}), checked, account
        finally:
            await store.close()

    states, cases, checked, account = asyncio.run(read())
    opened = Codec(vault.texts)  # the conversations rest sealed in either database
    assert stored and states == [opened.open_obj(json.loads(state)) for _, state in stored]
    assert cases == lite_cases  # the staff desk shows the same cases as before the move
    assert checked.ok and checked.checked == 2, checked.problems  # the audit chain, intact
    assert account is not None and account.totp_secret == b"sealed-secret"
    last = pg.one("SELECT max(id) FROM inbox")
    pg(
        "INSERT INTO inbox (provider, provider_message_id, resident_id, channel, received_at) VALUES ('x', 'y', 'z', 'sms', now())"
    )
    assert pg.one("SELECT max(id) FROM inbox") == last + 1
    pg.close()


def test_moving_needs_a_postgresql_target_and_a_source(tmp_path, capsys):
    assert main(["migrate", "--from", str(tmp_path / "none.db"), "--to", "postgresql://x/y"]) == 2
    assert (
        main(["migrate", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "b.db")]) == 2
    )
    assert main(["migrate", "--from", str(tmp_path / "none.db")]) == 2
    err = capsys.readouterr().err
    assert "no SQLite database" in err and "postgresql:// URL" in err and "go together" in err


def test_migrate_brings_a_database_up_to_date_once(tmp_path, capsys):
    db = tmp_path / "bot.db"
    assert main(["migrate", "--db", str(db)]) == 0
    assert "applied pipeline:core tables" in capsys.readouterr().out
    assert main(["migrate", "--db", str(db)]) == 0
    assert "schema up to date" in capsys.readouterr().out


def test_an_unreachable_server_is_one_line_and_exit_2(capsys):
    assert main(["migrate", "--db", "postgresql://bot:bot@127.0.0.1:1/nowhere"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bot: PostgreSQL refused a migration")


def test_a_city_from_before_sealing_arrives_sealed(tmp_path, pg_server, monkeypatch, capsys):
    """A SQLite file no sealing version has opened holds texts in clear: the move seals them
    on the way with the city's key, and refuses (exit 2, one line) without one rather than
    copy clear text."""
    from tests.foundation.helpers import SECRET
    from tests.store.test_sealing import BOB, CLEAR, _plain_database

    source = tmp_path / "bot.db"
    _plain_database(source)
    target = pg_server.database()
    monkeypatch.delenv("BOT_SECRET_KEY", raising=False)
    assert main(["migrate", "--from", str(source), "--to", target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not encrypted yet" in err[0]

    monkeypatch.setenv("BOT_SECRET_KEY", SECRET.decode())
    assert main(["migrate", "--from", str(source), "--to", target]) == 0
    pg = Peek(target)
    try:
        tables = [r[0] for r in pg("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        raw = "".join(str(pg(f"SELECT t::text FROM {t} t")) for t in tables)
    finally:
        pg.close()
    assert "sim" in raw  # the check sees what is stored in clear (a provider's name)
    assert [text for text in CLEAR if text in raw] == []

    async def read() -> tuple:
        store = open_store(target, TextVault(SECRET))
        await store.open()
        try:
            return await store.conversation(BOB), [m.text for m in await store.sent_to(BOB)]
        finally:
            await store.close()

    state, sent = asyncio.run(read())
    assert state == {"slots": {"name": "山田太郎"}}
    assert any("山田太郎です。電話は090-1234-5678です" in text for text in sent)


def test_serve_with_no_server_there_says_so_in_one_line_at_once(tmp_path):
    """No pool retrying for its timeout with a warning per try, no 'listening' banner."""
    import subprocess
    import sys

    from tests.foundation.helpers import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0",
         "--db", "postgresql://bot:bot@127.0.0.1:1/nowhere", "--flows", str(ROOT / "flows")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "listening" not in result.stdout
    err = result.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("bot: cannot connect to PostgreSQL 127.0.0.1:1/")
