"""`bot backup PATH` while the server takes messages, then a restore from it: the copy is
consistent (quick_check ok), private (0600), holds every message acknowledged before the
backup began, and a server started on it serves."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.foundation.helpers import ROOT
from tests.support.server import free_port, start_server, wait_healthy

pytestmark = pytest.mark.slow
KEY = "k" * 40


def _bot(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args, "--db", str(db)],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": KEY},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _serve(port: int, db: Path, wait: str = "0") -> subprocess.Popen:
    """`wait` 0: the simulator acknowledges as soon as a message is stored (load)."""
    return start_server(port, BOT_DB=str(db), BOT_SECRET_KEY=KEY, BOT_SIM_WAIT_SECONDS=wait)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


async def test_backup_while_serving_then_restore(tmp_path: Path) -> None:
    db = tmp_path / "var" / "bot.db"
    copy = tmp_path / "backups" / "bot-copy.db"
    copy.parent.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(port, db)
    acked: list[str] = []
    try:
        await wait_healthy(base)
        stop = asyncio.Event()

        async def resident(n: int, session: aiohttp.ClientSession) -> None:
            i = 0
            while not stop.is_set():
                message_id = f"r{n}-{i}"
                body = {"from": f"+8190{n:08d}", "text": f"こんにちは {i}", "id": message_id}
                async with session.post(f"{base}/sim/messages", json=body) as response:
                    if response.status in (200, 202):
                        acked.append(message_id)
                i += 1

        async with aiohttp.ClientSession() as session:
            load = [asyncio.create_task(resident(n, session)) for n in range(5)]
            while len(acked) < 100:
                await asyncio.sleep(0.05)
            before = set(acked)  # acknowledged before the backup began
            result = await asyncio.to_thread(_bot, "backup", str(copy), db=db)
            while len(acked) < len(before) + 50:  # and the server kept taking messages
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*load)
        assert result.returncode == 0, result.stderr
        assert "quick_check ok" in result.stdout
    finally:
        _stop(server)

    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not copy.with_name(copy.name + ".partial").exists()
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    in_copy = {row[0] for row in conn.execute("SELECT provider_message_id FROM inbox")}
    conn.close()
    assert before <= in_copy
    assert len(in_copy) < len(acked)  # a snapshot: later messages are not in it

    # Restore as docs/operations.md says: stop, move the database and its -wal/-shm
    # aside, put the copy in its place, start.
    broken = tmp_path / "broken"
    broken.mkdir()
    for suffix in ("", "-wal", "-shm"):
        old = Path(str(db) + suffix)
        if old.exists():
            shutil.move(old, broken / old.name)
    shutil.copy2(copy, db)
    server = _serve(port, db, wait="30")
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession() as session:
            body = {"from": "+819000000009", "text": "こんにちは", "id": "after-restore"}
            async with session.post(f"{base}/sim/messages", json=body) as response:
                assert response.status == 200
                assert (await response.json())["replies"]
    finally:
        _stop(server)
    conn = sqlite3.connect(db)
    restored = {row[0] for row in conn.execute("SELECT provider_message_id FROM inbox")}
    conn.close()
    assert before | {"after-restore"} <= restored


def test_backup_refuses_what_it_cannot_do_in_one_line(tmp_path: Path) -> None:
    missing = _bot("backup", str(tmp_path / "copy.db"), db=tmp_path / "none.db")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    assert "none.db" in missing.stderr
    db = tmp_path / "bot.db"
    sqlite3.connect(db).close()
    folder = _bot("backup", str(tmp_path), db=db)
    assert folder.returncode == 2 and "folder" in folder.stderr
    itself = _bot("backup", str(db), db=db)
    assert itself.returncode == 2 and len(itself.stderr.splitlines()) == 1
