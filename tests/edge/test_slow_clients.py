"""The connection guard over real loopback sockets: slow clients are closed in seconds, and at
the connection cap the client waiting longest makes room for a real request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot import server as guarded
from bot.app import create_app
from bot.edge import EdgeLimits, install_edge
from bot.metrics import METRICS, Metrics
from tests.foundation.helpers import settings_for
from tests.support.metrics import refused
from tests.support.slowclients import SlowClient, head

SAFETY = 30.0  # a test gives up waiting here; the limits under test are about 1 s


async def closed_in_time(client: SlowClient) -> float:
    """Seconds the server held `client` (the test fails if it is still open at SAFETY)."""
    client.start()
    deadline = time.monotonic() + SAFETY
    while client.closed is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await client.stop()
    assert client.held is not None, f"the server still held the connection after {SAFETY} s"
    return client.held


@pytest.fixture
async def bot(tmp_path) -> AsyncIterator[tuple[guarded.RunningServer, Metrics]]:
    settings = settings_for(tmp_path, header_timeout=1.0, body_timeout=1.0)
    app = create_app(settings)
    running = await guarded.start(app, "127.0.0.1", 0, EdgeLimits(1.0, 1.0, 75.0, 50))
    yield running, app[METRICS]
    await running.close()


async def test_slow_headers_are_closed_in_seconds_with_408(bot):
    """Before: the request line then one header byte at a time held a connection for
    aiohttp's keep-alive timeout (75 s under `bot serve`, an hour by default)."""
    running, metrics = bot
    client = SlowClient("127.0.0.1", running.port, b"POST /sim/messages HTTP/1.1\r\n",
                        b"X-Slow: 1\r\n" * 1000, every=0.2)  # fmt: skip
    held = await closed_in_time(client)
    assert client.answer.startswith(b"HTTP/1.1 408")
    assert held < SAFETY
    assert refused(metrics, "slow_headers") == 1


async def test_a_connection_that_sends_nothing_is_closed_quietly(bot):
    running, metrics = bot
    client = SlowClient("127.0.0.1", running.port, b"", b"", every=SAFETY)
    await closed_in_time(client)
    assert client.answer == b""
    assert refused(metrics, "slow_headers") == 1


async def test_a_slow_body_is_closed_in_seconds_with_408(bot):
    """Before: `Content-Length: 100000` and one byte every 10 s held a connection forever."""
    running, metrics = bot
    client = SlowClient("127.0.0.1", running.port, head("/sim/messages", 100_000),
                        b"a" * 100_000, every=0.2)  # fmt: skip
    await closed_in_time(client)
    assert client.answer.startswith(b"HTTP/1.1 408")
    assert refused(metrics, "slow_body") == 1


async def test_an_idle_keep_alive_connection_is_not_a_slow_client(bot):
    running, metrics = bot
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://127.0.0.1:{running.port}/healthz"
        async with session.get(url) as first:
            assert first.status == 200
        await asyncio.sleep(1.5)  # longer than the headers deadline, well within keep-alive
        async with session.get(url) as second:
            assert second.status == 200
        assert connector._conns
    assert refused(metrics, "slow_headers") == 0


async def test_at_the_cap_the_longest_waiting_client_makes_room(tmp_path):
    metrics = Metrics()
    app = web.Application()
    install_edge(app, metrics, EdgeLimits())

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/hello", hello)
    limits = EdgeLimits(header_timeout=SAFETY, max_connections=5)
    running = await guarded.start(app, "127.0.0.1", 0, limits)
    slow = []
    try:
        for _ in range(5):
            client = SlowClient("127.0.0.1", running.port, b"GET /hello HTTP/1.1\r\n",
                                b"X: y\r\n" * 1000, every=0.5).start()  # fmt: skip
            slow.append(client)
            while len(running.guard.open) < len(slow):
                await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(f"http://127.0.0.1:{running.port}/hello") as response:
                    assert response.status == 200
        for client in slow[:1]:
            while client.closed is None:
                await asyncio.sleep(0.01)
        assert slow[0].closed is not None  # the oldest went first
        assert all(client.closed is None for client in slow[2:])
        assert refused(metrics, "evicted") >= 1
    finally:
        for client in slow:
            await client.stop()
        await running.close()


async def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503():
    metrics = Metrics()
    app = web.Application()
    install_edge(app, metrics, EdgeLimits())
    release = asyncio.Event()
    entered = asyncio.Event()

    async def busy(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.json_response({"ok": True})

    app.router.add_get("/busy", busy)
    running = await guarded.start(app, "127.0.0.1", 0, EdgeLimits(max_connections=2))
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{running.port}/busy"
            held = [asyncio.create_task(session.get(url)) for _ in range(2)]
            while sum(c.phase is guarded.Phase.HANDLING for c in running.guard.open) < 2:
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
            answer = await asyncio.wait_for(reader.read(), timeout=SAFETY)
            writer.close()
            release.set()
            for task in held:
                assert (await task).status == 200  # the busy ones were never evicted
        assert answer.startswith(b"HTTP/1.1 503")
        assert refused(metrics, "at_capacity") == 1
        assert entered.is_set()
    finally:
        release.set()
        await running.close()
