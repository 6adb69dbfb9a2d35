"""One row that cannot be stored fails alone: the rest of its group commit is stored.

Before: a row whose values SQLite refuses (a lone surrogate in a message id, a NUL-free
but unbindable value, …) raised inside the group commit and every webhook in the group
got 503 (179 of 200 concurrent signed webhooks)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.base import Inbound
from bot.store.base import RowNotStored, StoreUnavailable
from bot.store.records import InboundRow
from bot.store.sqlite import SqliteStore
from tests.fakes.harness import make_pipeline

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def _row(i: int, message_id: str | None = None) -> InboundRow:
    return InboundRow(
        provider="twilio",
        provider_message_id=message_id or f"SM{i:032x}",
        resident_id=f"resident-{i % 7}",
        phone_enc=b"\x00" * 28,
        channel="sms",
        received_at=NOW,
        text=f"メッセージ {i}",
    )


@pytest.mark.parametrize(
    "poison",
    [
        {"provider_message_id": "SM\ud800"},  # a lone surrogate: not UTF-8, cannot be bound
        {"text": "x\udfff"},
        {"provider_message_id": None},  # NOT NULL
        {"postback": "\ud83d"},
    ],
)
async def test_a_row_that_cannot_be_inserted_fails_alone(tmp_path: Path, poison: dict) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        rows = [_row(i) for i in range(200)]
        for key, value in poison.items():
            setattr(rows[117], key, value)
        results = await store.ingest(rows, NOW)
    finally:
        await store.close()
    assert [i for i, res in enumerate(results) if res.error] == [117]
    assert all(res.inbox_id > 0 and not res.duplicate for i, res in enumerate(results) if i != 117)
    db = sqlite3.connect(tmp_path / "bot.db")
    stored = {row[0] for row in db.execute("SELECT provider_message_id FROM inbox")}
    db.close()
    assert stored == {f"SM{i:032x}" for i in range(200) if i != 117}


async def test_a_database_failure_still_fails_the_whole_group(tmp_path: Path) -> None:
    """Only the row's own faults are isolated: when the database itself refuses every
    write (here: the intake connection made read-only), no row is reported stored."""
    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    lane = store._intake  # the test reaches the connection to break it
    await lane.thread.run(lambda: lane.db.conn.execute("PRAGMA query_only=ON"))
    try:
        with pytest.raises(StoreUnavailable):
            await store.ingest([_row(i) for i in range(10)], NOW)
    finally:
        await store.close()


async def test_concurrent_messages_with_one_poisoned_are_stored_but_that_one(
    tmp_path: Path,
) -> None:
    """Through the pipeline's group commit: 200 messages arriving together, one of them
    with an id the database refuses; 199 are acknowledged, the poisoned one gets its own
    error."""
    pipeline, _ = make_pipeline(tmp_path)
    await pipeline.start()
    try:
        inbound = [
            Inbound("rcs", "rcs", f"msg-{i}", f"+8190{i:08d}", f"こんにちは {i}")
            for i in range(200)
        ]
        inbound[42].provider_message_id = "msg-\ud800"
        results = await asyncio.gather(
            *(pipeline.ingest(item) for item in inbound), return_exceptions=True
        )
    finally:
        await pipeline.stop()
    failed = [i for i, res in enumerate(results) if isinstance(res, BaseException)]
    assert failed == [42]
    assert isinstance(results[42], RowNotStored)
    db = sqlite3.connect(tmp_path / "bot.db")
    count = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
    db.close()
    assert count == 199
