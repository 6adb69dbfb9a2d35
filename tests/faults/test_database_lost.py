"""The database deleted, then corrupted, while the bot runs: /healthz says which, nothing is
acknowledged that cannot be kept, a restart on the damaged file stops with one line, and
after a restore from `bot backup` every message acknowledged is there and answered.

Before: with the file deleted, 10 of 10 later messages were acknowledged, answered and gone
after a restart, with no log line; /healthz said 200; a corrupt file at start-up gave a
raw traceback."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.twilio import FakeTwilio
from tests.faults.harness import (
    KEY,
    Residents,
    Server,
    bot_env,
    check_nothing_lost,
    number,
    settled,
    sid,
)
from tests.support.server import ROOT

pytestmark = [pytest.mark.faults, pytest.mark.slow]
RESIDENTS = 10


def _bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": KEY},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def _texts(residents: Residents, session: aiohttp.ClientSession, round_: int) -> None:
    """One message from each resident, at once (as a busy minute brings them)."""
    await asyncio.gather(
        *(
            residents.send(session, sid(n, round_), number(n), f"粗大ごみ {round_}")
            for n in range(RESIDENTS)
        )
    )


def _restore(db: Path, backup: Path) -> None:
    """docs/operations.md: the damaged file and its -wal/-shm aside, the backup in place."""
    aside = db.parent / "damaged"
    aside.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(db) + suffix)
        if path.exists():
            shutil.move(path, aside / (path.name + f".{os.getpid()}"))
    shutil.copy2(backup, db)


def _scribble(db: Path) -> None:
    """Damage as a failing disk or a stray process makes it: garbage over the file's first
    pages and some in the middle (another process: this one must not hold the file)."""
    size = db.stat().st_size
    code = (
        "import os, sys; f = os.open(sys.argv[1], os.O_WRONLY); "
        "[os.pwrite(f, os.urandom(4096), at) for at in map(int, sys.argv[2:])]; os.close(f)"
    )
    offsets = [0, 4096, size // 2, max(size - 8192, 8192)]
    subprocess.run([sys.executable, "-c", code, str(db), *map(str, offsets)], check=True)


async def test_database_deleted_then_corrupted_while_running(tmp_path: Path) -> None:
    fake = await FakeTwilio().start()
    db = tmp_path / "var" / "bot.db"
    backup = tmp_path / "backups" / "bot.db"
    backup.parent.mkdir()
    server = Server(bot_env(db, fake.url), tmp_path / "server.log").start()
    residents = Residents(server.base)
    try:
        await server.healthy()
        async with aiohttp.ClientSession() as session:
            # ---- deleted ------------------------------------------------------------
            for round_ in range(3):
                await _texts(residents, session, round_)
            assert len(residents.acked) == 3 * RESIDENTS
            await settled(db)
            assert _bot("backup", str(backup), "--db", str(db)).returncode == 0
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            before = len(residents.acked)
            for round_ in range(3, 6):
                await _texts(residents, session, round_)
            assert len(residents.acked) == before, "acknowledged into a deleted database"
            body = await server.until(lambda s, _: s == 503, 60, "health never said deleted")
            assert body["problem"] == "deleted" and str(db) in body["detail"]
            log = (tmp_path / "server.log").read_text()
            assert "store unhealthy" in log and "deleted" in log
            server.stop()
            _restore(db, backup)
            server.start()
            await server.healthy()  # recovers, on the restored file
            await residents.retry_refused(session)  # the provider's retries
            await settled(db)
            check_nothing_lost(db, residents, fake)

            # ---- corrupted ----------------------------------------------------------
            assert _bot("backup", str(backup), "--db", str(db)).returncode == 0
            checkpoint = sqlite3.connect(db)  # the pages in the file itself, as when idle
            checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            checkpoint.close()
            _scribble(db)
            body = await server.until(lambda s, _: s == 503, 60, "health never said corrupt")
            assert body["problem"] == "corrupt", body
            before = len(residents.acked)
            for round_ in range(6, 9):
                await _texts(residents, session, round_)
            assert len(residents.acked) == before, "acknowledged into a corrupt database"
            server.stop()
            started = _bot("serve", "--db", str(db), "--port", "0")
            assert started.returncode == 2, started.stderr
            assert len(started.stderr.strip().splitlines()) == 1, started.stderr
            assert str(db) in started.stderr and "corrupt" in started.stderr
            _restore(db, backup)
            server.start()
            await server.healthy()
            await residents.retry_refused(session)
            await settled(db)
        check_nothing_lost(db, residents, fake)
        assert len(residents.acked) == 9 * RESIDENTS
    finally:
        server.stop()
        await fake.close()
