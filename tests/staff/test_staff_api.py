"""The staff console API over real loopback HTTP, with the real flows: a resident asks for a
person in office hours, staff see the transcript, answer, and hand the conversation back."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from bot.app import PIPELINE
from bot.channels.sms_choices import render_choices
from bot.pipeline.intake import identity_of
from bot.staff import access, is_loopback
from tests.foundation.helpers import SECRET
from tests.staff.helpers import (
    ASK_FOR_PERSON,
    HANDED_OVER,
    MONDAY_10,
    MONDAY_20,
    TOKEN,
    fresh_clock,
    on_db,
    production,
    staff_app,
)
from tests.support.sealed import Opener

NUMBER = "+819012345678"
OTHER = "+818011112222"
API = "/staff/api/conversations"
QUESTION = "転入の手続きについて相談したいです"
ANSWER = "お問い合わせありがとうございます。転入届は市民課の窓口で受け付けています。"
CLOSING = "担当者との会話を終了します。ありがとうございました。"


@pytest.fixture
def clock():
    return fresh_clock(MONDAY_10)


@pytest.fixture
async def client(aiohttp_client, tmp_path, monkeypatch, clock):
    return await aiohttp_client(staff_app(tmp_path, monkeypatch, clock))


async def say(client, text: str, number: str = NUMBER) -> list[str]:
    response = await client.post("/sim/messages", json={"from": number, "text": text})
    assert response.status == 200, await response.text()
    return [reply["text"] for reply in (await response.json())["replies"]]


async def inbox_of(client, number: str = NUMBER) -> list[str]:
    """What the resident's phone received (the simulator's outbox view)."""
    response = await client.get("/sim/messages", params={"from": number})
    assert response.status == 200
    return [m["text"] for m in (await response.json())["messages"]]


async def listing(client, **kwargs) -> list[dict]:
    response = await client.get(API, **kwargs)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    return (await response.json())["conversations"]


async def hand_over(client, clock) -> tuple[list[str], list[str]]:
    """こんにちは, then 担当者と話したい in office hours, then a question staff must answer."""
    first = await say(client, "こんにちは")
    clock.advance(timedelta(minutes=1))
    second = await say(client, ASK_FOR_PERSON)
    assert any(HANDED_OVER in text for text in second), second
    clock.advance(timedelta(minutes=1))
    assert await say(client, QUESTION) == []  # a person is answering: the bot stays silent
    return first, second


def seen(entry: dict) -> str:
    """A transcript entry as the SMS resident saw it (choices as numbered lines)."""
    if entry.get("suggestions") and entry["channel"] == "sms":
        return entry["text"] + "\n" + render_choices(entry["suggestions"])
    return entry["text"]


def ref_of(client, number: str) -> str:
    return client.app[PIPELINE].vault.resident_id(identity_of("sim", number))[:10]


async def outbox_rows(client) -> list[dict]:
    def read(db):
        return list(db.query("SELECT * FROM outbox ORDER BY id"))

    return await on_db(client, read)


# ---- listing ------------------------------------------------------------------------------


async def test_a_handed_over_resident_is_listed_with_their_transcript(client, clock):
    first, second = await hand_over(client, clock)
    await say(client, "ヘルプ", OTHER)  # a resident the bot is handling: not listed

    response = await client.get(API)
    raw = await response.text()
    assert response.status == 200
    conversations = json.loads(raw)["conversations"]
    assert len(conversations) == 1
    c = conversations[0]
    assert c["ref"] == ref_of(client, NUMBER) and len(c["ref"]) == 10
    assert c["handoff"] is True
    assert c["since"] == "2026-03-02T10:01:00+09:00"  # when the handoff was made, in JST
    assert c["unseen"] == 2 and [n["kind"] for n in c["notes"]] == ["note", "message"]
    assert c["notes"][1]["text"] == QUESTION

    expected = (
        [("resident", "こんにちは")]
        + [("bot", text) for text in first]
        + [("resident", ASK_FOR_PERSON)]
        + [("bot", text) for text in second]
        + [("resident", QUESTION)]
    )
    assert [(m["who"], seen(m)) for m in c["transcript"]] == expected
    assert c["transcript"][0]["at"] == "2026-03-02T10:00:00+09:00"
    assert c["transcript"][-1]["at"] == "2026-03-02T10:02:00+09:00"
    # Never the number, in any form.
    assert NUMBER not in raw and NUMBER[3:] not in raw and "12345678" not in raw


async def test_the_transcript_keeps_only_the_last_twenty_texts(client, clock):
    await hand_over(client, clock)
    for index in range(25):
        clock.advance(timedelta(seconds=10))
        await say(client, f"追加の質問{index}")
    [c] = await listing(client)
    assert len(c["transcript"]) == 20
    assert [m["text"] for m in c["transcript"]] == [f"追加の質問{i}" for i in range(5, 25)]


async def test_an_out_of_hours_message_is_listed_and_a_reply_takes_over(
    aiohttp_client, tmp_path, monkeypatch
):
    clock = fresh_clock(MONDAY_20)
    client = await aiohttp_client(staff_app(tmp_path, monkeypatch, clock))
    offer = await say(client, ASK_FOR_PERSON)
    assert any("受付時間外" in text for text in offer), offer
    await say(client, "はい")
    taken = await say(client, "書類の件でご相談があります")
    assert any("承りました" in text for text in taken), taken

    [c] = await listing(client)
    assert c["handoff"] is False  # a message only: the bot still answers
    assert [n["text"] for n in c["notes"]] == ["伝言: 書類の件でご相談があります"]

    clock.advance(timedelta(hours=14))  # the next morning
    response = await client.post(f"{API}/{c['ref']}/reply", json={"text": ANSWER})
    assert response.status == 200
    [c] = await listing(client)
    assert c["handoff"] is True  # staff answered: the resident's answer goes to staff
    assert await say(client, "ありがとうございます") == []


# ---- replying -----------------------------------------------------------------------------


async def test_a_staff_reply_reaches_the_resident(client, clock, caplog):
    caplog.set_level(logging.DEBUG)
    await hand_over(client, clock)
    [c] = await listing(client)
    clock.advance(timedelta(minutes=3))

    response = await client.post(f"{API}/{c['ref']}/reply", json={"text": f"  {ANSWER}\n"})
    assert response.status == 200, await response.text()
    assert (await inbox_of(client))[-1] == ANSWER

    [c] = await listing(client)
    assert c["transcript"][-1] == {
        "who": "staff",
        "text": ANSWER,
        "at": "2026-03-02T10:05:00+09:00",
        "kind": "reply",
        "status": "sent",
        "channel": "sms",
        "suggestions": [],
    }
    response = await client.post(f"{API}/{c['ref']}/reply", json={"text": "もう一通"})
    assert response.status == 200
    staff_rows = [r for r in await outbox_rows(client) if r["idempotency_key"].startswith("staff-")]
    opener = Opener(SECRET)  # texts are sealed at rest
    assert [opener.text(r["text"]) for r in staff_rows] == [ANSWER, "もう一通"]
    assert len({r["idempotency_key"] for r in staff_rows}) == 2
    assert {(r["provider"], r["channel"], r["kind"], r["status"]) for r in staff_rows} == {
        ("sim", "sms", "reply", "sent")
    }
    # Still handed over: the resident's answer goes to staff, not the bot.
    assert await say(client, "わかりました") == []
    # Logs carry neither texts nor the number.
    # (The simulator's own access log lines carry its ?from= query; they are not ours.)
    ours = [r for r in caplog.records if "/sim/" not in r.getMessage()]
    logged = " ".join(json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in ours)
    assert "staff reply queued" in logged
    for secret in (ANSWER, QUESTION, "もう一通", NUMBER, NUMBER[3:]):
        assert secret not in logged


async def test_a_reply_on_rcs_waits_for_the_delivery_worker(client, clock):
    """A resident on a real provider gets a pending row (the worker sends it)."""
    await hand_over(client, clock)
    [c] = await listing(client)

    def move_to_rcs(db):
        db.execute("UPDATE residents SET last_provider = 'rcs', last_channel = 'rcs'")

    await on_db(client, move_to_rcs)
    client.app[PIPELINE].outbox_wake.clear()  # no provider configured: no worker clears it
    response = await client.post(f"{API}/{c['ref']}/reply", json={"text": ANSWER})
    assert response.status == 200
    row = (await outbox_rows(client))[-1]
    text = Opener(SECRET).text(row["text"])
    assert (row["provider"], row["channel"], row["status"], text) == (
        "rcs",
        "rcs",
        "pending",
        ANSWER,
    )
    assert client.app[PIPELINE].outbox_wake.is_set()  # the delivery worker was woken


BAD_REPLIES = [
    ({}, "'text' is required and must be a string"),
    ({"text": 12}, "'text' is required and must be a string"),
    ({"text": ""}, "'text' must not be empty"),
    ({"text": " \n\u3000"}, "'text' must not be empty"),
    ({"text": "あ" * 1001}, "'text' must be at most 1000 characters"),
    ("not json", "body is not valid JSON"),
    ([1, 2], "body must be a JSON object"),
]


async def test_bad_replies_are_refused_clearly_and_1000_characters_pass(client, clock):
    await hand_over(client, clock)
    [c] = await listing(client)
    before = len(await outbox_rows(client))
    for body, error in BAD_REPLIES:
        data = body if isinstance(body, str) else json.dumps(body)
        response = await client.post(
            f"{API}/{c['ref']}/reply", data=data, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, body
        answer = await response.json()
        assert answer["error"] == error, body
    assert len(await outbox_rows(client)) == before  # nothing was written
    response = await client.post(f"{API}/{c['ref']}/reply", json={"text": "あ" * 1000})
    assert response.status == 200
    assert (await inbox_of(client))[-1] == "あ" * 1000


async def test_unknown_ambiguous_and_closed_refs_are_404(client, clock):
    await hand_over(client, clock)
    await say(client, "ヘルプ", OTHER)  # known, but not handed over

    def add_twins(db):
        for suffix in ("a" * 22, "b" * 22):
            db.execute(
                "INSERT INTO residents (id, phone_enc, handoff, last_provider, last_channel, "
                "created_at, last_seen_at) VALUES (?, x'00', 1, 'sim', 'sms', ?, ?)",
                ["abcdef0123" + suffix, "2026-03-02T01:00:00+00:00", "2026-03-02T01:00:00+00:00"],
            )

    await on_db(client, add_twins)
    for ref in ("0000000000", ref_of(client, OTHER), "abcdef0123", "zz", "abcde%", "abcdef____"):
        response = await client.post(f"{API}/{ref}/reply", json={"text": ANSWER})
        assert response.status == 404, ref
        assert "error" in await response.json()
    # A longer prefix tells the twins apart.
    response = await client.post(f"{API}/abcdef0123a/reply", json={"text": ANSWER})
    assert response.status == 200
    response = await client.post(f"{API}/0000000000/return")
    assert response.status == 404


# ---- handing back -------------------------------------------------------------------------


async def test_return_hands_the_resident_back_to_the_bot(client, clock):
    await hand_over(client, clock)
    [c] = await listing(client)

    response = await client.post(f"{API}/{c['ref']}/return", json={"text": CLOSING})
    assert response.status == 200, await response.text()
    assert (await inbox_of(client))[-1] == CLOSING
    assert await listing(client) == []

    def unseen(db):
        return db.execute("SELECT count(*) FROM staff_notes WHERE seen = 0").fetchone()[0]

    assert await on_db(client, unseen) == 0
    assert await say(client, "粗大ごみを捨てたい") != []  # the bot answers again
    # Handed back already: nothing to return or answer any more.
    assert (await client.post(f"{API}/{c['ref']}/return")).status == 404
    assert (await client.post(f"{API}/{c['ref']}/reply", json={"text": "x"})).status == 404


async def test_return_without_a_closing_message_tells_the_resident_the_bot_is_back(client, clock):
    await hand_over(client, clock)
    [c] = await listing(client)
    sent_before = await inbox_of(client)
    response = await client.post(f"{API}/{c['ref']}/return")
    assert response.status == 200
    after = await inbox_of(client)
    assert after[: len(sent_before)] == sent_before
    assert len(after) == len(sent_before) + 1 and "担当者との会話を終了しました" in after[-1]
    assert await listing(client) == []


async def test_a_cross_origin_post_is_refused(client, clock):
    """Another site's page cannot post through a staff member's browser."""
    await hand_over(client, clock)
    [c] = await listing(client)
    sent_before = await inbox_of(client)
    foreign = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    response = await client.post(
        f"{API}/{c['ref']}/reply", data='{"text": "やあ"}', headers=foreign
    )
    assert response.status == 403
    assert "cross-origin" in (await response.json())["error"]
    assert await inbox_of(client) == sent_before
    own = {"Origin": f"http://{client.host}:{client.port}"}
    ok = await client.post(f"{API}/{c['ref']}/reply", json={"text": "担当の山田です"}, headers=own)
    assert ok.status == 200


async def test_return_refuses_a_too_long_closing_message(client, clock):
    await hand_over(client, clock)
    [c] = await listing(client)
    response = await client.post(f"{API}/{c['ref']}/return", json={"text": "あ" * 1001})
    assert response.status == 400
    [still] = await listing(client)
    assert still["handoff"] is True


# ---- access ---------------------------------------------------------------------------------


async def test_production_without_a_token_has_no_console(
    aiohttp_client, tmp_path, monkeypatch, clock
):
    client = await aiohttp_client(staff_app(tmp_path, monkeypatch, clock, **production(None)))
    assert (await client.get("/staff/")).status == 404
    assert (await client.get(API)).status == 404
    assert (await client.get(API, headers={"Authorization": "Bearer "})).status == 404
    assert (await client.post(f"{API}/0123456789/reply", json={"text": "x"})).status == 404


async def test_production_with_a_token_needs_it_on_every_api_request(
    aiohttp_client, tmp_path, monkeypatch, clock
):
    client = await aiohttp_client(staff_app(tmp_path, monkeypatch, clock, **production(TOKEN)))
    await hand_over(client, clock)
    ref = ref_of(client, NUMBER)
    page = await client.get("/staff/")  # the login form, without data
    assert page.status == 200 and "アクセスキー" in await page.text()
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")

    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = await client.get(API, headers=headers)
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert ref not in await response.text()
        reply = await client.post(f"{API}/{ref}/reply", json={"text": ANSWER}, headers=headers)
        assert reply.status == 401
        assert (await client.post(f"{API}/{ref}/return", headers=headers)).status == 401
    assert ANSWER not in await inbox_of(client)
    [still] = await listing(client, headers={"Authorization": f"Bearer {TOKEN}"})
    assert still["handoff"] is True

    good = {"Authorization": f"bearer {TOKEN}"}
    [c] = await listing(client, headers=good)
    assert c["ref"] == ref
    assert (
        await client.post(f"{API}/{ref}/reply", json={"text": ANSWER}, headers=good)
    ).status == 200
    assert (await inbox_of(client))[-1] == ANSWER


async def test_development_with_a_token_needs_it_even_from_loopback(
    aiohttp_client, tmp_path, monkeypatch, clock
):
    client = await aiohttp_client(
        staff_app(tmp_path, monkeypatch, clock, env_vars={"BOT_STAFF_TOKEN": TOKEN})
    )
    assert (await client.get(API)).status == 401
    assert (await client.get(API, headers={"Authorization": f"Bearer {TOKEN}"})).status == 200


async def test_development_without_a_token_serves_loopback(client):
    page = await client.get("/staff/")
    assert page.status == 200 and "ボットに戻す" in await page.text()
    assert (await client.get(API)).status == 200
    redirect = await client.get("/staff", allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Location"] == "/staff/"


async def test_development_without_a_token_refuses_proxied_requests(client):
    """A proxy on this machine connects from loopback on behalf of anyone."""
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        headers = {header: "203.0.113.9"}
        response = await client.get(API, headers=headers)
        assert response.status == 403, header
        assert "error" in await response.json()
        assert (await client.get("/staff/", headers=headers)).status == 403
        reply = await client.post(f"{API}/0123456789/reply", json={"text": "x"}, headers=headers)
        assert reply.status == 403


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
        ("localhost", False),  # a name is not an address
        ("", False),
        (None, False),
    ],
)
def test_loopback_predicate(remote, loopback):
    assert is_loopback(remote) is loopback


def test_access_decisions():
    right, wrong = f"Bearer {TOKEN}", "Bearer nope"
    # Development without a token: this computer only.
    assert access("", False, "127.0.0.1", None) == 200
    assert access("", False, "::1", None) == 200
    assert access("", False, "192.168.1.20", None) == 403
    assert access("", False, "192.168.1.20", right) == 403
    assert access("", False, None, None) == 403
    # Production without a token: no console.
    assert access("", True, "127.0.0.1", right) == 404
    # A token, in either mode, from anywhere: the header decides.
    for prod in (False, True):
        for remote in ("127.0.0.1", "203.0.113.9"):
            assert access(TOKEN, prod, remote, right) == 200
            assert access(TOKEN, prod, remote, wrong) == 401
            assert access(TOKEN, prod, remote, None) == 401
            assert access(TOKEN, prod, remote, "Bearer") == 401
