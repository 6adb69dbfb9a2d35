"""1,100 slow clients against `bot serve` limited to 1,024 open files (`ulimit -n 1024`):
every real webhook is still answered, every slow client is closed, and the log stays small.

Before: 1,100 slow clients made every real webhook time out (0 of 30 answered within 10 s),
held their connections forever, and the accept errors wrote 1.3 GB of log in 5 minutes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.twilio import FakeTwilio
from tests.support.server import free_port, wait_healthy
from tests.support.slowclients import (
    raise_own_limit,
    server_env,
    signed_webhook,
    slow_body,
    slow_headers,
    start_limited,
    stop,
)

pytestmark = [pytest.mark.slow, pytest.mark.faults]
SLOW_CLIENTS = 1100  # more than the server can hold open
NOFILE = 1024


async def test_slow_clients_beyond_the_file_limit_do_not_starve_real_webhooks(
    tmp_path: Path,
) -> None:
    raise_own_limit(SLOW_CLIENTS + 300)
    fake = await FakeTwilio().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = server_env(tmp_path, fake.url, BOT_HEADER_TIMEOUT="3", BOT_BODY_TIMEOUT="3")
    server = start_limited(port, env, NOFILE, log_path)
    slow = []
    try:
        await wait_healthy(base)
        host = "127.0.0.1"
        slow = [
            (slow_body if n % 2 else slow_headers)(host, port, every=1.0).start()
            for n in range(SLOW_CLIENTS)
        ]
        await asyncio.sleep(1)  # let them connect and start trickling
        connector = aiohttp.TCPConnector(force_close=True)  # a provider's fresh connections
        async with aiohttp.ClientSession(connector=connector) as session:
            answers = []
            for n in range(30):
                sid, sender = f"SM{n:032x}", f"+8190{n:08d}"
                answers.append(await signed_webhook(session, base, sid, sender, timeout=10))
                await asyncio.sleep(0.1)
        deadline = time.monotonic() + 60
        while any(c.closed is None for c in slow) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        still_open = sum(1 for c in slow if c.closed is None)
    finally:
        for client in slow:
            await client.stop()
        stop(server)
        await fake.close()
    statuses = [status for status, _ in answers]
    assert statuses == [200] * 30, statuses
    assert still_open == 0, f"{still_open} slow clients still held after 60 s"
    assert log_path.stat().st_size < 1_000_000  # rate-limited: not megabytes a second
