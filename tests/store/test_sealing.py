"""Residents' texts at rest: sealed on the way into any backend, opened on the way out; a
database written before sealing is sealed in place at its first open, and no plain copy
stays in the file, its WAL or its shared memory."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import TOKYO, FrozenClock
from bot.identity import SealedTextError, TextVault
from bot.pipeline.turns import TurnRunner
from bot.store import open_store
from bot.store.records import InboundRow
from bot.store.sqlite import outbox, pipeline, staff
from bot.store.sqlite.connection import open_database, write_transaction
from bot.store.sqlite.schema import migrate
from bot.system_texts import SystemTexts
from tests.foundation.helpers import ROOT, SECRET, RecordingResponder

BEFORE = Path(__file__).parent / "fixtures" / "before_seam.sql"
ALICE, BOB = "a" * 32, "b" * 32
NOW = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
PLANTED = "山田太郎です。電話は090-1234-5678です"
# Texts written in clear by older versions (the fixture's and the ones planted below).
CLEAR = [
    PLANTED,
    "山田太郎",
    "090-1234-5678",
    "粗大ごみを出したい",
    "品目を教えてください",
    "伝言です",
]


def _raw(path: Path) -> bytes:
    return b"".join(
        Path(str(path) + suffix).read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(str(path) + suffix).exists()
    )


def _found(path: Path) -> list[str]:
    raw = _raw(path)
    return [text for text in CLEAR if text.encode() in raw]


def _plain_database(path: Path) -> None:
    """A database as the versions before sealing left it: every text in clear."""
    conn = sqlite3.connect(path)
    conn.executescript(BEFORE.read_text(encoding="utf-8"))
    conn.close()
    db = open_database(path)
    migrate(db)
    stamp = pipeline.utc_text(NOW)
    with write_transaction(db):
        row = InboundRow(
            "sim", "m-planted", BOB, b"x", "sms", NOW, text=PLANTED, postback="山田太郎"
        )
        inbox_id = pipeline.insert_inbox(db, row)
        db.execute("UPDATE inbox SET status = 'done' WHERE id = ?", [inbox_id])
        outbox.add_outbox(
            db, BOB, "sim", "sms", "reply", f"受け付けました: {PLANTED}", ["山田太郎様"],
            inbox_id, stamp, "sent", "planted-0",
        )  # fmt: skip
        pipeline.save_conversation(db, BOB, {"slots": {"name": "山田太郎"}}, stamp)
        staff.add_note(db, BOB, "message", PLANTED, stamp)
        db.execute(
            "INSERT INTO timers (resident_id, name, due_at, payload) VALUES (?, ?, ?, ?)",
            [BOB, "nudge", "2027-01-01T00:00:00.000000+00:00", json.dumps({"note": PLANTED})],
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def test_an_older_database_is_sealed_in_place_and_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    _plain_database(path)
    assert set(_found(path)) == set(CLEAR)  # the check can see clear text

    async def first_open() -> tuple:
        store = open_store(path, TextVault(SECRET))
        await store.open(serve=True)
        try:
            clock = FrozenClock(datetime(2026, 11, 24, 10, 40, tzinfo=TOKYO))
            runner = TurnRunner(RecordingResponder(), clock, SystemTexts.load(ROOT / "flows"))
            processed = await store.process_batch(runner, 32)  # the fixture's pending "机"
            return (
                processed.inbox_ids,
                [m.text for m in await store.sent_to(BOB)],
                [m.suggestions for m in await store.sent_to(BOB)],
                await store.conversation(BOB),
                [note.text for note in (await store.staff.handoff_notes())[1]],
                [m.text for m in await store.sent_to(ALICE)],
                _found(path),
            )
        finally:
            await store.close()

    done, replies, chips, state, notes, alice, found_while_open = asyncio.run(first_open())
    assert done == [2]
    assert replies == [f"受け付けました: {PLANTED}"] and chips == [["山田太郎様"]]
    assert state == {"slots": {"name": "山田太郎"}}
    assert PLANTED in notes and "伝言です" in notes
    assert alice[-1] == "echo 1: 机"
    assert found_while_open == [] and _found(path) == []

    db = sqlite3.connect(path)
    stored = db.execute("SELECT text, postback, payload FROM inbox WHERE id = 3").fetchone()
    timer = db.execute("SELECT payload FROM timers WHERE name = 'nudge'").fetchone()[0]
    ledger = db.execute("SELECT count(*) FROM store_migrations WHERE owner = 'sealing'").fetchone()
    db.close()
    assert stored[0].startswith(TextVault.PREFIX) and stored[1].startswith(TextVault.PREFIX)
    assert json.loads(timer).keys() == {"sealed"}
    assert ledger == (1,)

    async def second_open() -> str | None:
        store = open_store(path, TextVault(SECRET))
        await store.open()
        try:
            return (await store.sent_to(BOB))[0].text
        finally:
            await store.close()

    assert asyncio.run(second_open()) == f"受け付けました: {PLANTED}"  # sealed once, not twice


def test_another_key_cannot_read_the_texts(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    _plain_database(path)

    async def read(secret: bytes) -> str:
        store = open_store(path, TextVault(secret))
        await store.open()
        try:
            return (await store.sent_to(BOB))[0].text
        finally:
            await store.close()

    assert asyncio.run(read(SECRET)) == f"受け付けました: {PLANTED}"
    with pytest.raises(SealedTextError):
        asyncio.run(read(b"another-secret-key-0123456789-abcdefghij"))


def test_any_string_round_trips_sealed() -> None:
    vault = TextVault(SECRET)
    for text in ["", "a", "山田", "\ud800 lone", "🙏" * 500, "\x00nul"]:
        sealed = vault.seal(text)
        assert sealed.isascii() and vault.open(sealed) == text
        assert vault.seal(text) != sealed  # a fresh nonce each time
