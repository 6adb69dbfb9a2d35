"""Notices through the console's API and the simulator, on the real app over loopback HTTP:
compose (refusals by field), the phone preview, approval by a second person, the dispatcher
sending to simulator residents (`GET /sim/messages` with kind notice), answers tallied, a
handoff answer opening an urgent case, the report and its CSV, every role's access — on
each backend."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import is_db_url
from bot.staff.roles import Role
from tests.notices.helpers import OPT_OUT
from tests.staff.helpers import MONDAY_20, fresh_clock, make_account, sign_in, staff_app
from tests.support.db import Peek

RESIDENT = "+819012345678"
OTHER = "+818011112222"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FORM = {
    "title": "台風 避難所開設",
    "category": "emergency",
    "topic": "bousai",
    "text": "【さくら市】台風の接近に伴い、南中学校を避難所として開設しました。",
    "rich": {
        "title": "避難所を開設しました",
        "description": "南中学校",
        "image": {"name": "shelter.png", "data": base64.b64encode(PNG).decode()},
        "buttons": [
            {
                "label": "避難所の一覧",
                "kind": "url",
                "value": "https://www.city.sakura.example.jp/bousai/",
            }
        ],
    },
    "ask": {
        "question": "ご無事ですか。番号でお答えください。",
        "choices": ["無事です", "支援が必要です"],
        "handoff": ["支援が必要です"],
    },
}


@pytest.fixture
async def client(aiohttp_client, tmp_path, location, monkeypatch):
    """The app on `location`: a SQLite file, then a PostgreSQL schema."""
    clock = fresh_clock(MONDAY_20)  # after office hours: a handoff answer still goes to staff
    where = str(location)
    database = {"db_url": where} if is_db_url(where) else {"db_path": Path(where)}
    return await aiohttp_client(staff_app(tmp_path, monkeypatch, clock, **database))


async def say(client, text: str, number: str = RESIDENT) -> list[str]:
    response = await client.post("/sim/messages", json={"from": number, "text": text})
    assert response.status == 200, await response.text()
    return [reply["text"] for reply in (await response.json())["replies"]]


async def until(check, timeout: float = 10.0):
    for _ in range(int(timeout / 0.05)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("not in time")


async def people(client, clock) -> dict[str, object]:
    editor = await make_account(client.app, "tanaka", Role.EDITOR)
    approver = await make_account(client.app, "sato", Role.APPROVER)
    return {
        "editor": await sign_in(client, editor, clock),
        "approver": await sign_in(await _other(client), approver, clock),
    }


async def _other(client):
    from aiohttp.test_utils import TestClient

    other = TestClient(client.server)
    await other.start_server()
    return other


async def test_compose_approve_send_answer_and_report(client, location) -> None:
    clock = fresh_clock(MONDAY_20)
    staff = await people(client, clock)
    editor, approver = staff["editor"], staff["approver"]
    await say(client, "こんにちは")  # residents the bot knows
    await say(client, "こんにちは", OTHER)
    bad = dict(FORM, text="台風です https://bit.ly/x")
    response = await editor.post("/staff/api/notices", json=bad)
    assert response.status == 400
    fields = [p["field"] for p in (await response.json())["problems"]]
    assert fields == ["text", "text"]
    preview = await (await editor.post("/staff/api/notices/preview", json=FORM)).json()
    assert preview["problems"] == []
    assert preview["phone"]["sms"].endswith("1. 無事です\n2. 支援が必要です")
    assert preview["phone"]["segments"] == 2 and preview["phone"]["per_sms_yen"] == 6
    response = await editor.post("/staff/api/notices", json=FORM)
    assert response.status == 200, await response.text()
    notice_id = (await response.json())["id"]
    detail = await (await editor.get(f"/staff/api/notices/{notice_id}")).json()
    assert detail["status"]["recipients"] == 2
    assert detail["phone"]["card"]["image_url"] == f"/staff/api/notices/{notice_id}/image"
    assert detail["may"] == {"edit": True, "approve": False, "cancel": False, "test": True}
    assert (await editor.post(f"/staff/api/notices/{notice_id}/approve")).status == 403
    assert (await client.get(f"/notices/{notice_id}/image")).status == 404  # a draft: not public
    response = await approver.post(f"/staff/api/notices/{notice_id}/approve")
    assert response.status == 200, await response.text()

    async def arrived() -> list[dict]:
        r = await client.get("/sim/messages", params={"from": RESIDENT})
        return [m for m in (await r.json())["messages"] if m["kind"] == "notice"]

    [notice] = await until(arrived)
    assert notice["text"].startswith("【さくら市】台風の接近に伴い")
    image = await client.get(f"/notices/{notice_id}/image")
    assert image.status == 200 and await image.read() == PNG
    assert "ご回答ありがとうございました" in (await say(client, "1", OTHER))[0]
    replies = await say(client, "2")
    assert "担当者からご連絡します" in replies[0]
    assert await say(client, "家が浸水しています") == []  # with staff now, out of hours too
    cases = await (await approver.get("/staff/api/conversations")).json()
    [case] = cases["conversations"]
    assert case["urgent"] is True and case["handoff"] is True
    resident = await (await approver.get(f"/staff/api/residents/{case['resident_id']}")).json()
    assert any("台風 避難所開設" in str(note) for note in resident["notes"])
    report = await until(
        lambda: _report(approver, notice_id, lambda r: r["status"]["state"] == "sent")
    )
    status = report["status"]
    assert status["answers"] == {"無事です": 1, "支援が必要です": 1}
    assert (status["recipients"], status["sent"], status["queued"]) == (2, 2, 0)
    assert report["progress"] and report["progress"][-1]["sent"] == 2
    csv_response = await approver.get(f"/staff/api/notices/{notice_id}/report.csv")
    text = await csv_response.text()
    assert "支援が必要です,1" in text and "recipients,対象者,2" in text
    assert RESIDENT[3:] not in text and OTHER[3:] not in text

    peek = Peek(location)
    audit = peek("SELECT actor, action FROM audit_log WHERE subject = ? ORDER BY seq", [notice_id])
    peek.close()
    assert audit == [
        ("tanaka", "notice.drafted"),
        ("sato", "notice.approved"),
        ("sato", "notice.sending"),
        ("sato", "notice.exported"),
    ]
    for signed in (approver,):
        await signed.client.close()


async def _report(signed, notice_id: str, ready):
    response = await signed.get(f"/staff/api/notices/{notice_id}/report")
    body = await response.json()
    return body if ready(body) else None


async def test_second_person_and_edits(client) -> None:
    clock = fresh_clock(MONDAY_20)
    staff = await people(client, clock)
    regular = {
        "title": "ごみ通信",
        "category": "regular",
        "topic": "gomi",
        "text": f"【さくら市】12月のごみ通信です。\n{OPT_OUT}",
    }
    approver = staff["approver"]
    created = await (await approver.post("/staff/api/notices", json=regular)).json()
    notice_id = created["id"]
    detail = await (await approver.get(f"/staff/api/notices/{notice_id}")).json()
    assert detail["may"]["approve"] is False and detail["second_person"] is True
    response = await approver.post(f"/staff/api/notices/{notice_id}/approve")
    assert response.status == 403 and "別の承認者" in (await response.json())["message"]
    # The editor edits it; the approver who wrote it first is still its author.
    edited = dict(regular, text=f"【さくら市】12月のごみ通信（訂正版）です。\n{OPT_OUT}")
    response = await staff["editor"].post(f"/staff/api/notices/{notice_id}", json=edited)
    assert response.status == 200
    assert (await approver.post(f"/staff/api/notices/{notice_id}/approve")).status == 403
    await approver.client.close()


async def test_roles_reach_only_what_they_may(client) -> None:
    clock = fresh_clock(MONDAY_20)
    operator = await sign_in(client, await make_account(client.app, "ito", Role.OPERATOR), clock)
    for method, path in (
        ("GET", "/staff/api/notices"),
        ("POST", "/staff/api/notices"),
        ("GET", "/staff/api/notices/NAAAAAAA/report"),
        ("POST", "/staff/api/notices/NAAAAAAA/approve"),
    ):
        response = await (operator.get(path) if method == "GET" else operator.post(path, json={}))
        assert response.status == 403, (method, path)
    clock.advance(timedelta(minutes=1))
