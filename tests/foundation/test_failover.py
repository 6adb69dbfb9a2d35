"""Two `bot serve` processes share one PostgreSQL (two app servers behind a proxy); 50
residents text them through signed Twilio webhooks; one is killed with SIGKILL mid-load and
the residents carry on with the survivor (as the proxy would send them). Counted at the fake
Twilio: every acknowledged message is answered, none lost, none processed twice (a second
turn would send its replies under new idempotency keys); a reply the dead process had sent
but not recorded goes again under the same key (the provider shows it once)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections import defaultdict

import aiohttp
import pytest

from tests.fakes import twilio as ftw
from tests.fakes.twilio import FakeTwilio
from tests.support.db import Peek
from tests.support.server import free_port, start_server, wait_healthy

pytestmark = pytest.mark.slow
PUBLIC = "https://bot.city.example.jp"
RESIDENTS = 50
EACH = 10  # messages per resident, in a closed loop
KILL_AFTER = 150  # acknowledged messages before one server is killed
TOKEN = re.compile(r"^ob-(\d+)-(\d+)-([0-9a-f]+)(?:-p\d+)?$")


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
        BOT_INBOUND_PER_MINUTE="100000",
        BOT_INBOUND_PER_HOUR="100000",
        BOT_SEND_RATE="500",
    )


async def test_a_survivor_answers_every_acknowledged_message_exactly_once(pg_url) -> None:
    fake = await FakeTwilio().start()
    ports = [free_port(), free_port()]
    servers = [_start(pg_url, port, fake.url) for port in ports]
    victim, survivor = servers
    acked: dict[str, float] = {}
    killed_at = 0.0
    try:
        for port in ports:
            await wait_healthy(f"http://127.0.0.1:{port}")
        killed = asyncio.Event()

        async def resident(n: int, session: aiohttp.ClientSession) -> None:
            for i in range(EACH):
                sid = f"SM{n:04d}{i:028d}"
                params = ftw.inbound_params(sid, f"+8190{n:08d}", f"こんにちは {i}")
                body, sig = ftw.sign_form(PUBLIC + "/webhooks/twilio/sms", params)
                headers = {
                    "X-Twilio-Signature": sig,
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                for _ in range(3):  # the proxy's retry on the other server
                    port = ports[1] if killed.is_set() else ports[n % 2]
                    try:
                        async with session.post(
                            f"http://127.0.0.1:{port}/webhooks/twilio/sms",
                            data=body,
                            headers=headers,
                        ) as response:
                            if response.status == 200:
                                acked[sid] = time.monotonic()
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.05)

        async def killer() -> None:
            nonlocal killed_at
            while len(acked) < KILL_AFTER:
                await asyncio.sleep(0.005)
            victim.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            killed.set()

        async with aiohttp.ClientSession() as session:
            await asyncio.wait_for(
                asyncio.gather(killer(), *(resident(n, session) for n in range(RESIDENTS))),
                timeout=120,
            )
        victim.wait(timeout=10)

        peek = Peek(pg_url)
        try:
            deadline = time.monotonic() + 90
            while True:
                left = peek.one("SELECT count(*) FROM inbox WHERE status = 'pending'") + peek.one(
                    "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                )
                if left == 0:
                    break
                assert time.monotonic() < deadline, f"{left} rows still waiting"
                await asyncio.sleep(0.1)
            inbox = {
                sid: (inbox_id, status)
                for inbox_id, sid, status in peek(
                    "SELECT id, provider_message_id, status FROM inbox WHERE provider = 'twilio'"
                )
            }
            outbox = peek("SELECT inbox_id, idempotency_key, status FROM outbox")
        finally:
            peek.close()
    finally:
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
        await fake.close()

    # What the provider received, by the bot's reply (inbox id, index) and turn (salt).
    turns: dict[tuple[int, int], set[str]] = defaultdict(set)
    copies: dict[str, int] = defaultdict(int)
    first_seen: dict[int, float] = {}
    for request in fake.delivered():
        token = request.headers["I-Twilio-Idempotency-Token"]
        match = TOKEN.match(token)
        assert match, token
        inbox_id, index, salt = int(match[1]), int(match[2]), match[3]
        turns[(inbox_id, index)].add(salt)
        copies[token] += 1
        first_seen.setdefault(inbox_id, request.at)
    expected = defaultdict(int)
    for inbox_id, _key, status in outbox:
        assert status in ("sent", "delivered"), status
        expected[inbox_id] += 1
    lost = [sid for sid in acked if sid not in inbox or inbox[sid][1] != "done"]
    unanswered = [
        sid
        for sid in acked
        if sid in inbox
        and not all((inbox[sid][0], i) in turns for i in range(expected[inbox[sid][0]]))
    ]
    twice = [key for key, salts in turns.items() if len(salts) > 1]
    resent = sum(n - 1 for n in copies.values())
    before_kill = [inbox[s][0] for s, at in acked.items() if at < killed_at and s in inbox]
    takeover = max(first_seen.get(i, killed_at) for i in before_kill) - killed_at
    print(
        f"\nfailover: acked={len(acked)} answered={len(acked) - len(unanswered)} "
        f"lost={len(lost) + len(unanswered)} processed_twice={len(twice)} "
        f"resent_same_key={resent} all_answered_after_kill_s={takeover:.2f}"
    )
    assert len(acked) >= KILL_AFTER
    assert not lost, f"acknowledged but not processed: {lost[:5]}"
    assert not unanswered, f"acknowledged but never answered: {unanswered[:5]}"
    assert not twice, f"processed twice: {twice[:5]}"
