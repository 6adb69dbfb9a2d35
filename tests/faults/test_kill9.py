"""kill -9 three times while 30 residents text the bot: after each restart the bot is
healthy again, and in the end every acknowledged message is stored, processed and answered
once — at most one SMS repeated per crash (before: ~9 per kill, the unrecorded rest of a
batch of 20; now sends are recorded as they finish and those in flight are reconciled with
Twilio's message list before any resend)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.twilio import FakeTwilio
from tests.faults.harness import (
    PgDb,
    Residents,
    Server,
    bot_env,
    check_nothing_lost,
    duplicates,
    number,
    settled,
    sid,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
RESIDENTS = 30
KILLS = 3


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path: Path) -> tuple[Path | str, Path | PgDb]:
    """BOT_DB and how the test reads it: a SQLite file, or a PostgreSQL schema of its own
    (a killed process's sends are taken over when its lease runs out, in doubt)."""
    if request.param == "sqlite":
        return tmp_path / "bot.db", tmp_path / "bot.db"
    url = request.getfixturevalue("pg_url")
    return url, PgDb(url)


async def test_kill_9_three_times_under_load(tmp_path: Path, database) -> None:
    fake = await FakeTwilio().start()
    location, db = database
    server = Server(bot_env(location, fake.url), tmp_path / "server.log").start()
    residents = Residents(server.base)
    stop = asyncio.Event()
    try:
        await server.healthy()

        async def resident(n: int, session: aiohttp.ClientSession) -> None:
            i = 0
            while not stop.is_set():
                status = await residents.send(session, sid(n, i), number(n), f"こんにちは {i}")
                i += 1
                if status is None:
                    await asyncio.sleep(0.1)  # down: a provider waits before it retries

        async with aiohttp.ClientSession() as session:
            load = [asyncio.create_task(resident(n, session)) for n in range(RESIDENTS)]
            for _ in range(KILLS):
                target = len(residents.acked) + 60
                while len(residents.acked) < target:
                    await asyncio.sleep(0.02)
                server.kill()
                server.start()
                await server.healthy()  # the service recovers
            target = len(residents.acked) + 30
            while len(residents.acked) < target:
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.gather(*load)
            await residents.retry_refused(session)
        await settled(db)
        check_nothing_lost(db, residents, fake)
        repeated = duplicates(fake)
        print(
            f"acknowledged={len(residents.acked)} sends={len(fake.delivered())} "
            f"kills={KILLS} duplicates={repeated}"
        )
        assert repeated <= KILLS, f"{repeated} SMS sent twice over {KILLS} crashes"
    finally:
        stop.set()
        server.stop()
        await fake.close()
