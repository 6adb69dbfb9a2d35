"""The database and its -wal and -shm files are readable by the bot's user only (before:
created 0644, world-readable, whatever the umask)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.records import InboundRow
from bot.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the common default: new files 0644
    yield
    os.umask(old)


def _modes(path: Path) -> dict[str, int]:
    return {
        name: stat.S_IMODE(os.stat(str(path) + name).st_mode)
        for name in ("", "-wal", "-shm")
        if os.path.exists(str(path) + name)
    }


async def _write_some(path: Path) -> dict[str, int]:
    store = SqliteStore(path)
    await store.open(serve=True)
    row = InboundRow("twilio", "SM1", "r1", b"x", "sms", NOW, text="こんにちは")
    await store.ingest([row], NOW)
    modes = _modes(path)  # while open: the -wal and -shm exist now
    await store.close()
    return modes


async def test_new_database_and_its_wal_and_shm_are_0600(
    tmp_path: Path, permissive_umask: None
) -> None:
    modes = await _write_some(tmp_path / "var" / "bot.db")
    assert set(modes) == {"", "-wal", "-shm"}
    assert modes == dict.fromkeys(modes, 0o600), {k: oct(v) for k, v in modes.items()}


async def test_an_existing_world_readable_database_is_made_private(
    tmp_path: Path, permissive_umask: None
) -> None:
    path = tmp_path / "bot.db"
    await _write_some(path)
    for name in ("", "-wal", "-shm"):
        if os.path.exists(str(path) + name):
            os.chmod(str(path) + name, 0o644)
    modes = await _write_some(path)
    assert modes == dict.fromkeys(modes, 0o600), {k: oct(v) for k, v in modes.items()}
