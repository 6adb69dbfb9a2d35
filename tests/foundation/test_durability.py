"""SIGKILL the real server while 20 residents text it; every acknowledged message must be
processed exactly once and answered after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.foundation.helpers import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(tmp_path: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        BOT_DB=str(tmp_path / "bot.db"),
        BOT_SECRET_KEY="k" * 40,
        BOT_SIM_WAIT_SECONDS="0",  # acknowledge as soon as the message is stored
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_healthy(base: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not become healthy")


async def test_no_acknowledged_message_is_lost_on_sigkill(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(tmp_path, port)
    try:
        await _wait_healthy(base, time.monotonic() + 60)
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

        server = _start(tmp_path, port)
        await _wait_healthy(base, time.monotonic() + 60)
        db = sqlite3.connect(tmp_path / "bot.db")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = db.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[
                0
            ]
            if pending == 0:
                break
            await asyncio.sleep(0.1)
        rows = {
            message_id: (status, replies)
            for message_id, status, replies in db.execute(
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
