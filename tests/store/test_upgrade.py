"""A database made before the store seam (schema_migrations 1-3) opens, is adopted by the
owners' migration sets without re-running them, keeps its data, and serves turns."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime
from pathlib import Path

from bot.clock import TOKYO, FrozenClock
from bot.store.sqlite import SqliteStore
from bot.store.sqlite.connection import open_database
from bot.store.sqlite.schema import migrate
from tests.foundation.helpers import RecordingResponder, StoreHarness

BEFORE = Path(__file__).parent / "fixtures" / "before_seam.sql"
ALICE, BOB = "a" * 32, "b" * 32
# Steps added after the seam (the staff console's, the understanding's): an old database
# gets them on opening.
AFTER_THE_SEAM = [
    ("pipeline", "inbox by resident"),
    ("pipeline", "residents.district_town"),
    ("pipeline", "inbox.limited"),
    ("pipeline", "outbox.claimed_at, doubt_since"),
    ("pipeline", "outbox for notices"),
    ("staff", "staff notes by resident"),
    ("accounts", "accounts, sessions and sign-in failures"),
    ("audit", "audit log (hash chain)"),
    ("console", "cases, read marks and reply authors"),
    ("faq", "faq misses"),
    ("notices", "notices"),
    ("store", "health probe"),
]


def _old_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(BEFORE.read_text(encoding="utf-8"))
    conn.close()


def _shape(path: Path) -> dict[str, list[tuple]]:
    """Every table's columns (name, type, not null, default, pk) and every index's columns."""
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
                "AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations')"
            )
        ]
        shape = {}
        for name in names:
            table = conn.execute("PRAGMA table_info(%s)" % name).fetchall()  # noqa: UP031
            shape[name] = [row[1:] for row in table] or [
                row[1:]
                for row in conn.execute("PRAGMA index_info(%s)" % name)  # noqa: UP031
            ]
        return shape
    finally:
        conn.close()


def test_an_old_database_is_adopted_not_migrated_again(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    _old_database(old)
    db = open_database(old)
    # Every step it had was already there under its old number: only what came after runs.
    assert migrate(db) == [f"{owner}:{name}" for owner, name in AFTER_THE_SEAM]
    ledger = set(db.execute("SELECT owner, name FROM store_migrations").fetchall())
    assert ledger == {
        ("pipeline", "core tables"),
        ("pipeline", "residents.failed_turns"),
        ("staff", "staff notes"),
        ("bookings", "bookings"),
        *AFTER_THE_SEAM,
    }
    db.close()
    fresh = tmp_path / "fresh.db"
    db = open_database(fresh)
    migrate(db)
    db.close()
    # Upgraded or new, a database has the same tables, columns and indexes.
    assert _shape(old) == _shape(fresh)


def test_an_old_database_keeps_its_data_and_serves(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    clock = FrozenClock(datetime(2026, 11, 24, 10, 5, tzinfo=TOKYO))
    harness = StoreHarness(path, RecordingResponder(), clock)
    try:
        # The reply that was being sent when the old process stopped goes out again.
        assert harness.sql("SELECT status FROM outbox") == [("pending",)]
        # The pending message is processed, after the one already done, with its state.
        assert harness.process_all() == [2]
        assert [m.text for m in harness.sent_to(ALICE)][-1] == "echo 1: 机"

        async def read() -> tuple:
            store = harness.store
            conversation = await store.conversation(ALICE)
            cases = await store.console.read(
                lambda work: [
                    (case, work.cases.waiting_notes(case.resident_id))
                    for case in work.cases.open_cases(0)
                ]
            )
            return conversation, cases

        conversation, cases = harness.loop.run(read())
        assert conversation == {"count": 1}  # the RecordingResponder's state replaced it
        assert [case.resident_id for case, _ in cases] == [BOB]
        assert cases[0][1][0].text == "伝言です"
        booked = harness.sql("SELECT receipt, collection_date, item_count FROM bookings")
        assert booked == [("H9BSMXPZ", date(2026, 12, 4).isoformat(), 2)]
        timers = harness.sql("SELECT name FROM timers")
        assert timers == [("bulky_reminder:ABCDEFGH",)]
    finally:
        harness.close()


def test_opening_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)

    async def open_close() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    asyncio.run(open_close())
    first = _shape(path)
    asyncio.run(open_close())
    assert _shape(path) == first
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM store_migrations").fetchone() == (
        4 + len(AFTER_THE_SEAM),
    )
    conn.close()
