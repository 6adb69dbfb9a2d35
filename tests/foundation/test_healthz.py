"""/healthz over HTTP tells the truth about the store, /metrics counts it, the log says it,
and nothing is acknowledged while the database is gone (before: 200 with the database
deleted, and 10 of 10 later messages acknowledged, answered and lost after a restart)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import create_app
from tests.foundation.helpers import settings_for

NUMBER = "+819012340000"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(settings_for(tmp_path)))


async def test_healthz_is_200_with_the_store_and_nlu_ready(client) -> None:
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok" and body["store"] is True and body["nlu"] is True
    assert "problem" not in body


async def test_a_deleted_database_is_503_on_healthz_and_on_every_message(
    client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = await client.post("/sim/messages", json={"from": NUMBER, "text": "こんにちは"})
    assert first.status == 200
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"bot.db{suffix}").unlink(missing_ok=True)
    caplog.set_level(logging.ERROR, logger="bot.pipeline")
    statuses = []
    for i in range(10):
        response = await client.post(
            "/sim/messages", json={"from": NUMBER, "text": f"その後 {i}", "id": f"after-{i}"}
        )
        statuses.append(response.status)
    assert statuses == [503] * 10  # not one acknowledged into a file nobody will open
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 503
    assert body["status"] == "unhealthy" and body["store"] is False
    assert body["problem"] == "deleted" and "bot.db" in body["detail"]
    metrics = await (await client.get("/metrics")).text()
    assert 'bot_health_failures_total{problem="deleted"}' in metrics
    assert 'bot_http_rejected_total{reason="not_stored"} 10.0' in metrics  # each refusal counted
    assert "bot_store_healthy 0.0" in metrics
    assert any("store unhealthy" in record.getMessage() for record in caplog.records)
