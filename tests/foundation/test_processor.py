"""The processor on a real SQLite file: order, batching, duplicates, failures, timers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.channels.base import Inbound
from bot.clock import TOKYO, FrozenClock
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.store.sqlite import pipeline as q
from tests.foundation.helpers import SECRET, RecordingResponder, StoreHarness


@pytest.fixture
def env(tmp_path):
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))
    responder = RecordingResponder()
    processor = StoreHarness(tmp_path / "bot.db", responder, clock)
    db = processor.db
    vault = NumberVault(SECRET)

    def send(number: str, text: str, message_id: str | None = None, provider: str = "twilio"):
        inbound = Inbound(provider, "sms", message_id or f"{number}-{text}", number, text)
        return processor.ingest([prepare_inbound(inbound, vault, clock.now())])[0]

    yield processor, responder, send, vault, clock, db
    processor.close()


def _replies(processor, vault, number):
    return [row.text for row in processor.sent_to(vault.resident_id(number))]


def test_one_residents_messages_are_processed_in_arrival_order(env):
    processor, responder, send, vault, _, db = env
    send("+819011110001", "first")
    send("+819011110001", "second")
    send("+819011110002", "other")
    batch = processor.process_batch()
    # The second message waits for the first; the other resident goes in the same batch.
    assert sorted(t.text for t in responder.turns) == ["first", "other"]
    assert len(batch.inbox_ids) == 2
    processor.process_batch()
    assert _replies(processor, vault, "+819011110001") == ["echo 1: first", "echo 2: second"]


def test_fifty_residents_are_processed_together(env):
    processor, responder, send, _, _, db = env
    for n in range(50):
        send(f"+8190222{n:05d}", "こんにちは")
    result = processor.process_batch(limit=64)
    assert len(result.inbox_ids) == 50
    batches = {row[0] for row in db.execute("SELECT batch FROM inbox").fetchall()}
    assert len(batches) == 1  # one transaction, one fsync, for all fifty


def test_duplicate_provider_message_id_is_acknowledged_and_ignored(env):
    processor, responder, send, vault, _, db = env
    first = send("+819033330001", "粗大ごみ", message_id="SM123")
    second = send("+819033330001", "粗大ごみ", message_id="SM123")
    assert first.duplicate is False and (second.inbox_id, second.duplicate) == (
        first.inbox_id,
        True,
    )
    processor.process_all()
    assert len(responder.turns) == 1
    assert _replies(processor, vault, "+819033330001") == ["echo 1: 粗大ごみ"]
    assert db.execute("SELECT count(*) FROM inbox").fetchone()[0] == 1


def test_a_failing_turn_gets_an_apology_and_does_not_block_the_queue(env):
    processor, responder, send, vault, _, db = env
    send("+819044440001", "boom")
    send("+819044440001", "after")
    processor.process_all()
    replies = _replies(processor, vault, "+819044440001")
    assert "申し訳ありません" in replies[0]
    assert replies[1] == "echo 1: after"  # the failed turn left no half-written state
    statuses = [r[0] for r in db.execute("SELECT status FROM inbox ORDER BY id").fetchall()]
    assert statuses == ["failed", "done"]


def test_a_resident_is_not_stuck_when_what_is_stored_for_them_fails_every_turn(env):
    processor, responder, send, vault, _, db = env
    number = "+819044440002"
    for text in ("poison", "a", "b", "c", "boom", "d"):
        send(number, text)
    processor.process_all()
    replies = _replies(processor, vault, number)
    assert replies[0] == "echo 1: poison"
    assert replies[1].startswith("申し訳ありません。うまく処理")  # once: maybe passing
    assert "最初に戻しました" in replies[2]  # twice running: the conversation restarts
    assert replies[3] == "echo 1: c"  # a fresh conversation
    assert replies[4].startswith("申し訳ありません。うまく処理")
    assert replies[5] == "echo 2: d"  # one failure alone keeps the conversation
    statuses = [r[0] for r in db.execute("SELECT status FROM inbox ORDER BY id").fetchall()]
    assert statuses == ["done", "failed", "failed", "done", "failed", "done"]


def test_failing_timers_do_not_count_towards_a_restart(env):
    processor, responder, send, vault, clock, db = env
    number = "+819044440003"
    send(number, "poison")
    processor.process_all()
    db.execute(
        "INSERT INTO timers (resident_id, name, due_at) VALUES (?, 'explode', ?)",
        [vault.resident_id(number), q.utc_text(clock.now())],
    )
    processor.process_all()  # the timer fails: nothing is sent, nothing counted
    send(number, "a")
    processor.process_all()
    replies = _replies(processor, vault, number)
    assert len(replies) == 2 and replies[1].startswith("申し訳ありません。うまく処理")
    statuses = [r[0] for r in db.execute("SELECT status FROM inbox ORDER BY id").fetchall()]
    assert statuses == ["done", "failed", "failed"]


def test_without_a_stored_conversation_there_is_nothing_to_restart(env):
    processor, responder, send, vault, _, db = env
    number = "+819044440004"
    send(number, "boom", message_id="m1")
    send(number, "boom", message_id="m2")
    processor.process_all()
    replies = _replies(processor, vault, number)
    assert len(replies) == 2
    assert all(r.startswith("申し訳ありません。うまく処理") for r in replies)


def test_timers_fire_through_the_residents_queue(env):
    processor, responder, send, vault, clock, db = env
    send("+819055550001", "remind")
    processor.process_all()
    clock.advance(timedelta(minutes=59))
    processor.process_all()
    assert [t.kind for t in responder.turns] == ["message"]
    clock.advance(timedelta(minutes=2))
    processor.process_all()
    assert [t.kind for t in responder.turns] == ["message", "timer"]
    assert responder.turns[-1].timer == "nudge"
    assert _replies(processor, vault, "+819055550001")[-1] == "reminder nudge"


def test_notices_are_suppressed_for_residents_who_opted_out(env):
    processor, responder, send, vault, clock, db = env
    send("+819066660001", "remind")
    processor.process_all()
    q.update_resident(db, vault.resident_id("+819066660001"), {"notices_enabled": False})
    clock.advance(timedelta(hours=2))
    processor.process_all()
    assert responder.turns[-1].kind == "timer"
    assert "reminder nudge" not in _replies(processor, vault, "+819066660001")


def test_handed_off_residents_get_silence_and_staff_see_the_message(env):
    processor, responder, send, vault, _, db = env
    send("+819077770001", "hello")
    processor.process_all()
    q.update_resident(db, vault.resident_id("+819077770001"), {"handoff": True})
    send("+819077770001", "担当の方へ")
    processor.process_all()
    assert _replies(processor, vault, "+819077770001") == ["echo 1: hello"]
    notes = list(db.query("SELECT kind, text FROM staff_notes"))
    assert notes == [{"kind": "message", "text": "担当の方へ"}]


def test_redacted_and_truncated_messages_are_stored_clean_and_explained(env):
    processor, responder, send, vault, _, db = env
    send("+819088880001", "カード 4111 1111 1111 1111 です")
    send("+819088880002", "あ" * 20_000)
    processor.process_all()
    stored = [r[0] for r in db.execute("SELECT text FROM inbox ORDER BY id").fetchall()]
    assert "4111" not in stored[0]
    assert len(stored[1]) == 2000
    assert "安全のため" in _replies(processor, vault, "+819088880001")[0]
    assert "2000文字" in _replies(processor, vault, "+819088880002")[0]


def test_numbers_never_reach_the_database_file_in_plain_text(env, tmp_path):
    processor, _, send, _, _, db = env
    send("+819012349876", "こんにちは", message_id="SM-plain-check")
    processor.process_all()
    db.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot.db"))
    assert b"9012349876" not in raw
    assert "こんにちは".encode() in raw  # the check itself can see stored text
