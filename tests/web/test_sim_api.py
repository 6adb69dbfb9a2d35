"""The simulator's HTTP additions, without a browser: GET /sim/messages per the contract
(text, suggestions, kind, at; oldest first; notices included), the development clock and
state, and refusals of bad input."""

from __future__ import annotations

from datetime import datetime, timedelta

import bot.app
from bot.app import create_app
from bot.clock import TOKYO, FrozenClock
from bot.turn import Reply, TimerRequest, TurnResult
from tests.foundation.helpers import settings_for

START = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)
ME = "+819012340001"


class Reminding:
    def respond(self, turn, conversation, resident, services) -> TurnResult:
        if turn.kind == "timer":
            return TurnResult(conversation, [Reply("明日は収集日です", kind="notice")])
        timer = TimerRequest("remind", turn.received_at + timedelta(hours=25))
        state = {"flow": "demo", "state": "asked", "slots": {"n": 1}, "version": 1}
        return TurnResult(state, [Reply("承りました", ["はい", "いいえ"])], timers=[timer])


async def client_for(aiohttp_client, tmp_path, monkeypatch, **changes):
    monkeypatch.setattr(bot.app, "build_responder", lambda *a, **k: Reminding())
    clock = FrozenClock(START)
    app = create_app(settings_for(tmp_path, **changes), clock)
    return await aiohttp_client(app), clock


async def test_messages_carry_kind_and_time_oldest_first(aiohttp_client, tmp_path, monkeypatch):
    client, clock = await client_for(aiohttp_client, tmp_path, monkeypatch)
    sent = await client.post("/sim/messages", json={"from": ME, "text": "予約"})
    assert (await sent.json())["replies"] == [
        {"text": "承りました\n1. はい\n2. いいえ", "suggestions": ["はい", "いいえ"]}
    ]
    moved = await client.post("/sim/clock", json={"advance": "2d"})
    assert moved.status == 200
    assert await moved.json() == {"now": "2026-11-26T10:00:00+09:00", "turns": 1}
    assert clock.now() == START + timedelta(days=2)

    answer = await (await client.get("/sim/messages", params={"from": ME})).json()
    messages = answer["messages"]
    assert [(m["text"], m["kind"], m["at"]) for m in messages] == [
        ("承りました\n1. はい\n2. いいえ", "reply", "2026-11-24T10:00:00+09:00"),
        ("明日は収集日です", "notice", "2026-11-25T11:00:00+09:00"),  # at its own time
    ]
    assert all({"text", "suggestions", "kind", "at"} <= set(m) for m in messages)
    later = await client.get("/sim/messages", params={"from": ME, "after": messages[0]["id"]})
    assert [m["kind"] for m in (await later.json())["messages"]] == ["notice"]
    other = await client.get("/sim/messages", params={"from": "+819012340002"})
    assert (await other.json()) == {"messages": []}


async def test_state_and_clock_in_development(aiohttp_client, tmp_path, monkeypatch):
    client, _ = await client_for(aiohttp_client, tmp_path, monkeypatch)
    empty = await (await client.get("/sim/state", params={"from": ME})).json()
    assert empty == {"flow": None, "state": None, "slots": {}}
    await client.post("/sim/messages", json={"from": ME, "text": "予約"})
    state = await (await client.get("/sim/state", params={"from": ME})).json()
    assert state == {"flow": "demo", "state": "asked", "slots": {"n": 1}}
    clock = await (await client.get("/sim/clock")).json()
    assert clock == {"now": START.isoformat(), "development": True, "adjustable": True}
    for bad in ({"advance": "soon"}, {"advance": "-1h"}, {"advance": "400d"}, {}):
        refused = await client.post("/sim/clock", json=bad)
        assert refused.status == 400, bad
    assert (await client.get("/sim/state", params={"from": "nobody"})).status == 400


async def test_production_has_neither(aiohttp_client, tmp_path, monkeypatch):
    client, _ = await client_for(aiohttp_client, tmp_path, monkeypatch, env="production")
    assert (await client.get("/sim/state", params={"from": ME})).status == 404
    assert (await client.post("/sim/clock", json={"advance": "1h"})).status in (404, 405)
    clock = await (await client.get("/sim/clock")).json()
    assert clock["development"] is False and clock["adjustable"] is False
