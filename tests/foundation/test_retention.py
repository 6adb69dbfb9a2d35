"""Old texts are erased; recent and unfinished ones are kept."""

import asyncio
from datetime import datetime, timedelta

from bot.clock import TOKYO
from bot.store.records import InboundRow
from bot.store.sqlite import SqliteStore, outbox, staff
from bot.store.sqlite import pipeline as q
from bot.store.sqlite.connection import open_database
from bot.store.sqlite.schema import migrate

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)


def _row(message_id: str, text: str, when: datetime) -> InboundRow:
    return InboundRow("twilio", message_id, "r1", None, "sms", when, text=text)


def test_purge_erases_old_texts_only(tmp_path):
    db = open_database(tmp_path / "bot.db")
    migrate(db)
    old, recent = NOW - timedelta(days=200), NOW - timedelta(days=3)
    for n, (when, status) in enumerate([(old, "done"), (recent, "done"), (old, "pending")]):
        inbox_id = q.insert_inbox(db, _row(f"m{n}", f"住所は桜台3丁目 {n}", when))
        db.execute("UPDATE inbox SET status = ? WHERE id = ?", [status, inbox_id])
        outbox.add_outbox(
            db,
            "r1",
            "twilio",
            "sms",
            "reply",
            f"返信 {n}",
            [],
            inbox_id,
            q.utc_text(when),
            "sent" if status == "done" else "pending",
            f"k{n}",
        )
    staff.add_note(db, "r1", "message", "古い伝言", q.utc_text(old))
    db.execute("UPDATE staff_notes SET seen = 1")
    db.conn.commit()
    db.close()

    async def purge_twice() -> tuple[dict[str, int], dict[str, int]]:
        store = SqliteStore(tmp_path / "bot.db")
        await store.open()
        try:
            first = await store.purge_old(NOW - timedelta(days=180))
            second = await store.purge_old(NOW - timedelta(days=180))
        finally:
            await store.close()
        return first, second

    counts, again = asyncio.run(purge_twice())
    assert counts["inbox"] == 1 and counts["outbox"] == 1 and counts["staff_notes"] == 1
    db = open_database(tmp_path / "bot.db")
    texts = [r[0] for r in db.execute("SELECT text FROM inbox ORDER BY id").fetchall()]
    assert texts == ["", "住所は桜台3丁目 1", "住所は桜台3丁目 2"]  # pending work kept
    replies = [r[0] for r in db.execute("SELECT text FROM outbox ORDER BY id").fetchall()]
    assert replies == ["", "返信 1", "返信 2"]
    # The erased message still counts as seen: a provider retry is still a duplicate.
    assert q.insert_inbox(db, _row("m0", "again", NOW)) is None
    assert again == dict.fromkeys(counts, 0)
    db.close()
