"""Identifiers are checked at the edge, before anything is stored: strict provider ids, the
numbering plan, lone surrogates, nested JSON. Refusals are JSON 400s, counted in /metrics."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest

from bot.channels import gateway, rcs, twilio
from tests.fakes import gateway as fgw
from tests.fakes import rcs as frcs
from tests.fakes import twilio as ftw
from tests.fakes.fixtures import PUBLIC_URL, Bot, eventually, make_bot, settings_for
from tests.fakes.harness import SECRET
from tests.support.metrics import refused as refused_count
from tests.support.sealed import Opener

OPENER = Opener(SECRET)

RESIDENT = "+819012345678"
SMS = "/webhooks/twilio/sms"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def bot(tmp_path, fake_twilio, fake_rcs, fake_gateway) -> AsyncIterator[Bot]:
    cs = settings_for(fake_twilio, fake_rcs, fake_gateway)
    async for running in make_bot(tmp_path, cs, deliver=False):
        yield running


def inbox(bot: Bot) -> list[tuple]:
    rows = bot.rows("SELECT provider_message_id, text FROM inbox ORDER BY id")
    return [(message_id, OPENER.text(text)) for message_id, text in rows]  # sealed at rest


def refused(bot: Bot, reason: str) -> float:
    return refused_count(bot.pipeline.metrics, reason)


async def post_rcs_event(bot: Bot, event: dict | bytes):
    """An RBM push signed as the platform signs it; `event` may be raw data bytes, and is
    JSON-encoded with escapes (so lone surrogates can be sent, as JSON allows)."""
    data = event if isinstance(event, bytes) else json.dumps(event).encode()
    body = json.dumps({"message": {"data": base64.b64encode(data).decode()}}).encode()
    headers = {"X-Goog-Signature": rcs.sign(data, frcs.CLIENT_TOKEN)}
    return await bot.session.post(bot.url + rcs.PATH, data=body, headers=headers)


async def post_gateway(bot: Bot, body: bytes):
    stamp = str(int(time.time()))
    headers = {"X-Timestamp": stamp, "X-Signature": gateway.sign(body, stamp, fgw.SECRET)}
    return await bot.session.post(bot.url + gateway.PATH, data=body, headers=headers)


# ---- Twilio: a spliced request is not a new message ----------------------------------------


def _splice(params: dict[str, str], into: str, names: list[str]) -> dict[str, str]:
    """Merge `names` (name and value) into the value of `into`, as an attacker who edits the
    raw body can: the signature runs names and values together, so it still verifies."""
    spliced = dict(params)
    for name in names:
        spliced[into] += name + spliced.pop(name)
    return spliced


async def test_a_spliced_twilio_request_is_refused_not_processed_again(bot: Bot) -> None:
    sid = "SM" + "c0ffee" * 5 + "42"
    params = {**ftw.inbound_params(sid, RESIDENT, "こんにちは"), "NumSegments": "1"}
    body, signature = ftw.sign_form(PUBLIC_URL + SMS, params)
    headers = {**FORM, "X-Twilio-Signature": signature}
    assert (await bot.session.post(bot.url + SMS, data=body, headers=headers)).status == 200

    variants = [
        _splice(params, "MessageSid", ["NumMedia"]),
        _splice(params, "MessageSid", ["NumMedia", "NumSegments"]),
        _splice(_splice(params, "MessageSid", ["NumMedia"]), "SmsSid", ["To"]),
    ]
    for variant in variants:
        same = twilio.signature(PUBLIC_URL + SMS, list(variant.items()), ftw.AUTH_TOKEN)
        assert same == signature  # the splice keeps a valid signature: ids must be strict
        response = await bot.session.post(
            bot.url + SMS, data=urlencode(variant).encode(), headers=headers
        )
        assert response.status == 400
        assert "MessageSid" in (await response.json())["error"]
    assert [row[0] for row in inbox(bot)] == [sid]  # processed once, not 1 + 3 times
    assert refused(bot, "invalid_id") == len(variants)


@pytest.mark.parametrize(
    ("sid", "ok"),
    [
        ("SM" + "0123456789abcdef" * 2, True),
        ("MM" + "0123456789ABCDEF" * 2, True),
        ("SM" + "a" * 31, False),
        ("SM" + "a" * 33, False),
        ("SM" + "g" * 32, False),
        ("XX" + "a" * 32, False),
        ("sm" + "a" * 32, False),
        ("SM" + "a" * 32 + "NumMedia0", False),
    ],
)
async def test_twilio_message_sid_is_exactly_sm_or_mm_and_32_hex(bot: Bot, sid, ok) -> None:
    response = await bot.post_twilio(ftw.inbound_params(sid, RESIDENT, "x"))
    assert response.status == (200 if ok else 400)
    assert len(inbox(bot)) == (1 if ok else 0)


async def test_twilio_sids_that_disagree_are_refused(bot: Bot) -> None:
    params = ftw.inbound_params("SM" + "1" * 32, RESIDENT, "x")
    params["SmsSid"] = "SM" + "2" * 32
    assert (await bot.post_twilio(params)).status == 400
    assert inbox(bot) == []


# ---- numbers: the Japanese numbering plan ---------------------------------------------------

IMPOSSIBLE = ["+8190123", "+81901234567", "+8112012345678", "+812012345678", "+81312345"]


@pytest.mark.parametrize("number", IMPOSSIBLE)
async def test_impossible_japanese_numbers_are_refused_by_every_provider(bot: Bot, number) -> None:
    sid = "SM" + "3" * 32
    twilio_answer = await bot.post_twilio(ftw.inbound_params(sid, number, "x"))
    rcs_answer = await post_rcs_event(bot, frcs.text_event(number, "r1", "x"))
    body = json.dumps({"message_id": "g1", "from": number, "text": "x"}).encode()
    gateway_answer = await post_gateway(bot, body)
    for response in (twilio_answer, rcs_answer, gateway_answer):
        assert response.status == 400
        assert "number" in (await response.json())["error"]
    assert inbox(bot) == []
    assert refused(bot, "invalid_number") == 3


async def test_a_domestic_gateway_may_send_numbers_as_dialled_in_japan(bot: Bot) -> None:
    for message_id, number in [("g1", "090-1234-5678"), ("g2", "09012345678")]:
        body = json.dumps({"message_id": message_id, "from": number, "text": "こんにちは"})
        assert (await post_gateway(bot, body.encode())).status == 200
    twilio_sid = "SM" + "4" * 32
    assert (await bot.post_twilio(ftw.inbound_params(twilio_sid, RESIDENT, "x"))).status == 200
    residents = bot.rows("SELECT DISTINCT resident_id FROM inbox")
    assert len(residents) == 1  # 090-1234-5678 is +819012345678: one resident


# ---- lone surrogates: ids refused, texts repaired --------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        frcs.text_event(RESIDENT, "m\ud800", "こんにちは"),
        frcs.text_event("+8190123\udc00", "m1", "こんにちは"),
        frcs.tap_event(RESIDENT, "m1", "choice:\ud83d", "はい"),
        frcs.text_event(RESIDENT, "m 1", "こんにちは"),  # a space is no id character
        frcs.text_event(RESIDENT, "m\x00", "こんにちは"),
    ],
)
async def test_invalid_rcs_ids_postbacks_and_senders_are_a_clear_400(bot: Bot, event) -> None:
    response = await post_rcs_event(bot, event)
    assert response.status == 400
    assert (await response.json())["error"].startswith("malformed request")
    assert inbox(bot) == []


async def test_a_text_with_lone_surrogates_is_stored_with_replacement_characters(bot: Bot) -> None:
    assert (await post_rcs_event(bot, frcs.text_event(RESIDENT, "m1", "\ud83dこんにちは"))).ok
    body = json.dumps({"message_id": "g1", "from": RESIDENT, "text": "ありがとう\udc00"})
    assert (await post_gateway(bot, body.encode())).status == 200
    await eventually(lambda: len(bot.responder.turns) == 2)
    assert [row[1] for row in inbox(bot)] == ["\ufffdこんにちは", "ありがとう\ufffd"]


async def test_one_poisoned_webhook_among_many_fails_only_itself(bot: Bot) -> None:
    """Before: a lone surrogate in one message id raised inside the group commit, and the
    concurrent webhooks committed with it answered 503."""

    async def send(n: int):
        message_id = "m\ud800" if n == 7 else f"m{n}"
        return await post_rcs_event(bot, frcs.text_event(f"+8190{n:08d}", message_id, "x"))

    answers = await asyncio.gather(*(send(n) for n in range(60)))
    statuses = [answer.status for answer in answers]
    assert statuses.count(200) == 59 and statuses[7] == 400
    assert len(inbox(bot)) == 59


# ---- JSON: nesting and shape -------------------------------------------------------------

DEEP = b"[" * 1000 + b"]" * 1000


async def test_json_nested_a_thousand_levels_is_a_400_not_a_503(bot: Bot) -> None:
    deep_object = b'{"message_id": "g1", "from": "+819012345678", "text": ' + DEEP + b"}"
    for response in [
        await post_gateway(bot, DEEP),
        await post_gateway(bot, deep_object),
        await post_rcs_event(bot, DEEP),
    ]:
        assert response.status == 400
        assert "nested" in (await response.json())["error"]
    # Unsigned, it is refused for its signature (the console check parses it first).
    unsigned = await bot.session.post(bot.url + rcs.PATH, data=DEEP)
    assert unsigned.status == 403
    assert refused(bot, "malformed") == 3
    assert refused(bot, "signature") == 1


async def test_every_refusal_is_json_and_counted(bot: Bot) -> None:
    forged = await bot.session.post(
        bot.url + SMS, data=b"Body=x", headers={**FORM, "X-Twilio-Signature": "AAAA"}
    )
    assert forged.status == 403 and (await forged.json()) == {"error": "signature invalid"}
    malformed = await bot.post_twilio({"Body": "no sender"})
    assert malformed.status == 400 and "error" in await malformed.json()
    big = await bot.session.post(bot.url + SMS, data=b"x" * (twilio.MAX_BODY_BYTES + 1))
    assert big.status == 413 and "too large" in (await big.json())["error"]
    assert refused(bot, "signature") == 1
    assert refused(bot, "invalid_id") == 1
    assert refused(bot, "too_large") == 1
