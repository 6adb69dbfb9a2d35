"""SIGKILL `bot serve` while residents text it through signed Twilio webhooks; after a restart
every acknowledged message is processed once and its reply reaches the fake Twilio."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime

import aiohttp
import pytest

from bot.delivery.render import idempotency_key
from bot.store.records import OutboxItem
from tests.fakes import twilio as ftw
from tests.fakes.twilio import FakeTwilio
from tests.support.db import Peek
from tests.support.server import free_port, start_server, wait_healthy

pytestmark = pytest.mark.slow
PUBLIC = "https://bot.city.example.jp"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "bot.db")
    return request.getfixturevalue("pg_url")


def _start(database: str, port: int, api_base: str) -> subprocess.Popen:
    return start_server(
        port,
        BOT_DB=database,
        BOT_SECRET_KEY="k" * 40,
        BOT_PUBLIC_URL=PUBLIC,
        BOT_TWILIO_ACCOUNT_SID=ftw.ACCOUNT_SID,
        BOT_TWILIO_AUTH_TOKEN=ftw.AUTH_TOKEN,
        BOT_TWILIO_FROM=ftw.FROM,
        BOT_TWILIO_API_BASE=api_base,
        BOT_INBOUND_PER_MINUTE="1000",
        BOT_SEND_RATE="200",
    )


def _rows(database: str, sql: str) -> list[dict]:
    peek = Peek(database)
    try:
        cur = peek.conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        peek.close()


def _item(row: dict) -> OutboxItem:
    """An outbox row as the delivery worker gets it (the key is computed from it)."""
    return OutboxItem(
        id=row["id"],
        resident_id=row["resident_id"],
        provider=row["provider"],
        channel=row["channel"],
        kind=row["kind"],
        text=row["text"],
        suggestions=[],
        created_at=row["created_at"]
        if isinstance(row["created_at"], datetime)
        else datetime.fromisoformat(row["created_at"]),
        attempts=row["attempts"],
        idempotency_key=row["idempotency_key"],
    )


async def test_no_acknowledged_message_lost_on_sigkill(database: str) -> None:
    fake = await FakeTwilio().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(database, port, fake.url)
    acked: set[str] = set()
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(base)
            killed = asyncio.Event()

            async def resident(n: int) -> None:
                for i in range(200):
                    if killed.is_set():
                        return
                    sid = f"SM{n:04d}{i:028d}"
                    params = ftw.inbound_params(sid, f"+8190{n:08d}", f"こんにちは {i}")
                    body, sig = ftw.sign_form(PUBLIC + "/webhooks/twilio/sms", params)
                    headers = {
                        "X-Twilio-Signature": sig,
                        "Content-Type": "application/x-www-form-urlencoded",
                    }
                    try:
                        async with session.post(
                            f"{base}/webhooks/twilio/sms", data=body, headers=headers
                        ) as response:
                            if response.status == 200:
                                acked.add(sid)
                    except aiohttp.ClientError:
                        return

            async def killer() -> None:
                while len(acked) < 80:
                    await asyncio.sleep(0.01)
                server.send_signal(signal.SIGKILL)
                killed.set()

            await asyncio.wait_for(
                asyncio.gather(killer(), *(resident(n) for n in range(10))), timeout=60
            )
            server.wait(timeout=10)
            sends_before_restart = len(fake.delivered())
            server = _start(database, port, fake.url)
            await wait_healthy(base)

            db_path = database

            def settled() -> bool:
                pending = _rows(db_path, "SELECT id FROM inbox WHERE status = 'pending'")
                rows = _rows(db_path, "SELECT status FROM outbox")
                return (
                    not pending
                    and bool(rows)
                    and all(r["status"] not in ("pending", "sending") for r in rows)
                )

            deadline = time.monotonic() + 60
            while not settled():
                assert time.monotonic() < deadline, "outbox did not drain"
                await asyncio.sleep(0.1)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        await fake.close()

    inbox = _rows(db_path, "SELECT id, provider_message_id, status FROM inbox")
    stored = {r["provider_message_id"]: r for r in inbox}
    assert acked <= set(stored), "an acknowledged message was lost"
    not_done = {sid: stored[sid]["status"] for sid in acked if stored[sid]["status"] != "done"}
    assert not not_done, not_done
    outbox = _rows(db_path, "SELECT * FROM outbox")
    by_inbox = Counter(r["inbox_id"] for r in outbox)
    assert all(by_inbox[stored[sid]["id"]] >= 1 for sid in acked), "a message got no reply"
    assert all(r["status"] in ("sent", "delivered", "read") for r in outbox)
    tokens = Counter(r.headers["I-Twilio-Idempotency-Token"] for r in fake.delivered())
    for row in outbox:  # every reply reached Twilio; at most a few twice (in flight at the kill)
        key = idempotency_key(_item(row))
        assert any(t == key or t.startswith(key + "-p") for t in tokens), row["id"]
    duplicates = sum(n - 1 for n in tokens.values())
    print(f"acked={len(acked)} stored={len(stored)} replies={len(outbox)} duplicates={duplicates}")
    assert duplicates <= 1, (duplicates, sends_before_restart)  # one kill: at most one
