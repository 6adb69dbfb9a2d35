"""The outbox worker against fake providers over loopback."""

from __future__ import annotations

from datetime import datetime

from bot.clock import TOKYO, FrozenClock
from tests.fakes import twilio as ftw
from tests.fakes.base import Scripted
from tests.fakes.fixtures import eventually, settings_for

RESIDENT = "+819012345678"


async def say(bot, sid: str, text: str):
    response = await bot.post_twilio(ftw.inbound_params(sid, RESIDENT, text))
    assert response.status == 200


def outbox(bot) -> list[tuple]:
    return bot.rows("SELECT provider, channel, status, attempts, error FROM outbox ORDER BY id")


async def test_reply_goes_once_for_a_duplicated_message(bot_factory, fake_twilio) -> None:
    bot = await bot_factory(settings_for(fake_twilio))
    for _ in range(3):
        await say(bot, "SM" + "1" * 32, "粗大ごみ")
    await eventually(lambda: fake_twilio.delivered())
    await eventually(lambda: outbox(bot) and outbox(bot)[0][2] == "sent")
    sent = fake_twilio.delivered()
    assert len(sent) == 1
    assert sent[0].data["Body"] == "受け付けました: 粗大ごみ"
    assert sent[0].data["To"] == RESIDENT and sent[0].data["From"] == ftw.FROM
    assert sent[0].data["StatusCallback"].endswith("/webhooks/twilio/status")
    assert sent[0].headers["I-Twilio-Idempotency-Token"].startswith("ob-")


async def test_suggestions_become_numbered_choices_on_sms(bot_factory, fake_twilio) -> None:
    bot = await bot_factory(settings_for(fake_twilio))
    await say(bot, "SM" + "2" * 32, "選択")
    await eventually(lambda: fake_twilio.delivered())
    assert fake_twilio.delivered()[0].data["Body"] == "どちらにしますか。\n1. はい\n2. いいえ"


async def test_long_reply_is_split_into_numbered_messages(bot_factory, fake_twilio) -> None:
    bot = await bot_factory(settings_for(fake_twilio))
    await say(bot, "SM" + "3" * 32, "長文")
    await eventually(lambda: len(fake_twilio.delivered()) == 2)
    bodies = [r.data["Body"] for r in fake_twilio.delivered()]
    assert bodies[0].startswith("(1/2)\n") and bodies[1].startswith("(2/2)\n")
    keys = {r.headers["I-Twilio-Idempotency-Token"] for r in fake_twilio.delivered()}
    assert len(keys) == 2


async def test_429_is_retried_after_retry_after(bot_factory, fake_twilio) -> None:
    fake_twilio.script.append(
        Scripted(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "1"})
    )
    bot = await bot_factory(settings_for(fake_twilio))
    await say(bot, "SM" + "4" * 32, "混雑")
    await eventually(lambda: fake_twilio.delivered(), timeout=5)
    first, second = fake_twilio.received[0], fake_twilio.received[1]
    assert first.answered == 429 and second.answered == 201
    assert second.at - first.at >= 0.95
    assert (
        first.headers["I-Twilio-Idempotency-Token"] == second.headers["I-Twilio-Idempotency-Token"]
    )
    await eventually(lambda: outbox(bot)[0][2:4] == ("sent", 2))


async def test_5xx_retried_and_other_4xx_final(bot_factory, fake_twilio) -> None:
    fake_twilio.script += [Scripted(503, {"code": 20503}, {"Retry-After": "0"})]
    bot = await bot_factory(settings_for(fake_twilio))
    await say(bot, "SM" + "5" * 32, "一回目")
    await eventually(lambda: fake_twilio.delivered())
    fake_twilio.script.append(Scripted(400, {"code": 21211, "message": "invalid To"}))
    await say(bot, "SM" + "6" * 32, "二回目")
    await eventually(lambda: len(outbox(bot)) == 2 and outbox(bot)[1][2] == "failed")
    assert outbox(bot)[1][2:] == ("failed", 1, "21211")
    assert len(fake_twilio.received) == 3


async def test_opted_out_marks_the_resident_stopped(bot_factory, fake_twilio) -> None:
    fake_twilio.opted_out.add(RESIDENT)
    bot = await bot_factory(settings_for(fake_twilio))
    await say(bot, "SM" + "7" * 32, "停止中")
    await eventually(lambda: outbox(bot) and outbox(bot)[0][2] == "failed")
    assert outbox(bot)[0][4] == "opted_out:21610"
    assert bot.rows("SELECT notices_enabled FROM residents") == [(0,)]
    assert len(fake_twilio.received) == 1


async def test_status_only_moves_forward(bot_factory, fake_twilio) -> None:
    bot = await bot_factory(settings_for(fake_twilio))
    await say(bot, "SM" + "8" * 32, "受領")
    await eventually(lambda: outbox(bot) and outbox(bot)[0][2] == "sent")
    sid = bot.rows("SELECT provider_message_id FROM outbox")[0][0]
    for status in ("delivered", "sent", "queued"):
        params = {"MessageSid": sid, "MessageStatus": status}
        assert (await bot.post_twilio(params, "/webhooks/twilio/status")).status == 200
    assert outbox(bot)[0][2] == "delivered"


async def test_notice_waits_for_quiet_hours_reply_does_not(bot_factory, fake_twilio) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 22, 30, tzinfo=TOKYO))
    bot = await bot_factory(settings_for(fake_twilio), clock=clock)
    await say(bot, "SM" + "9" * 32, "お知らせ")
    await say(bot, "SM" + "a" * 32, "夜の質問")
    await eventually(lambda: fake_twilio.delivered())
    await eventually(lambda: [r[2] for r in outbox(bot)] == ["pending", "sent"])
    assert [r.data["Body"] for r in fake_twilio.delivered()] == ["受け付けました: 夜の質問"]
    due = bot.rows("SELECT next_attempt_at, error FROM outbox WHERE kind = 'notice'")[0]
    assert due[0].startswith("2026-11-24T23:00:00")  # 08:00 JST
    assert due[1] == "quiet_hours"
