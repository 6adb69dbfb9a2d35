"""A typhoon-day crowd under attack: 6,000 residents text at once (a steady flood of
signed webhooks) while 1,000 slow clients hold connections against a server limited to
1,024 open files. Every message acknowledged is stored, processed and answered; the store
stays healthy; the slow clients are closed.

Before: the global inbound cap acknowledged and dropped half of the crowd (3,000 of 6,000
at 100 msg/s), and 1,100 slow clients made every real webhook time out."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.twilio import FakeTwilio
from tests.faults.harness import (
    Residents,
    Server,
    bot_env,
    check_nothing_lost,
    duplicates,
    number,
    settled,
    sid,
)
from tests.support.slowclients import SlowClient, limit_files, raise_own_limit, slow_headers

pytestmark = [pytest.mark.faults, pytest.mark.slow]
CROWD = 6_000  # distinct residents, one message each
RATE = 200.0  # messages a second offered (the probe: 100)
SLOW = 1_000  # slow clients held open throughout
FILES = 1_024  # the server's `ulimit -n`


async def test_a_crowd_of_6000_while_1000_slow_clients_attack(tmp_path: Path) -> None:
    raise_own_limit(SLOW + 2_000)
    fake = await FakeTwilio().start()
    db = tmp_path / "bot.db"
    env = bot_env(
        db,
        fake.url,
        # The city's real limits: one message per resident is far within them.
        BOT_INBOUND_PER_MINUTE="20",
        BOT_INBOUND_PER_HOUR="120",
        BOT_SEND_RATE="1000",
    )
    server = Server(env, tmp_path / "server.log", preexec=limit_files(FILES)).start()
    residents = Residents(server.base)
    flooding = asyncio.Event()
    slow: list[SlowClient] = []
    health: list[int | None] = []
    try:
        await server.healthy()
        flooding.set()

        async def attacker(index: int) -> None:
            """One slow client after another on this slot while the flood lasts."""
            while flooding.is_set():
                client = slow_headers("127.0.0.1", server.port, every=2.0).start()
                slow.append(client)
                while flooding.is_set() and client.closed is None:
                    await asyncio.sleep(0.5)
                await client.stop()
                await asyncio.sleep(0.1)

        async def watch_health() -> None:
            while flooding.is_set():
                status, _ = await server.health()
                health.append(status)
                await asyncio.sleep(1.0)

        attack = [asyncio.create_task(attacker(i)) for i in range(SLOW)]
        watcher = asyncio.create_task(watch_health())
        await asyncio.sleep(3.0)  # the slow clients in place first
        # A provider opens new connections and sends many at once.
        connector = aiohttp.TCPConnector(limit=100, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.monotonic()
            inflight: list[asyncio.Task] = []
            for n in range(CROWD):
                delay = started + n / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = "粗大ごみを出したい" if n % 2 else "保育園の空きを知りたい"
                inflight.append(
                    asyncio.create_task(residents.send(session, sid(n, 0), number(n), text))
                )
            await asyncio.gather(*inflight)
            offered = time.monotonic() - started
            flooding.clear()
            await asyncio.gather(*attack, watcher)
            await residents.retry_refused(session)  # anything refused is retried, as Twilio does
        await settled(db)
        check_nothing_lost(db, residents, fake)
        assert len(residents.acked) == CROWD
        assert {r.data["To"] for r in fake.delivered()} == {number(n) for n in range(CROWD)}
        assert duplicates(fake) == 0
        answered_health = [status for status in health if status is not None]
        assert answered_health and set(answered_health) == {200}, health
        closed = sum(1 for client in slow if client.closed is not None)
        metrics = await _metrics(server.base)
        assert 'bot_inbound_limited_total{limit="flood"} 0.0' in metrics
        print(
            f"crowd={CROWD} offered_in={offered:.0f}s acknowledged={len(residents.acked)} "
            f"first_try={dict(residents.statuses)} slow_clients={len(slow)} closed={closed} "
            f"health={dict((s, health.count(s)) for s in set(health))}"
        )
        assert closed >= SLOW  # every slot's client was closed at least once
    finally:
        flooding.clear()
        server.stop()
        await fake.close()


async def _metrics(base: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        return await response.text()
