"""PostgreSQL gone while the bot runs (the server stopped, the network cut: here a forwarder
between them is cut): /healthz answers 503 and says so, the log has one line for it, no
webhook is acknowledged that was not stored (the provider retries), and when the server is
back the bot recovers by itself and every acknowledged message is answered.

Before: the PostgreSQL backend's health was a constant "ok" (no probe, no fault report)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from tests.fakes.twilio import FakeTwilio
from tests.faults.harness import (
    PgDb,
    Residents,
    Server,
    bot_env,
    check_nothing_lost,
    number,
    settled,
    sid,
)
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.faults, pytest.mark.slow]
RESIDENTS = 10


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{port}"))


async def test_postgresql_gone_is_reported_refused_and_recovered(pg_url, tmp_path) -> None:
    upstream = urlsplit(pg_url)
    proxy = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    fake = await FakeTwilio().start()
    log = tmp_path / "server.log"
    server = Server(bot_env(_through(pg_url, proxy.port), fake.url), log).start()
    db = PgDb(pg_url)
    try:
        await server.healthy()
        residents = Residents(server.base)
        async with aiohttp.ClientSession() as session:
            for r in range(RESIDENTS):
                assert await residents.send(session, sid(r, 0), number(r), "こんにちは") == 200
            await settled(db)

            proxy.cut()
            body = await server.until(lambda s, _: s == 503, 60, "the cut never reported")
            assert body["problem"] == "unavailable", body
            assert "127.0.0.1" in body["detail"] and ":bot@" not in body["detail"]
            await asyncio.gather(  # at once, as a crowd would: each waits for a connection
                *(
                    residents.send(session, sid(r, 1), number(r), "まだですか")
                    for r in range(RESIDENTS)
                )
            )
            assert len(residents.refused) == RESIDENTS  # none acknowledged while cut off
            lines = log.read_text(encoding="utf-8").splitlines()
            unhealthy = [line for line in lines if "store unhealthy" in line]
            assert len(unhealthy) == 1, unhealthy  # once, not once per request or probe

            proxy.resume()
            await server.healthy(120)
            await residents.retry_refused(session)  # as the provider does
            await settled(db)
        assert len(residents.acked) == 2 * RESIDENTS
        check_nothing_lost(db, residents, fake)
        assert "store healthy again" in log.read_text(encoding="utf-8")
    finally:
        server.stop()
        await fake.close()
        proxy.close()
