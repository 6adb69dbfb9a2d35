"""Each resident gets a notice exactly once, whatever crashes: `bot serve` (a real subprocess)
is killed with SIGKILL while it fans an emergency notice out to 2,000 residents, restarted,
killed again while it sends them through the fake Twilio (real HTTP over loopback),
restarted, and every resident has the notice once. With PostgreSQL, two servers share the
database (each with its dispatcher and delivery worker) and one of them is killed.

The hard case is a send the provider accepted in the instant before the kill, which the bot
had not yet recorded (its row still 'sending'). The restarted server (SQLite: at start-up;
PostgreSQL: once the dead process's lease ends) takes such rows back in doubt and looks each
up in Twilio's message list before sending (Channel.reconcile): it records the send it finds
instead of repeating it. `test_in_flight_sends_are_reconciled_before_any_resend` makes that
case happen for certain: from the 800th send on, the fake Twilio accepts each send and then
holds its answer, and the bot is killed while it waits."""

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


async def _run_with_two_kills(
    database: str, tmp_path: Path, hold_answers: bool = False
) -> tuple[Counter[str], set[str], set[str]]:
    """The notice sent through two SIGKILLs: (copies the fake Twilio accepted per number,
    the numbers whose send was in flight — claimed, not recorded — at a kill, the numbers
    whose send Twilio had accepted but the bot had not recorded at the second kill).
    `hold_answers`: the second kill comes while Twilio holds the answers to sends it has
    accepted (so that last set is never empty)."""
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
        if hold_answers:
            fake.answer_held_after = 800
        server = _start(database, port, fake.url)
        await _until(lambda: len(fake.delivered()) >= 800, "sends resumed")
        if hold_answers:
            await _until(lambda: len(fake.messages) > 800, "a send accepted, its answer held")
        _kill(server)
        accepted = {message["to"] for message in fake.messages[800:]}
        if hold_answers:
            assert accepted, "no send was accepted and held at the kill"
            fake.answer_held_after = None
            fake.release.set()
        unrecorded = {
            by_id[rid]
            for (rid,) in peek(
                "SELECT resident_id FROM outbox WHERE notice_id = ? AND status != 'sent'",
                [notice_id],
            )
        }
        accepted &= unrecorded  # Twilio has them; the bot has not recorded them
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
    return copies, in_flight, accepted


@pytest.fixture
def database(location, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BOT_DB", str(location))
    monkeypatch.setenv("BOT_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("BOT_FLOWS", str(ROOT / "flows"))
    monkeypatch.setattr(accounts, "HASH_PROFILE", argon2.profiles.CHEAPEST)
    return str(location)


def _exactly_once(copies: Counter[str]) -> set[str]:
    """Everyone has it; returns who has it more than once (to assert empty, and print)."""
    numbers = set(_numbers())
    assert set(copies) == numbers, f"{len(numbers - set(copies))} residents got nothing"
    return {number for number, n in copies.items() if n > 1}


async def test_two_kills_and_everyone_has_the_notice_once(database: str, tmp_path: Path) -> None:
    copies, in_flight, _ = await _run_with_two_kills(database, tmp_path)
    twice = _exactly_once(copies)
    print(f"in flight at the kills: {len(in_flight)}; sent twice: {len(twice)}")
    assert twice == set(), Counter(copies.values())


async def test_in_flight_sends_are_reconciled_before_any_resend(
    database: str, tmp_path: Path
) -> None:
    copies, in_flight, accepted = await _run_with_two_kills(database, tmp_path, True)
    twice = _exactly_once(copies)
    print(
        f"in flight at the kills: {len(in_flight)}; accepted by Twilio, unrecorded: "
        f"{len(accepted)}; sent twice: {len(twice)}"
    )
    assert accepted, "Twilio had no send the bot had not recorded: the case was not made"
    assert twice == set(), Counter(copies.values())


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
        # Being sent at the kill (by either server): the survivor reconciles the dead one's.
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
    twice = _exactly_once(copies)
    print(f"in flight at the kill: {len(in_flight)}; sent twice: {len(twice)}")
    assert twice == set(), Counter(copies.values())
