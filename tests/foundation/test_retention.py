"""Old texts are erased; recent and unfinished ones are kept."""

from datetime import datetime, timedelta

from bot.clock import TOKYO
from bot.store import migrate, open_database
from bot.store import queries as q

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)


def test_purge_erases_old_texts_only(tmp_path):
    db = open_database(tmp_path / "bot.db")
    migrate(db)
    old, recent = NOW - timedelta(days=200), NOW - timedelta(days=3)
    for n, (when, status) in enumerate([(old, "done"), (recent, "done"), (old, "pending")]):
        inbox_id = q.insert_inbox(
            db,
            {
                "provider": "twilio",
                "provider_message_id": f"m{n}",
                "resident_id": "r1",
                "channel": "sms",
                "text": f"住所は桜台3丁目 {n}",
                "received_at": q.utc_text(when),
            },
        )
        db.execute("UPDATE inbox SET status = ? WHERE id = ?", [status, inbox_id])
        q.add_outbox(
            db,
            {
                "resident_id": "r1",
                "provider": "twilio",
                "channel": "sms",
                "text": f"返信 {n}",
                "inbox_id": inbox_id,
                "created_at": q.utc_text(when),
                "status": "sent" if status == "done" else "pending",
                "idempotency_key": f"k{n}",
            },
        )
    q.add_staff_note(db, "r1", "message", "古い伝言", old)
    db.execute("UPDATE staff_notes SET seen = 1")
    counts = q.purge_old(db, NOW - timedelta(days=180))
    assert counts["inbox"] == 1 and counts["outbox"] == 1 and counts["staff_notes"] == 1
    texts = [r[0] for r in db.execute("SELECT text FROM inbox ORDER BY id").fetchall()]
    assert texts == ["", "住所は桜台3丁目 1", "住所は桜台3丁目 2"]  # pending work kept
    replies = [r[0] for r in db.execute("SELECT text FROM outbox ORDER BY id").fetchall()]
    assert replies == ["", "返信 1", "返信 2"]
    # The erased message still counts as seen: a provider retry is still a duplicate.
    assert (
        q.insert_inbox(
            db,
            {
                "provider": "twilio",
                "provider_message_id": "m0",
                "resident_id": "r1",
                "channel": "sms",
                "text": "again",
                "received_at": q.utc_text(NOW),
            },
        )
        is None
    )
    assert q.purge_old(db, NOW - timedelta(days=180)) == dict.fromkeys(counts, 0)
    db.close()
