"""pytest fixtures shared by tests/channels and tests/delivery (imported by their conftests)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.settings import ChannelSettings, GatewaySettings, RcsSettings, TwilioSettings
from bot.clock import Clock
from bot.delivery import DeliveryDeps, run_delivery
from bot.pipeline.service import Pipeline

from . import gateway as fgw
from . import rcs as frcs
from . import twilio as ftw
from .gateway import FakeGateway
from .harness import EchoResponder, start_bot
from .rcs import FakeRcs
from .twilio import FakeTwilio

PUBLIC_URL = "https://bot.city.example.jp"


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio().start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_rcs() -> AsyncIterator[FakeRcs]:
    fake = await FakeRcs().start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_gateway() -> AsyncIterator[FakeGateway]:
    fake = await FakeGateway().start()
    yield fake
    await fake.close()


def settings_for(
    twilio: FakeTwilio | None = None,
    rcs: FakeRcs | None = None,
    gateway: FakeGateway | None = None,
    **extra: Any,
) -> ChannelSettings:
    rcs_timeout = extra.pop("rcs_timeout", 60.0)
    return ChannelSettings(
        public_url=PUBLIC_URL,
        twilio=TwilioSettings(ftw.ACCOUNT_SID, ftw.AUTH_TOKEN, ftw.FROM, twilio.url)
        if twilio
        else None,
        rcs=RcsSettings(rcs.url, frcs.AGENT_ID, frcs.CLIENT_TOKEN, frcs.TOKEN, rcs_timeout)
        if rcs
        else None,
        gateway=GatewaySettings(gateway.url, fgw.SECRET, fgw.TOKEN) if gateway else None,
        **extra,
    )


@dataclass
class Bot:
    url: str
    pipeline: Pipeline
    responder: EchoResponder
    db_path: Path
    session: aiohttp.ClientSession
    settings: ChannelSettings

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        db = sqlite3.connect(self.db_path)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    async def post_twilio(self, params: dict[str, str], path: str = "/webhooks/twilio/sms"):
        body, sig = ftw.sign_form(PUBLIC_URL + path, params)
        headers = {"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"}
        return await self.session.post(self.url + path, data=body, headers=headers)

    async def post_rcs(self, event: dict[str, Any]):
        body, sig = frcs.envelope(event)
        headers = {"X-Goog-Signature": sig, "Content-Type": "application/json"}
        return await self.session.post(self.url + "/webhooks/rcs", data=body, headers=headers)


async def make_bot(
    tmp_path: Path, cs: ChannelSettings, clock: Clock | None = None, deliver: bool = True
) -> AsyncIterator[Bot]:
    server, pipeline, responder = await start_bot(tmp_path, cs, clock)
    stop = asyncio.Event()
    task = None
    if deliver:
        deps = DeliveryDeps(
            pipeline.store.delivery, pipeline.vault, pipeline.clock, cs, pipeline.outbox_wake
        )
        task = asyncio.create_task(run_delivery(deps, stop))
    async with aiohttp.ClientSession() as session:
        url = str(server.make_url("")).rstrip("/")
        yield Bot(url, pipeline, responder, tmp_path / "bot.db", session, cs)
    stop.set()
    if task is not None:
        await asyncio.wait_for(task, 5)
    await server.close()
    await pipeline.stop()


@pytest.fixture
async def bot_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await bot_factory(settings, clock=None, deliver=True)` → a running Bot, torn down after."""
    generators: list[AsyncIterator[Bot]] = []

    async def start(cs: ChannelSettings, clock: Clock | None = None, deliver: bool = True) -> Bot:
        generator = make_bot(tmp_path, cs, clock, deliver)
        generators.append(generator)
        return await generator.__anext__()

    yield start
    for generator in reversed(generators):
        async for _ in generator:
            pass
