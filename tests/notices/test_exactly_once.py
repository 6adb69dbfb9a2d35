"""Each resident gets a notice exactly once, whatever crashes: `bot serve` (a real subprocess)
is killed with SIGKILL while it fans an emergency notice out to 2,000 residents, restarted,
killed again while it sends them through the fake Twilio (real HTTP over loopback),
restarted, and every resident has the notice once. With PostgreSQL, two servers share the
database (each with its dispatcher and delivery worker) and one of them is killed.

What this branch cannot promise yet is one case: a send the provider accepted in the instant
before the kill, which the bot had not yet recorded (its row is still 'sending'). Those rows
are read from the database right after each kill; the test allows them a second copy, and
`test_in_flight_sends_are_reconciled_before_any_resend` (skipped) demands exactly once for
them too — it needs the in-flight reconcile with the provider's message list (branch
`harden`), and is to be switched on when that lands."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import argon2
import pytest

from bot.cli import main
from bot.identity import NumberVault
from bot.staff import accounts
from bot.store.sqlite.pipeline import utc_text
from tests.fakes import twilio as ftw
from tests.fakes.twilio import FakeTwilio
from tests.foundation.helpers import ROOT, SECRET
from tests.support.db import Peek
from tests.support.server import free_port, start_server, wait_healthy

pytestmark = pytest.mark.slow

RESIDENTS = 2000
PUBLIC = "https://bot.city.example.jp"
TEXT = "【さくら市】大雨警報が発表されました。避難所の情報は https://www.city.sakura.example.jp/bousai/ をご覧ください。"
NOTICE = f"""\
title: 大雨警報
category: emergency
topic: bousai
text: |
  {TEXT}
"""


def _numbers() -> list[str]:
    return [f"+8190{n:08d}" for n in range(RESIDENTS)]


def _seed(database: str) -> None:
    """2,000 residents who texted the bot once by SMS (numbers hashed and encrypted)."""
    vault = NumberVault(SECRET)
    peek = Peek(database)
    first = datetime(2026, 12, 1, tzinfo=UTC)
    stamp = first if peek.postgres else utc_text(first)
    rows = [
        (vault.resident_id(n), vault.encrypt(n), "twilio", "sms", stamp, stamp, True)
        for n in _numbers()
    ]
    sql = (
        "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
        "last_seen_at, notices_enabled) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    if peek.postgres:
        with peek.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)
    else:
        peek.conn.executemany(sql, rows)
    peek.close()


def _start(database: str, port: int, api_base: str) -> subprocess.Popen:
    return start_server(
        port,
        BOT_DB=database,
        BOT_SECRET_KEY=SECRET.decode(),
        BOT_FLOWS=str(ROOT / "flows"),
        BOT_PUBLIC_URL=PUBLIC,
        BOT_TWILIO_ACCOUNT_SID=ftw.ACCOUNT_SID,
        BOT_TWILIO_AUTH_TOKEN=ftw.AUTH_TOKEN,
        BOT_TWILIO_FROM=ftw.FROM,
        BOT_TWILIO_API_BASE=api_base,
        BOT_SIMULATOR="0",
        BOT_SEND_RATE="250",  # 2,000 sends take 8 s: room to kill in the middle
        BOT_NOTICE_BATCH="20",
        BOT_NOTICE_FANOUT_RATE="300",  # the fan-out takes about 7 s: the same
    )


def _kill(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=20)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


async def _until(check, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.02)


async def _cli(*argv: str) -> None:
    code = await asyncio.to_thread(main, list(argv))
    assert code == 0, argv


async def _run_with_two_kills(database: str, tmp_path: Path) -> tuple[Counter[str], set[str]]:
    """The notice sent through two SIGKILLs: (copies the fake Twilio accepted per number,
    the numbers whose send was in flight — claimed, not recorded — at a kill)."""
    await _cli("staff", "add", "kiki", "--role", "approver")  # makes the database too
    _seed(database)
    notice_file = tmp_path / "notice.yaml"
    notice_file.write_text(NOTICE, encoding="utf-8")
    peek = Peek(database)
    fake = await FakeTwilio().start()
    port = free_port()
    server = _start(database, port, fake.url)
    in_flight: set[str] = set()
    vault = NumberVault(SECRET)
    by_id = {vault.resident_id(n): n for n in _numbers()}

    def sending() -> set[str]:
        rows = peek("SELECT resident_id FROM outbox WHERE status = 'sending'")
        return {by_id[rid] for (rid,) in rows}

    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        await _cli("notices", "create", str(notice_file), "--by", "kiki")
        notice_id = peek.one("SELECT id FROM notices")  # the only one
        await _cli("notices", "approve", notice_id, "--by", "kiki")

        # Kill 1: while the fan-out is queueing residents.
        def queued() -> int:
            return int(peek.one("SELECT queued_total FROM notices WHERE id = ?", [notice_id]))

        await _until(lambda: queued() >= 300, "the fan-out began")
        _kill(server)
        assert queued() < RESIDENTS, "the fan-out had finished: the kill came too late"
        assert not peek.one("SELECT fanout_done FROM notices WHERE id = ?", [notice_id])
        in_flight |= sending()

        # Kill 2: while the notice is being sent (the fan-out finished after the restart).
        server = _start(database, port, fake.url)
        await _until(lambda: len(fake.delivered()) >= 800, "sends resumed")
        _kill(server)
        done = peek.one(
            "SELECT count(*) FROM outbox WHERE notice_id = ? AND status = 'sent'", [notice_id]
        )
        assert done < RESIDENTS, "every send was done: the kill came too late"
        in_flight |= sending()

        server = _start(database, port, fake.url)

        def finished() -> bool:
            left = peek.one(
                "SELECT count(*) FROM outbox WHERE notice_id = ? "
                "AND status IN ('pending', 'sending')",
                [notice_id],
            )
            state = peek.one("SELECT state FROM notices WHERE id = ?", [notice_id])
            return left == 0 and state == "sent"

        await _until(finished, "the notice was sent to everyone")
        rows = peek(
            "SELECT resident_id, status FROM outbox WHERE notice_id = ? AND kind = 'notice'",
            [notice_id],
        )
        assert len(rows) == RESIDENTS and {rid for rid, _ in rows} == set(by_id)
        assert {status for _, status in rows} == {"sent"}
    finally:
        _stop(server)
        await fake.close()
        peek.close()
    copies = Counter(r.data["To"] for r in fake.delivered() if r.data.get("Body") == TEXT)
    return copies, in_flight


@pytest.fixture
def database(location, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BOT_DB", str(location))
    monkeypatch.setenv("BOT_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("BOT_FLOWS", str(ROOT / "flows"))
    monkeypatch.setattr(accounts, "HASH_PROFILE", argon2.profiles.CHEAPEST)
    return str(location)


async def test_two_kills_and_everyone_has_the_notice_once(database: str, tmp_path: Path) -> None:
    copies, in_flight = await _run_with_two_kills(database, tmp_path)
    numbers = set(_numbers())
    assert set(copies) == numbers, f"{len(numbers - set(copies))} residents got nothing"
    twice = {number for number, n in copies.items() if n > 1}
    # Nobody got it twice but where a send was in flight at a kill (see the module's note).
    assert twice <= in_flight, sorted(twice - in_flight)[:5]
    assert all(n <= 2 for n in copies.values())
    print(f"in flight at the kills: {len(in_flight)}; sent twice: {len(twice)}")


@pytest.mark.skip(
    reason="needs the in-flight reconcile with the provider's message list (branch harden): "
    "switch on after that merge"
)
async def test_in_flight_sends_are_reconciled_before_any_resend(
    database: str, tmp_path: Path
) -> None:
    copies, _ = await _run_with_two_kills(database, tmp_path)
    assert set(copies) == set(_numbers())
    assert all(n == 1 for n in copies.values()), Counter(copies.values())


async def test_two_servers_on_one_database_send_it_once(pg_url: str, monkeypatch, tmp_path) -> None:
    """Two `bot serve` processes on one PostgreSQL database (the contract: any number may
    share it) each run a dispatcher and a delivery worker: the notice goes to everyone once.
    One is SIGKILLed while sending; the other takes its rows over once its lease runs out."""
    monkeypatch.setenv("BOT_DB", pg_url)
    monkeypatch.setenv("BOT_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("BOT_FLOWS", str(ROOT / "flows"))
    monkeypatch.setattr(accounts, "HASH_PROFILE", argon2.profiles.CHEAPEST)
    await _cli("staff", "add", "kiki", "--role", "approver")
    _seed(pg_url)
    notice_file = tmp_path / "notice.yaml"
    notice_file.write_text(NOTICE, encoding="utf-8")
    peek = Peek(pg_url)
    fake = await FakeTwilio().start()
    ports = [free_port(), free_port()]
    servers = [_start(pg_url, port, fake.url) for port in ports]
    vault = NumberVault(SECRET)
    by_id = {vault.resident_id(n): n for n in _numbers()}
    try:
        for port in ports:
            await wait_healthy(f"http://127.0.0.1:{port}")
        await _cli("notices", "create", str(notice_file), "--by", "kiki")
        notice_id = peek.one("SELECT id FROM notices")
        await _cli("notices", "approve", notice_id, "--by", "kiki")
        await _until(lambda: len(fake.delivered()) >= 600, "sending")
        _kill(servers[0])
        # Being sent at the kill (by either server): only these may reach a phone twice.
        in_flight = {
            by_id[rid] for (rid,) in peek("SELECT resident_id FROM outbox WHERE status = 'sending'")
        }

        def finished() -> bool:
            left = peek.one(
                "SELECT count(*) FROM outbox WHERE notice_id = ? "
                "AND status IN ('pending', 'sending')",
                [notice_id],
            )
            state = peek.one("SELECT state FROM notices WHERE id = ?", [notice_id])
            return left == 0 and state == "sent"

        await _until(finished, "the survivor sent the rest")
        rows = peek("SELECT resident_id FROM outbox WHERE notice_id = ?", [notice_id])
        assert sorted(rid for (rid,) in rows) == sorted(by_id)  # one row each
    finally:
        for server in servers:
            _stop(server)
        await fake.close()
        peek.close()
    copies = Counter(r.data["To"] for r in fake.delivered() if r.data.get("Body") == TEXT)
    assert set(copies) == set(_numbers())
    twice = {number for number, n in copies.items() if n > 1}
    assert twice <= in_flight, sorted(twice - in_flight)[:5]
    print(f"in flight at the kill: {len(in_flight)}; sent twice: {len(twice)}")
