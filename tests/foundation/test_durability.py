"""SIGKILL the real server while 20 residents text it; every acknowledged message must be
processed exactly once and answered after a restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import aiohttp
import pytest

from tests.support.db import Peek
from tests.support.server import free_port, start_server, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "bot.db")
    return request.getfixturevalue("pg_url")


def _start(database: str, port: int) -> subprocess.Popen:
    return start_server(
        port,
        BOT_DB=database,
        BOT_SECRET_KEY="k" * 40,
        BOT_SIM_WAIT_SECONDS="0",  # acknowledge as soon as the message is stored
    )


async def test_no_acknowledged_message_is_lost_on_sigkill(database):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(database, port)
    try:
        await wait_healthy(base)
        acked: set[str] = set()
        killed = asyncio.Event()

        async def resident(n: int, session: aiohttp.ClientSession) -> None:
            for i in range(1000):
                if killed.is_set():
                    return
                message_id = f"r{n}-m{i}"
                body = {
                    "from": f"+8190{n:08d}",
                    "text": f"ソファーを捨てたい {i}",
                    "id": message_id,
                }
                try:
                    async with session.post(f"{base}/sim/messages", json=body) as response:
                        if response.status in (200, 202):
                            acked.add(message_id)
                except aiohttp.ClientError:
                    return

        async def killer() -> None:
            while len(acked) < 150:
                await asyncio.sleep(0.01)
            server.send_signal(signal.SIGKILL)
            killed.set()

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(killer(), *(resident(n, session) for n in range(20)))
        server.wait(timeout=10)
        assert len(acked) >= 150

        server = _start(database, port)
        await wait_healthy(base)
        db = Peek(database)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.one("SELECT count(*) FROM inbox WHERE status = 'pending'") == 0:
                break
            await asyncio.sleep(0.1)
        rows = {
            message_id: (status, replies)
            for message_id, status, replies in db(
                "SELECT provider_message_id, status, "
                "(SELECT count(*) FROM outbox o WHERE o.inbox_id = i.id) FROM inbox i"
            )
        }
        db.close()
        missing = [m for m in acked if m not in rows]
        assert not missing, f"acknowledged but not stored: {missing[:5]}"
        assert all(rows[m][0] == "done" for m in acked)
        assert all(rows[m][1] >= 1 for m in acked), "an acknowledged message got no reply"
    finally:
        server.kill()
        server.wait(timeout=10)
