"""Every body is read by the edge: under its route's cap (413) and within a deadline (408)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import create_app
from bot.channels import gateway, twilio
from bot.edge import EdgeLimits, install_edge, limit_body
from bot.metrics import Metrics
from tests.fakes import gateway as fgw
from tests.foundation.helpers import settings_for
from tests.support.metrics import refused
from tests.support.slowclients import head

NUMBER = "+819012340000"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    settings = settings_for(tmp_path)
    env = {
        "BOT_GATEWAY_API_BASE": "http://127.0.0.1:9",
        "BOT_GATEWAY_SECRET": fgw.SECRET,
        "BOT_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "BOT_TWILIO_AUTH_TOKEN": "token",
        "BOT_TWILIO_FROM": "+815012345678",
    }
    settings = settings.with_overrides(env_vars={**settings.env_vars, **env})
    return await aiohttp_client(create_app(settings))


async def test_each_route_has_its_own_cap(client):
    over_twilio = b"x" * (twilio.MAX_BODY_BYTES + 1)
    assert (await client.post(twilio.SMS_PATH, data=over_twilio)).status == 413
    # The gateway takes batches of up to 100 messages: the same size is read and checked
    # (then refused for its signature, not its size).
    batch = [
        {"message_id": f"g{n}", "from": f"+8190{n:08d}", "text": "あ" * 300} for n in range(100)
    ]
    body = json.dumps(batch).encode()
    assert twilio.MAX_BODY_BYTES < len(body) < 256 * 1024
    stamp = str(int(time.time()))
    headers = {"X-Timestamp": stamp, "X-Signature": gateway.sign(body, stamp, fgw.SECRET)}
    assert (await client.post(gateway.PATH, data=body, headers=headers)).status == 200
    # Staff routes have the default cap (the token is checked after the body is read).
    staff = await client.post("/staff/api/conversations/AB12/reply", data=b"{" + b" " * 70_000)
    assert staff.status == 413
    simulator = await client.post("/sim/messages", data=b" " * (200 * 1024))
    assert simulator.status == 413
    assert "too large" in (await simulator.json())["error"]
    text = await (await client.get("/metrics")).text()
    assert 'bot_http_rejected_total{reason="too_large"} 3.0' in text


async def test_a_body_without_content_length_is_capped_too(client):
    async def chunks():
        for _ in range(40):
            yield b"x" * 4096  # 160 KB, chunked: the cap is found while reading

    response = await client.post(twilio.SMS_PATH, data=chunks())
    assert response.status == 413


async def _echo_app(metrics: Metrics, body_timeout: float) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    install_edge(app, metrics, EdgeLimits(body_timeout=body_timeout))
    app.router.add_post("/echo", echo)
    limit_body(app, "/echo", 1000)
    return app


async def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes():
    """Before: `Content-Length: 100000` and one byte every 10 s held a connection forever."""
    metrics = Metrics()
    server = TestServer(await _echo_app(metrics, body_timeout=0.5), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(head("/echo", content_length=900))
        writer.write(b"a")
        answer = await asyncio.wait_for(reader.read(), timeout=30)  # until the server closes
        writer.close()
    finally:
        await server.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"Connection: close" in answer
    assert refused(metrics, "slow_body") == 1


async def test_a_body_in_time_is_handed_to_the_handler_whole():
    metrics = Metrics()
    server = TestServer(await _echo_app(metrics, body_timeout=30), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(head("/echo", content_length=6) + b"abc")
        await asyncio.sleep(0.05)
        writer.write(b"def")
        answer = await asyncio.wait_for(reader.read(4096), timeout=30)
        writer.close()
    finally:
        await server.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"abcdef")
    assert refused(metrics, "slow_body") == 0


async def test_answers_name_no_framework_or_python_version(client):
    for response in (
        await client.get("/healthz"),
        await client.post(twilio.SMS_PATH, data=b"x" * (twilio.MAX_BODY_BYTES + 1)),
        await client.get("/no/such/route"),
    ):
        assert response.headers["Server"] == "sakura-bot"
