"""The store contract, delivery and intake bookkeeping: claims, sent/retry/failed, receipts,
rich-message sweeps, opting out, reads of what was sent, retention — on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.channels.base import Inbound
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.store.records import SentMark
from tests.foundation.helpers import SECRET
from tests.support.sealed import Opener

VAULT = NumberVault(SECRET)


def _send(h, number: str, text: str, provider: str = "twilio", channel: str = "sms") -> int:
    inbound = Inbound(provider, channel, f"{number}-{text}", number, text)
    return h.ingest([prepare_inbound(inbound, VAULT, h.clock.now())])[0].inbox_id


def _replies(h, *texts: str, number: str = "+819011112222", provider: str = "twilio") -> list:
    for text in texts:
        _send(h, number, text, provider, "rcs" if provider == "rcs" else "sms")
    h.process_all()
    return h.run(h.store.delivery.claim([provider], h.clock.now(), 50))


def test_claim_marks_rows_sending_replies_first_and_once(harness):
    rows = _replies(harness, "a", "b")
    assert [r.text for r in rows] == ["echo 1: a", "echo 2: b"]
    assert all(r.attempts == 1 and r.phone_enc for r in rows)
    assert VAULT.decrypt(rows[0].phone_enc) == "+819011112222"
    assert {s for (s,) in harness.sql("SELECT status FROM outbox")} == {"sending"}
    again = harness.run(harness.store.delivery.claim(["twilio"], harness.clock.now(), 50))
    assert again == []  # claimed once
    assert harness.run(harness.store.delivery.claim([], harness.clock.now(), 50)) == []


def test_sent_retry_failed_and_next_due(harness):
    store, now = harness.store.delivery, harness.clock.now()
    first, second, third = _replies(harness, "a", "b", "c")
    harness.run(store.sent([SentMark(first.id, "SMx1", now)]))
    harness.run(store.retry(second.id, now + timedelta(minutes=5), "http_503"))
    harness.run(store.failed(third.id, "bad_number", now))
    statuses = dict(harness.sql("SELECT id, status FROM outbox"))
    assert statuses == {first.id: "sent", second.id: "pending", third.id: "failed"}
    due = harness.run(store.next_due(["twilio"]))
    assert due == now + timedelta(minutes=5)
    assert harness.run(store.next_due(["rcs"])) is None
    assert harness.run(store.claim(["twilio"], now, 10)) == []  # not due yet
    later = harness.run(store.claim(["twilio"], now + timedelta(minutes=6), 10))
    assert [(r.id, r.attempts) for r in later] == [(second.id, 2)]


def test_a_receipt_moves_the_status_forward_only(harness):
    store, now = harness.store, harness.clock.now()
    (row,) = _replies(harness, "a")
    harness.run(store.delivery.sent([SentMark(row.id, "SMabc", now)]))
    assert harness.run(store.record_status("twilio", "SMabc", "delivered", None, now))
    assert harness.run(store.record_status("twilio", "SMabc", "sent", None, now))  # late
    assert harness.sql.one("SELECT status FROM outbox") == "delivered"
    assert not harness.run(store.record_status("twilio", "SMnone", "delivered", None, now))
    assert harness.sql.one("SELECT count(*) FROM delivery_events") == 3


def test_rich_messages_not_delivered_in_time_are_swept_and_switched_to_sms(harness):
    store, now = harness.store.delivery, harness.clock.now()
    (row,) = _replies(harness, "a", provider="rcs", number="+819022223333")
    harness.run(store.sent([SentMark(row.id, "rcs-1", now)]))
    assert harness.run(store.stale_rich(now - timedelta(seconds=1), 10)) == []
    stale = harness.run(store.stale_rich(now + timedelta(seconds=1), 10))
    assert [r.id for r in stale] == [row.id]
    harness.run(store.note(row.id, "rcs_revoke_refused"))
    assert harness.run(store.stale_rich(now + timedelta(seconds=1), 10)) == []
    harness.run(store.switch_to_sms(row.id, "twilio", "SMsms", now, "rcs_not_delivered"))
    assert harness.sql("SELECT provider, channel, status, provider_message_id FROM outbox") == [
        ("twilio", "sms", "sent", "SMsms")
    ]


def test_an_sms_fallback_to_try_again_is_one_write_pending_as_sms_in_doubt(harness):
    """Switched to SMS and back to pending together: a crash between two writes would have
    left the row 'sent' with no message id, and the SMS never sent."""
    store = harness.store.delivery
    (claimed,) = _replies(harness, "a", provider="rcs")  # claimed: 'sending'
    now = harness.clock.now()
    later = now + timedelta(minutes=1)
    harness.run(
        store.switch_to_sms(claimed.id, "twilio", None, now, "rcs_down;sms:timeout", later, True)
    )
    [(provider, channel, status, sid, doubt)] = harness.sql(
        "SELECT provider, channel, status, provider_message_id, doubt_since FROM outbox"
    )
    assert (provider, channel, status, sid) == ("twilio", "sms", "pending", None)
    assert doubt is not None


def test_stop_notices_is_remembered_for_the_resident(harness):
    (row,) = _replies(harness, "a")
    harness.run(harness.store.delivery.stop_notices(row.resident_id))
    assert [bool(v) for (v,) in harness.sql("SELECT notices_enabled FROM residents")] == [False]


def test_what_was_sent_is_read_back_per_message_and_per_resident(harness):
    inbox_id = _send(harness, "+819033334444", "こんにちは")
    _send(harness, "+819033334444", "remind")
    harness.process_all()
    store = harness.store
    assert harness.run(store.inbox_status(inbox_id)) == "done"
    assert harness.run(store.inbox_status(999_999)) is None
    replies = harness.run(store.replies_for(inbox_id))
    assert [(m.text, m.inbox_id, m.kind) for m in replies] == [
        ("echo 1: こんにちは", inbox_id, "reply")
    ]
    resident = VAULT.resident_id("+819033334444")
    everything = harness.run(store.sent_to(resident))
    assert [m.text for m in everything] == ["echo 1: こんにちは", "echo 2: remind"]
    assert harness.run(store.sent_to(resident, everything[0].id))[0].text == "echo 2: remind"
    assert harness.run(store.conversation(resident)) == {"count": 2}
    assert harness.run(store.next_timer_due()) == harness.clock.now() + timedelta(hours=1)


def test_old_texts_are_erased_but_rows_and_unfinished_work_stay(harness):
    _send(harness, "+819044445555", "古い話", provider="sim")  # answered in-process: sent
    harness.process_all()
    _send(harness, "+819044445555", "まだ途中")  # pending: never touched
    counts = harness.run(harness.store.purge_old(harness.clock.now() + timedelta(days=1)))
    assert counts["inbox"] == 1 and counts["outbox"] == 1 and counts["conversations"] == 1
    opener = Opener(SECRET)
    stored = harness.sql("SELECT text, status FROM inbox ORDER BY id")
    assert [(opener.text(text), status) for text, status in stored] == [
        ("", "done"),
        ("まだ途中", "pending"),
    ]
    assert harness.sql.one("SELECT count(*) FROM outbox") == 1


@pytest.mark.parametrize("rate", [5.0])
def test_a_shared_send_budget_holds_its_rate(harness, rate):
    """Two senders of one store take from one budget (PostgreSQL: a bucket in the database,
    so processes share it; SQLite: None, one process's own limiter is the whole budget)."""
    import asyncio
    import time

    first = harness.store.delivery.send_budget("twilio", rate)
    if harness.sql.postgres is False:
        assert first is None
        return
    second = harness.store.delivery.send_budget("twilio", rate)
    assert first is not None and second is not None

    async def take(n: int) -> float:
        started = time.monotonic()
        await asyncio.gather(*(b.acquire("reply") for b in (first, second) for _ in range(n)))
        return time.monotonic() - started

    # A burst of `rate` goes at once; the next `rate` sends need about a second more.
    elapsed = harness.run(take(int(rate)))
    assert elapsed >= 0.9 * (2 * rate - rate) / rate - 0.05
