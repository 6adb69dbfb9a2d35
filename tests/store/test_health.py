"""Store.health tells the truth, and a store that finds its file unusable acknowledges
nothing more (before: /healthz said 200 with the database deleted, corrupt or the disk
full, and messages written into a deleted file were acknowledged, answered and lost)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.identity import TextVault
from bot.store import Store, open_store
from bot.store.base import StoreUnavailable
from bot.store.records import InboundRow
from tests.foundation.helpers import ROOT, SECRET

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def _row(n: int) -> InboundRow:
    return InboundRow("twilio", f"SM{n:032x}", f"r{n}", b"x", "sms", NOW, text=f"こんにちは {n}")


async def _opened(path: Path) -> Store:
    store = open_store(path, TextVault(SECRET))
    await store.open(serve=True)
    await store.ingest([_row(0)], NOW)
    return store


async def _health_after(store: Store, seconds: float = 1.1):
    await asyncio.sleep(seconds)  # past the cached result
    return await store.health()


async def test_a_healthy_store_says_so(tmp_path: Path) -> None:
    store = await _opened(tmp_path / "bot.db")
    try:
        health = await store.health()
        assert health.ok and health.problem is None
    finally:
        await store.close()


async def test_a_deleted_database_is_reported_and_nothing_more_is_acknowledged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    store = await _opened(path)
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        # The next write commits into the unlinked file: it must not be acknowledged.
        with pytest.raises(StoreUnavailable, match="deleted"):
            await store.ingest([_row(1)], NOW)
        health = await _health_after(store)
        assert (health.ok, health.problem) == (False, "deleted")
        assert str(path) in health.detail
        with pytest.raises(StoreUnavailable):  # and it stays refused until a restart
            await store.ingest([_row(2)], NOW)
    finally:
        await store.close()


async def test_a_replaced_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await _opened(path)
    try:
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        os.replace(other, path)  # an operator restoring a copy under a running server
        health = await _health_after(store, 0)
        assert (health.ok, health.problem) == (False, "replaced")
        with pytest.raises(StoreUnavailable):
            await store.ingest([_row(1)], NOW)
    finally:
        await store.close()


async def test_a_corrupt_database_is_reported_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await _opened(path)
    try:
        # Everything in the main file (a checkpoint), then its first pages overwritten — by
        # another process, as damage comes: a file handle of this process's own on the
        # database would drop SQLite's locks when closed.
        checkpoint = sqlite3.connect(path)
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        checkpoint.close()
        _scribble(path, 0, 8192)
        health = await _health_after(store, 0)
        assert (health.ok, health.problem) == (False, "corrupt"), health
        with pytest.raises(StoreUnavailable):
            await store.ingest([_row(1)], NOW)
    finally:
        await store.close()


async def test_damage_deep_in_the_file_is_found_by_the_background_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages nothing reads lately are checked now and then (quick_check, off the loop)."""
    import bot.store.sqlite.store as sqlite_store

    monkeypatch.setattr(sqlite_store, "QUICK_CHECK_DELAY", 0.0)
    path = tmp_path / "bot.db"
    store = await _opened(path)
    try:
        await store.ingest([_row(n) for n in range(1, 400)], NOW)  # some pages of rows
        checkpoint = sqlite3.connect(path)
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = checkpoint.execute("PRAGMA page_count").fetchone()[0]
        checkpoint.close()
        assert pages > 8
        _scribble(path, 4096 * (pages - 3), 4096)  # a page of inbox rows, not the header
        for _ in range(100):
            health = await _health_after(store, 0.1)
            if not health.ok:
                break
        assert (health.ok, health.problem) == (False, "corrupt"), health
        assert "quick_check" in health.detail and "\n" not in health.detail
    finally:
        await store.close()


async def test_an_unwritable_disk_is_reported(tmp_path: Path) -> None:
    """Writes beside the database fail (its folder made read-only; root writes anyway, so
    there the fault suite fills a real disk instead)."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "bot.db"
    store = await _opened(path)
    try:
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere: the fault suite fills a real disk instead")
        folder.chmod(0o500)
        health = await _health_after(store, 0)
        assert (health.ok, health.problem) == (False, "unwritable"), health
    finally:
        folder.chmod(0o700)
        await store.close()


def _scribble(path: Path, offset: int, size: int) -> None:
    code = (
        "import os, sys; f = os.open(sys.argv[1], os.O_WRONLY); "
        "os.pwrite(f, os.urandom(int(sys.argv[3])), int(sys.argv[2])); os.close(f)"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(offset), str(size)], check=True)


def _serve_exit(db: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--db", str(db)],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": "k" * 40},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated_header", "a_folder"])
def test_start_up_on_an_unusable_database_exits_2_with_one_line(
    tmp_path: Path, damage: str
) -> None:
    db = tmp_path / "bot.db"
    if damage == "a_folder":
        db.mkdir()
    else:

        async def make() -> None:
            store = await _opened(db)
            await store.close()

        asyncio.run(make())
        data = db.read_bytes()
        if damage == "garbage":
            db.write_bytes(b"\x00garbage" * 64 + data[512:])
        else:
            db.write_bytes(data[:40])
    result = _serve_exit(db)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(db) in lines[0] and "Traceback" not in result.stderr
    if damage != "a_folder":
        assert "corrupt" in lines[0] and "backup" in lines[0]
    if damage == "a_folder":
        shutil.rmtree(db)
