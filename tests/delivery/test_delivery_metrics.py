"""The real app counts what delivery did, per provider and outcome, on /metrics."""

from __future__ import annotations

import asyncio

from bot.app import create_app
from tests.fakes import twilio as ftw
from tests.fakes.base import Scripted
from tests.fakes.fixtures import PUBLIC_URL
from tests.foundation.helpers import settings_for

RESIDENT = "+819012345678"


async def test_sent_and_failed_sends_are_counted(aiohttp_client, tmp_path, fake_twilio) -> None:
    env = {
        "BOT_PUBLIC_URL": PUBLIC_URL,
        "BOT_TWILIO_ACCOUNT_SID": ftw.ACCOUNT_SID,
        "BOT_TWILIO_AUTH_TOKEN": ftw.AUTH_TOKEN,
        "BOT_TWILIO_FROM": ftw.FROM,
        "BOT_TWILIO_API_BASE": fake_twilio.url,
    }
    client = await aiohttp_client(create_app(settings_for(tmp_path, env_vars=env)))
    # The first send is refused for good (a 400 other than opt-out), the second goes through.
    fake_twilio.script.append(Scripted(400, {"code": 21211, "message": "Invalid 'To'"}))

    async def text(sid: str, body: str) -> None:
        form, signature = ftw.sign_form(
            PUBLIC_URL + "/webhooks/twilio/sms", ftw.inbound_params(sid, RESIDENT, body)
        )
        headers = {
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        response = await client.post("/webhooks/twilio/sms", data=form, headers=headers)
        assert response.status == 200

    async def metric(name: str) -> float:
        body = await (await client.get("/metrics")).text()
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    async def reaches(name: str, value: float) -> float:
        """Poll /metrics (delivery is asynchronous) until the counter reaches `value`."""
        for _ in range(100):
            current = await metric(name)
            if current >= value:
                return current
            await asyncio.sleep(0.05)
        return await metric(name)

    failed = 'bot_delivery_total{outcome="failed",provider="twilio"}'
    sent = 'bot_delivery_total{outcome="sent",provider="twilio"}'
    await text("SM" + "a" * 32, "こんにちは")
    assert await reaches(failed, 1.0) == 1.0
    assert await metric(sent) == 0.0
    await text("SM" + "b" * 32, "ありがとう")
    assert await reaches(sent, 1.0) >= 1.0
    assert len(fake_twilio.delivered()) >= 1
