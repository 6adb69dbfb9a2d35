"""Provider webhooks over real HTTP: signatures, size cap, malformed bodies, duplicates."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.channels import twilio
from tests.fakes import gateway as fgw
from tests.fakes import rcs as frcs
from tests.fakes import twilio as ftw
from tests.fakes.fixtures import PUBLIC_URL, Bot, eventually, make_bot, settings_for

RESIDENT = "+819012345678"
SMS = "/webhooks/twilio/sms"


@pytest.fixture
async def bot(tmp_path, fake_twilio, fake_rcs, fake_gateway) -> AsyncIterator[Bot]:
    fake_rcs.capable.add(RESIDENT)
    cs = settings_for(fake_twilio, fake_rcs, fake_gateway)
    async for running in make_bot(tmp_path, cs, deliver=False):
        yield running


def inbox_count(bot: Bot) -> int:
    return bot.rows("SELECT count(*) FROM inbox")[0][0]


async def test_signed_sms_is_stored_and_acknowledged_with_empty_twiml(bot: Bot) -> None:
    response = await bot.post_twilio(ftw.inbound_params("SM" + "1" * 32, RESIDENT, "こんにちは"))
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert "<Response/>" in await response.text()
    assert inbox_count(bot) == 1
    await eventually(lambda: bot.responder.turns)
    assert bot.responder.turns[0].text == "こんにちは"


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "x" * 5000])
async def test_missing_or_wrong_signature_is_403_and_nothing_written(bot: Bot, signature) -> None:
    body, _ = ftw.sign_form(PUBLIC_URL + SMS, ftw.inbound_params("SM" + "2" * 32, RESIDENT, "x"))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = await bot.session.post(bot.url + SMS, data=body, headers=headers)
    assert response.status == 403
    assert inbox_count(bot) == 0


async def test_signature_over_another_url_or_token_or_tampered_body_is_403(bot: Bot) -> None:
    params = ftw.inbound_params("SM" + "3" * 32, RESIDENT, "x")
    for url, token in [("https://evil.example" + SMS, ftw.AUTH_TOKEN), (PUBLIC_URL + SMS, "nope")]:
        body, sig = ftw.sign_form(url, params, token)
        response = await bot.session.post(
            bot.url + SMS,
            data=body,
            headers={
                "X-Twilio-Signature": sig,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert response.status == 403
    body, sig = ftw.sign_form(PUBLIC_URL + SMS, params)
    tampered = body.replace(b"Body=x", b"Body=y")
    response = await bot.session.post(
        bot.url + SMS,
        data=tampered,
        headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 403
    assert inbox_count(bot) == 0


async def test_query_string_is_part_of_the_signed_url(bot: Bot) -> None:
    params = ftw.inbound_params("SM" + "4" * 32, RESIDENT, "クエリ")
    body, sig = ftw.sign_form(PUBLIC_URL + SMS + "?city=sakura", params)
    response = await bot.session.post(
        bot.url + SMS + "?city=sakura",
        data=body,
        headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200


async def test_one_megabyte_body_is_413(bot: Bot) -> None:
    body = io.BytesIO(b"Body=" + b"a" * (1024 * 1024))
    response = await bot.session.post(
        bot.url + SMS,
        data=body,
        headers={"X-Twilio-Signature": "x", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    assert inbox_count(bot) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"Body": "no sender or sid"},
        {"MessageSid": "SM" + "5" * 32, "From": "09012345678", "Body": "not E.164"},
        {"MessageSid": "bad", "From": RESIDENT, "Body": "bad sid"},
        {"MessageSid": "SM" + "5" * 32, "From": RESIDENT},
    ],
)
async def test_malformed_form_is_400(bot: Bot, params) -> None:
    response = await bot.post_twilio(params)
    assert response.status == 400
    assert inbox_count(bot) == 0


async def test_invalid_utf8_form_is_400_when_signed(bot: Bot) -> None:
    body = b"MessageSid=SM" + b"6" * 32 + b"&From=%2B819012345678&Body=%FF%FE"
    sig = twilio.signature(PUBLIC_URL + SMS, [], ftw.AUTH_TOKEN)
    response = await bot.session.post(
        bot.url + SMS,
        data=body,
        headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status in (400, 403)
    assert inbox_count(bot) == 0


async def test_duplicate_message_id_is_acknowledged_once_stored(bot: Bot) -> None:
    params = ftw.inbound_params("SM" + "7" * 32, RESIDENT, "二重")
    for _ in range(3):
        assert (await bot.post_twilio(params)).status == 200
    assert inbox_count(bot) == 1


async def test_a_number_from_a_country_not_served_is_stored_but_never_answered(
    bot: Bot,
) -> None:
    response = await bot.post_twilio(ftw.inbound_params("SM" + "8" * 32, "+14155550100", "hi"))
    assert response.status == 200
    assert bot.rows("SELECT limited FROM inbox") == [("country",)]  # acknowledged: kept
    await eventually(lambda: bot.rows("SELECT status FROM inbox") == [("done",)])
    assert not bot.responder.turns  # no turn of the flows
    assert bot.rows("SELECT count(*) FROM outbox") == [(0,)]  # and nothing sent there


async def test_status_callback_is_signed_and_recorded(bot: Bot) -> None:
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert (await bot.post_twilio(params, "/webhooks/twilio/status")).status == 200
    assert bot.rows("SELECT status FROM delivery_events") == [("delivered",)]
    body, _ = ftw.sign_form(PUBLIC_URL + "/webhooks/twilio/status", params)
    response = await bot.session.post(
        bot.url + "/webhooks/twilio/status",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 403


def test_json_body_variant_checks_body_hash_and_url() -> None:
    body = json.dumps({"MessageSid": "SM1"}).encode()
    url, sig = ftw.sign_json(PUBLIC_URL + "/webhooks/twilio/status", body)
    assert twilio.verify(url, body, sig, ftw.AUTH_TOKEN, "application/json")
    assert not twilio.verify(url, body + b" ", sig, ftw.AUTH_TOKEN, "application/json")
    assert not twilio.verify(url, body, sig, "other-token", "application/json")


# ---- RCS ----------------------------------------------------------------------------


async def test_rcs_console_verification_echoes_secret(bot: Bot) -> None:
    payload = {"clientToken": frcs.CLIENT_TOKEN, "secret": "1234567890"}
    response = await bot.session.post(bot.url + "/webhooks/rcs", json=payload)
    assert response.status == 200 and await response.text() == "1234567890"
    payload["clientToken"] = "WRONG"
    assert (await bot.session.post(bot.url + "/webhooks/rcs", json=payload)).status == 403


async def test_rcs_text_and_tap_reach_the_flow_as_the_choice(bot: Bot) -> None:
    assert (await bot.post_rcs(frcs.text_event(RESIDENT, "m1", "こんにちは"))).status == 200
    long = "燃やせないごみ（金属・ガラス・陶器類）の収集日を知りたい"
    tap = frcs.tap_event(RESIDENT, "m2", "choice:" + long, long[:24] + "…")
    assert (await bot.post_rcs(tap)).status == 200
    await eventually(lambda: len(bot.responder.turns) == 2)
    turns = bot.responder.turns
    assert turns[0].text == "こんにちは" and turns[0].channel == "rcs"
    assert turns[1].text == long and turns[1].postback == "choice:" + long


async def test_rcs_read_receipt_is_stored_and_typing_ignored(bot: Bot) -> None:
    assert (await bot.post_rcs(frcs.receipt_event(RESIDENT, "ob-1", "READ"))).status == 200
    assert (await bot.post_rcs(frcs.receipt_event(RESIDENT, "ob-1", "IS_TYPING"))).status == 200
    assert bot.rows("SELECT provider, status FROM delivery_events") == [("rcs", "read")]


async def test_rcs_bad_signature_is_403_and_malformed_is_400(bot: Bot) -> None:
    body, _ = frcs.envelope(frcs.text_event(RESIDENT, "m3", "x"))
    response = await bot.session.post(
        bot.url + "/webhooks/rcs", data=body, headers={"X-Goog-Signature": "AAAA"}
    )
    assert response.status == 403
    body, sig = frcs.envelope({"senderPhoneNumber": RESIDENT})
    response = await bot.session.post(
        bot.url + "/webhooks/rcs", data=body, headers={"X-Goog-Signature": sig}
    )
    assert response.status == 400
    assert inbox_count(bot) == 0


# ---- gateway --------------------------------------------------------------------------


async def test_gateway_signed_message_and_receipt(bot: Bot) -> None:
    body, headers = fgw.signed({"message_id": "g1", "from": RESIDENT, "text": "ゲートウェイ"})
    response = await bot.session.post(bot.url + "/webhooks/gateway", data=body, headers=headers)
    assert response.status == 200
    body, headers = fgw.signed({"message_id": "out-1", "status": "delivered"})
    response = await bot.session.post(bot.url + "/webhooks/gateway", data=body, headers=headers)
    assert response.status == 200
    assert inbox_count(bot) == 1
    assert bot.rows("SELECT provider, status FROM delivery_events") == [("gateway", "delivered")]


async def test_gateway_replay_window_and_signature(bot: Bot) -> None:
    payload = {"message_id": "g2", "from": RESIDENT, "text": "x"}
    body, headers = fgw.signed(payload, at=time.time() - 301)
    response = await bot.session.post(bot.url + "/webhooks/gateway", data=body, headers=headers)
    assert response.status == 403
    body, headers = fgw.signed(payload, secret="wrong")
    response = await bot.session.post(bot.url + "/webhooks/gateway", data=body, headers=headers)
    assert response.status == 403
    body, headers = fgw.signed({"message_id": "g3"})
    response = await bot.session.post(bot.url + "/webhooks/gateway", data=body, headers=headers)
    assert response.status == 400
    assert inbox_count(bot) == 0
