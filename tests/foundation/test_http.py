"""The server over real HTTP on loopback: health, metrics and every kind of bad input."""

from __future__ import annotations

import io
import json

import pytest

from bot.app import PIPELINE, create_app
from bot.store.sqlite.connection import open_database
from tests.foundation.helpers import SECRET, settings_for
from tests.support.sealed import Opener

NUMBER = "+819012340000"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    app = create_app(settings_for(tmp_path))
    return await aiohttp_client(app)


async def _post(client, body, **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if isinstance(data, str):
        data = data.encode()
    if len(data) > 64 * 1024:
        data = io.BytesIO(data)  # aiohttp warns about large raw bodies
    return await client.post(
        "/sim/messages", data=data, headers={"Content-Type": "application/json"}, **kwargs
    )


async def test_healthz_reports_ready(client):
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["store"] is True


async def test_metrics_in_prometheus_format(client):
    await _post(client, {"from": NUMBER, "text": "こんにちは"})
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert 'bot_inbound_messages_total{duplicate="false",provider="sim"} 1.0' in text
    assert "bot_processed_messages_total 1.0" in text


async def test_a_message_gets_a_reply(client):
    response = await _post(client, {"from": NUMBER, "text": "ヘルプ", "channel": "sms"})
    assert response.status == 200
    body = await response.json()
    assert body["replies"] and all(
        isinstance(r["text"], str) and r["text"] for r in body["replies"]
    )
    assert all(isinstance(r["suggestions"], list) for r in body["replies"])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "valid JSON"),
        (b"\xff\xfe\x00broken", "UTF-8"),
        (b"[1, 2]", "JSON object"),
        ({"text": "こんにちは"}, "'from'"),
        ({"from": "09012345678", "text": "こんにちは"}, "E.164"),
        ({"from": NUMBER}, "'text'"),
        ({"from": NUMBER, "text": "   "}, "empty"),
        ({"from": NUMBER, "text": 42}, "'text'"),
        ({"from": NUMBER, "text": "hi", "channel": "fax"}, "'channel'"),
    ],
)
async def test_bad_input_gets_a_clear_400(client, body, needle):
    response = await _post(client, body)
    assert response.status == 400
    assert needle in (await response.json())["error"]


async def test_a_one_megabyte_body_is_refused_with_413(client):
    response = await _post(client, json.dumps({"from": NUMBER, "text": "あ" * 400_000}))
    assert response.status == 413
    assert "too large" in (await response.json())["error"]


async def test_emoji_only_text_gets_a_polite_reply(client):
    response = await _post(client, {"from": NUMBER, "text": "🙏😊👍"})
    assert response.status == 200
    replies = (await response.json())["replies"]
    assert replies and all("エラー" not in r["text"] for r in replies)


async def test_a_20000_character_message_is_stored_truncated_with_a_note(client, tmp_path):
    response = await _post(client, {"from": NUMBER, "text": "粗大ごみ" * 5000})
    assert response.status == 200
    texts = [r["text"] for r in (await response.json())["replies"]]
    assert any("2000文字" in t for t in texts)
    db = open_database(tmp_path / "bot.db")
    stored = db.execute("SELECT text, truncated FROM inbox").fetchone()
    db.close()
    assert len(Opener(SECRET).text(stored[0])) == 2000 and stored[1] == 1


async def test_same_message_id_twice_is_processed_once(client, tmp_path):
    body = {"from": NUMBER, "text": "こんにちは", "id": "dup-1"}
    first = await (await _post(client, body)).json()
    second = await (await _post(client, body)).json()
    assert first["duplicate"] is False and second["duplicate"] is True
    assert first["replies"] == second["replies"]
    db = open_database(tmp_path / "bot.db")
    inbox = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
    outbox = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    db.close()
    assert inbox == 1 and outbox == len(first["replies"])


async def test_unknown_paths_and_methods_are_clean_4xx(client):
    missing = await client.get("/webhooks/nowhere")
    assert missing.status == 404 and (await missing.json()) == {"error": "not found"}
    assert (await client.get("/sim/messages?from=bad")).status == 400
    wrong_method = await client.put("/sim/messages", data="{}")
    assert wrong_method.status == 405 and "error" in await wrong_method.json()


async def test_simulator_page_is_served_without_external_assets(client):
    response = await client.get("/sim/")
    html = await response.text()
    assert response.status == 200 and "text/html" in response.headers["Content-Type"]
    assert "/sim/messages" in html and "http://" not in html and "https://" not in html


async def test_the_page_polls_unsolicited_messages_by_number(client):
    await _post(client, {"from": NUMBER, "text": "こんにちは"})
    response = await client.get("/sim/messages", params={"from": NUMBER, "after": "0"})
    messages = (await response.json())["messages"]
    assert messages and messages[0]["id"] >= 1
    other = await client.get("/sim/messages", params={"from": "+819099999999", "after": "0"})
    assert (await other.json())["messages"] == []


async def test_simulator_is_absent_when_disabled(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(settings_for(tmp_path, simulator=False)))
    assert (await _post(client, {"from": NUMBER, "text": "x"})).status == 404
    assert client.server.app[PIPELINE].ready


async def test_an_emoji_cut_in_half_is_replaced_not_refused(client, tmp_path):
    """A lone surrogate in a resident's text (an emoji split by a provider) costs them
    nothing: the message is stored with U+FFFD in its place and answered."""
    body = b'{"from": "+819012340000", "text": "\\ud83d\\u3053\\u3093\\ud800"}'
    response = await _post(client, body)
    assert response.status == 200 and (await response.json())["replies"]
    db = open_database(tmp_path / "bot.db")
    stored = db.execute("SELECT text FROM inbox").fetchone()[0]
    db.close()
    assert Opener(SECRET).text(stored) == "\ufffdこん\ufffd"


@pytest.mark.parametrize(
    "body",
    [
        b'{"from": "+819012340000", "text": "x", "id": "m\\ud800"}',
        b'{"from": "+81901234\\udc00", "text": "x"}',
        b'{"from": "+819012340000", "text": "x", "postback": "choice:\\ud800"}',
    ],
)
async def test_a_lone_surrogate_in_an_identifier_is_a_clear_400(client, tmp_path, body):
    response = await _post(client, body)
    assert response.status == 400
    assert (await response.json())["error"]
    db = open_database(tmp_path / "bot.db")
    assert db.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0
    db.close()


async def test_the_simulator_cannot_reach_a_real_residents_data(client):
    """A real (e.g. Twilio) resident and the same number typed into the simulator are
    different residents: the simulator never sees the real one's replies."""
    pipeline = client.server.app[PIPELINE]
    from bot.channels.base import Inbound

    stored = await pipeline.ingest(Inbound("twilio", "sms", "SM-real-1", NUMBER, "こんにちは"))
    assert await pipeline.wait_processed(stored.inbox_id, 5)
    assert await pipeline.replies_for(stored.inbox_id)  # the real resident got a reply
    response = await client.get("/sim/messages", params={"from": NUMBER, "after": "0"})
    assert (await response.json())["messages"] == []


async def test_sms_replies_carry_numbered_choices_rcs_replies_carry_chips(client):
    sms = await (await _post(client, {"from": NUMBER, "text": "ふむふむ", "channel": "sms"})).json()
    offered = [r for r in sms["replies"] if r["suggestions"]]
    assert offered, sms
    for reply in offered:
        assert all(
            f"{i}. {label}" in reply["text"] for i, label in enumerate(reply["suggestions"], 1)
        )
    rcs = await (
        await _post(client, {"from": "+819012340009", "text": "ふむふむ", "channel": "rcs"})
    ).json()
    chips = [r for r in rcs["replies"] if r["suggestions"]]
    assert chips and all("1. " not in r["text"] for r in chips)
