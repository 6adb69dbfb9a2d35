"""The store contract, turns: order, batching, duplicates, failures, timers, handoff —
on every backend (tests/store/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.base import Inbound
from bot.clock import TOKYO, FrozenClock
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from tests.foundation.helpers import SECRET, RecordingResponder, StoreHarness
from tests.support.sealed import Opener

OPENER = Opener(SECRET)


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


@pytest.fixture
def env(location):
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))
    responder = RecordingResponder()
    processor = StoreHarness(location, responder, clock)
    db = processor.sql
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
    batches = {row[0] for row in db("SELECT batch FROM inbox")}
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
    assert db.one("SELECT count(*) FROM inbox") == 1


def test_a_failing_turn_gets_an_apology_and_does_not_block_the_queue(env):
    processor, responder, send, vault, _, db = env
    send("+819044440001", "boom")
    send("+819044440001", "after")
    processor.process_all()
    replies = _replies(processor, vault, "+819044440001")
    assert "申し訳ありません" in replies[0]
    assert replies[1] == "echo 1: after"  # the failed turn left no half-written state
    statuses = [r[0] for r in db("SELECT status FROM inbox ORDER BY id")]
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
    statuses = [r[0] for r in db("SELECT status FROM inbox ORDER BY id")]
    assert statuses == ["done", "failed", "failed", "done", "failed", "done"]


def test_failing_timers_do_not_count_towards_a_restart(env):
    processor, responder, send, vault, clock, db = env
    number = "+819044440003"
    send(number, "poison")
    processor.process_all()
    db(
        "INSERT INTO timers (resident_id, name, due_at) VALUES (?, 'explode', ?)",
        [vault.resident_id(number), utc_text(clock.now())],
    )
    processor.process_all()  # the timer fails: nothing is sent, nothing counted
    send(number, "a")
    processor.process_all()
    replies = _replies(processor, vault, number)
    assert len(replies) == 2 and replies[1].startswith("申し訳ありません。うまく処理")
    statuses = [r[0] for r in db("SELECT status FROM inbox ORDER BY id")]
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
    db(
        "UPDATE residents SET notices_enabled = ? WHERE id = ?",
        [False, vault.resident_id("+819066660001")],
    )
    clock.advance(timedelta(hours=2))
    processor.process_all()
    assert responder.turns[-1].kind == "timer"
    assert "reminder nudge" not in _replies(processor, vault, "+819066660001")


def test_handed_off_residents_get_silence_and_staff_see_the_message(env):
    processor, responder, send, vault, _, db = env
    send("+819077770001", "hello")
    processor.process_all()
    db("UPDATE residents SET handoff = ? WHERE id = ?", [True, vault.resident_id("+819077770001")])
    send("+819077770001", "担当の方へ")
    processor.process_all()
    assert _replies(processor, vault, "+819077770001") == ["echo 1: hello"]
    assert [(k, OPENER.text(t)) for k, t in db("SELECT kind, text FROM staff_notes")] == [
        ("message", "担当の方へ")
    ]


def test_redacted_and_truncated_messages_are_stored_clean_and_explained(env):
    processor, responder, send, vault, _, db = env
    send("+819088880001", "カード 4111 1111 1111 1111 です")
    send("+819088880002", "あ" * 20_000)
    processor.process_all()
    stored = [OPENER.text(r[0]) for r in db("SELECT text FROM inbox ORDER BY id")]
    assert "4111" not in stored[0]
    assert len(stored[1]) == 2000
    assert "安全のため" in _replies(processor, vault, "+819088880001")[0]
    assert "2000文字" in _replies(processor, vault, "+819088880002")[0]


def test_numbers_and_texts_never_reach_the_database_in_plain_text(env, location, tmp_path):
    """Planted: the sender's number, a number and a name typed in a message, and a note for
    staff. None of it is in any column of any table (PostgreSQL: every row as the server
    prints it, bytea in hex) or in the bytes of the SQLite file, its WAL and shared memory."""
    processor, _, send, vault, _, db = env
    planted = ["9012349876", "山田花子", "08024681357", "担当の方へ山田です"]
    send("+819012349876", "山田花子です。08024681357にお願いします", message_id="SM-plain-check")
    processor.process_all()
    db("UPDATE residents SET handoff = ? WHERE id = ?", [True, vault.resident_id("+819012349876")])
    send("+819012349876", "担当の方へ山田です", message_id="SM-plain-note")
    processor.process_all()
    assert db.one("SELECT count(*) FROM staff_notes") == 1
    if db.postgres:
        tables = [
            r[0] for r in db("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        raw = "".join(str(db(f"SELECT t::text FROM {t} t")) for t in tables).encode()
        assert not [p for p in planted if p.encode().hex().encode() in raw]  # bytea
    else:
        db("PRAGMA wal_checkpoint(FULL)")
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot.db"))
    assert b"SM-plain-check" in raw  # the check itself sees what is stored in clear
    assert [p for p in planted if p.encode() in raw] == []


class _BadTimer:
    """A turn handler whose turn for "bad" asks for a timer the database cannot store."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.failures: list[BaseException] = []

    def now(self):
        return self.clock.now()

    def handle(self, item, services, now):
        from bot.store.records import Completion, NewOutbox, Timer

        timers = [Timer("t", "not a time")] if item.text == "bad" else []  # type: ignore[arg-type]
        reply = NewOutbox("sim", "sms", f"ok {item.text}", f"{item.id}-0", status="sent")
        return Completion(
            save_conversation=True, conversation={"n": 1}, timers=timers, outbox=[reply]
        )

    def failed(self, item, error, now):
        from bot.store.records import Completion

        self.failures.append(error)
        return Completion(status="failed")


def test_a_completion_the_database_refuses_fails_that_turn_alone(env):
    processor, _, send, vault, clock, db = env
    for n, text in enumerate(["good", "bad", "fine"]):
        send(f"+81901234000{n}", text)
    handler = _BadTimer(clock)
    while processor.run(processor.store.process_batch(handler, 32)).inbox_ids:
        pass
    assert [s for (s,) in db("SELECT status FROM inbox ORDER BY id")] == ["done", "failed", "done"]
    assert sorted(OPENER.text(t) for (t,) in db("SELECT text FROM outbox")) == [
        "ok fine",
        "ok good",
    ]
    assert db.one("SELECT count(*) FROM conversations") == 2
    assert len(handler.failures) == 1


def test_a_lost_connection_is_reported_and_the_next_call_works(env, location):
    """PostgreSQL restarted or a connection cut: the call in flight raises StoreUnavailable
    (a webhook answers 503 and the provider retries), nothing is half-written, and the pool
    connects again for the next call."""
    from bot.store.base import StoreUnavailable

    processor, _, send, vault, _, db = env
    if not db.postgres:
        pytest.skip("a SQLite file has no connection to lose")
    send("+819099990001", "before")
    db(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND application_name = 'sakura-bot'"
    )
    with pytest.raises(StoreUnavailable):
        send("+819099990001", "lost")
    send("+819099990001", "after")
    processor.process_all()
    assert _replies(processor, vault, "+819099990001") == ["echo 1: before", "echo 2: after"]


class _Asker:
    """A turn handler that records each message as a question the FAQ could not answer and
    remembers the town the resident gave (a message "town:本町")."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.seen: list = []

    def now(self):
        return self.clock.now()

    def handle(self, item, services, now):
        from bot.store.records import Completion, FaqMiss

        self.seen.append((item.resident, services.residents.get(item.resident_id)))
        done = Completion()
        if item.text.startswith("town:"):
            done.resident.update({"district": "中央", "town": item.text[5:]})
        elif item.text == "forget":
            done.resident.update({"district": None, "town": None})
        else:
            done.faq_misses.append(FaqMiss.of(item.text))
        return done

    def failed(self, item, error, now):
        raise AssertionError(error)


def test_faq_misses_are_counted_and_a_residents_town_is_remembered(env):
    processor, _, send, vault, clock, db = env
    asker = _Asker(clock)
    send("+819012340001", "粗大ごみの 出し方")
    send("+819012340002", "粗大ごみの出し方")  # the same question, written otherwise
    send("+819012340003", "犬の登録は？")
    send("+819012340001", "town:本町")
    send("+819012340001", "次は？")
    while processor.run(processor.store.process_batch(asker, 32)).inbox_ids:
        clock.advance(timedelta(minutes=1))
    top = processor.run(processor.store.faq.most_frequent(10))
    assert [(m.text, m.count) for m in top][:1] == [("粗大ごみの 出し方", 2)]
    assert sorted(m.count for m in top) == [1, 1, 2]
    # The turn after the town was given reads it, both from its claim and its services.
    claimed, looked_up = asker.seen[-1]
    assert (
        (claimed.district, claimed.town) == ("中央", "本町") == (looked_up.district, looked_up.town)
    )
    send("+819012340001", "forget")
    send("+819012340001", "また")
    while processor.run(processor.store.process_batch(asker, 32)).inbox_ids:
        pass
    assert asker.seen[-1][0].town is None
