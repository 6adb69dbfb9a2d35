"""The staff console's day of work on PostgreSQL, over real loopback HTTP with the real
flows (the console's storage contract runs on both backends in tests/store; this is the
whole path: sign-in with TOTP, a handed-over resident listed and read, a reply, the hand
back, and the audit log that recorded it, verified)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.staff.roles import Role
from tests.staff.helpers import fresh_clock, make_account, sign_in, staff_app
from tests.staff.test_console import ANSWER, QUESTION, cases, hand_over, phone_of, rid_of, say


@pytest.fixture
async def pg_client(aiohttp_client, tmp_path, monkeypatch, pg_url):
    clock = fresh_clock()
    client = await aiohttp_client(staff_app(tmp_path, monkeypatch, clock, db_url=pg_url))
    return client, clock


async def test_a_handoff_answered_and_handed_back_on_postgresql(pg_client):
    client, clock = pg_client
    admin = await sign_in(client, await make_account(client.app, "kanri", Role.ADMIN), clock)
    await hand_over(client, clock)
    rid = rid_of(client)
    [case] = await cases(admin)
    assert (case["resident_id"], case["opened_by"], case["unread"]) == (rid, "handoff", 2)
    detail = await (await admin.get(f"/staff/api/residents/{rid}")).json()
    assert detail["transcript"][-1]["text"] == QUESTION
    assert (await cases(admin))[0]["unread"] == 0  # read by this account

    clock.advance(timedelta(minutes=3))
    response = await admin.post(f"/staff/api/residents/{rid}/reply", json={"text": ANSWER})
    assert response.status == 200, await response.text()
    assert (await phone_of(client))[-1] == ANSWER
    assert (await cases(admin))[0]["assigned_to"] == "kanri"
    response = await admin.post(f"/staff/api/residents/{rid}/return", json={})
    assert response.status == 200
    assert await cases(admin) == []
    assert await say(client, "ヘルプ")  # the bot answers again

    log = await (await admin.get("/staff/api/audit", params={"action": "conversation."})).json()
    assert [e["action"] for e in log["entries"]] == [  # newest first
        "conversation.returned",
        "conversation.reply",
        "conversation.view",
    ]
    verified = await (await admin.post("/staff/api/audit/verify")).json()
    assert verified["ok"] is True and verified["checked"] >= 6
