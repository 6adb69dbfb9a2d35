"""Rich messages: suggestions as chips, and the same content by SMS when RCS cannot deliver."""

from __future__ import annotations

import asyncio

from tests.fakes import rcs as frcs
from tests.fakes.fixtures import eventually, settings_for

RESIDENT = "+819012345678"


def outbox(bot) -> list[tuple]:
    return bot.rows("SELECT provider, channel, status, error FROM outbox ORDER BY id")


async def test_rich_reply_carries_chips_and_a_fallback(bot_factory, fake_twilio, fake_rcs) -> None:
    fake_rcs.capable.add(RESIDENT)
    bot = await bot_factory(settings_for(fake_twilio, fake_rcs))
    assert (await bot.post_rcs(frcs.text_event(RESIDENT, "m1", "選択"))).status == 200
    await eventually(lambda: fake_rcs.accepted())
    sent = fake_rcs.accepted()[0]
    content = sent["body"]["contentMessage"]
    assert content["text"] == "どちらにしますか。"
    assert [s["reply"]["text"] for s in content["suggestions"]] == ["はい", "いいえ"]
    assert content["suggestions"][0]["reply"]["postbackData"] == "choice:はい"
    assert content["fallback"].endswith("1. はい\n2. いいえ")
    assert sent["agentId"] == frcs.AGENT_ID and sent["messageId"].startswith("ob-")
    assert fake_twilio.received == []
    # Read receipts move the row forward.
    await eventually(lambda: outbox(bot)[0][2] == "sent")
    assert (
        await bot.post_rcs(frcs.receipt_event(RESIDENT, sent["messageId"], "READ"))
    ).status == 200
    assert outbox(bot)[0][2] == "read"


async def test_not_rcs_capable_falls_back_to_sms(bot_factory, fake_twilio, fake_rcs) -> None:
    bot = await bot_factory(settings_for(fake_twilio, fake_rcs))  # RESIDENT not capable: 404
    assert (await bot.post_rcs(frcs.text_event(RESIDENT, "m2", "選択"))).status == 200
    await eventually(lambda: fake_twilio.delivered())
    assert fake_twilio.delivered()[0].data["Body"] == "どちらにしますか。\n1. はい\n2. いいえ"
    await eventually(lambda: outbox(bot)[0][:3] == ("twilio", "sms", "sent"))
    assert outbox(bot)[0][3].startswith("rcs_unavailable")
    assert len(fake_rcs.received) == 1


async def test_not_delivered_in_time_is_revoked_and_sent_by_sms(
    bot_factory, fake_twilio, fake_rcs
) -> None:
    fake_rcs.capable.add(RESIDENT)
    bot = await bot_factory(settings_for(fake_twilio, fake_rcs, rcs_timeout=0.3))
    assert (await bot.post_rcs(frcs.text_event(RESIDENT, "m3", "こんにちは"))).status == 200
    await eventually(lambda: fake_twilio.delivered(), timeout=6)
    assert fake_rcs.revoked == [fake_rcs.accepted()[0]["messageId"]]
    assert fake_twilio.delivered()[0].data["Body"] == "受け付けました: こんにちは"
    await eventually(lambda: outbox(bot)[0][:3] == ("twilio", "sms", "sent"))
    assert outbox(bot)[0][3] == "rcs_not_delivered_in_time"


async def test_delivered_in_time_is_not_sent_twice(bot_factory, fake_twilio, fake_rcs) -> None:
    fake_rcs.capable.add(RESIDENT)
    bot = await bot_factory(settings_for(fake_twilio, fake_rcs, rcs_timeout=0.5))
    assert (await bot.post_rcs(frcs.text_event(RESIDENT, "m4", "こんにちは"))).status == 200
    await eventually(lambda: outbox(bot) and outbox(bot)[0][2] == "sent")
    mid = fake_rcs.accepted()[0]["messageId"]
    fake_rcs.delivered_ids.add(mid)
    assert (await bot.post_rcs(frcs.receipt_event(RESIDENT, mid, "DELIVERED"))).status == 200
    await eventually(lambda: outbox(bot)[0][2] == "delivered")
    await asyncio.sleep(1.5)
    assert fake_twilio.received == [] and fake_rcs.revoked == []


async def test_an_sms_fallback_tried_again_keeps_its_key(bot_factory, fake_rcs, fake_gateway):
    """Not RCS capable, and the gateway's first answer is an error: the SMS is tried again
    as an SMS row under the same Idempotency-Key, so a gateway that took the first one
    (its answer lost) recognises the second and sends nothing twice."""
    from tests.fakes.base import Scripted

    fake_gateway.script.append(Scripted(503, {"error": "busy"}, {"Retry-After": "0"}))
    bot = await bot_factory(settings_for(rcs=fake_rcs, gateway=fake_gateway))
    assert (await bot.post_rcs(frcs.text_event(RESIDENT, "m5", "こんにちは"))).status == 200
    await eventually(lambda: len(fake_gateway.received) >= 2, timeout=10)
    keys = [r.headers.get("Idempotency-Key") for r in fake_gateway.received]
    assert keys[0] and keys[0] == keys[1]
    await eventually(lambda: outbox(bot)[0][:3] == ("gateway", "sms", "sent"))
