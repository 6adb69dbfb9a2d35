"""Two stores on one database, as two `bot serve` processes share one (on SQLite: two
connections of one file, which is what SQLite offers; on PostgreSQL: two pools, the real
thing): each row processed once and each resident's rows in order, each timer fired once,
each outbox row claimed once, a day's capacity never exceeded. The work races on threads;
the assertions are on what was stored, never on timing."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest

from bot.channels.base import Inbound
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.store.records import Completion, NewBooking, NewOutbox
from tests.foundation.helpers import SECRET, RecordingResponder, StoreHarness
from tests.support.sealed import Opener

VAULT = NumberVault(SECRET)


@pytest.fixture
def pair(location, clock):
    first = StoreHarness(location, RecordingResponder(), clock)
    second = StoreHarness(location, RecordingResponder(), clock)
    yield first, second
    second.close()
    first.close()


def _both(*jobs) -> list:
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i, job):
        try:
            results[i] = job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def _messages(residents: int, each: int, clock) -> list:
    rows = []
    for i in range(each):
        for n in range(residents):
            inbound = Inbound("twilio", "sms", f"r{n}-m{i}", f"+81901234{n:04d}", f"m{i}")
            rows.append(prepare_inbound(inbound, VAULT, clock.now()))
    return rows


def test_two_processes_take_each_row_once_and_each_residents_rows_in_order(pair, clock):
    first, second = pair
    rows = _messages(residents=12, each=8, clock=clock)
    for start in range(0, len(rows), 12):  # arrivals in groups, as group commit makes them
        first.ingest(rows[start : start + 12])
    done_first, done_second = _both(lambda: first.process_all(4), lambda: second.process_all(4))
    assert sorted(done_first + done_second) == sorted(set(done_first + done_second))
    assert len(done_first) + len(done_second) == len(rows)
    for n in range(12):
        resident = VAULT.resident_id(f"+81901234{n:04d}")
        replies = [m.text for m in first.sent_to(resident)]
        # The echo's count is the turn's number in the conversation: in order, once each.
        assert replies == [f"echo {i + 1}: m{i}" for i in range(8)], replies
    assert first.sql.one("SELECT count(*) FROM inbox WHERE status <> 'done'") == 0


def test_each_due_timer_fires_once(pair, clock):
    first, second = pair
    numbers = [f"+81907777{n:04d}" for n in range(20)]
    for number in numbers:
        inbound = Inbound("twilio", "sms", f"{number}-remind", number, "remind")
        first.ingest([prepare_inbound(inbound, VAULT, clock.now())])
    first.process_all()
    clock.advance(timedelta(hours=2))
    _both(lambda: first.process_all(3), lambda: second.process_all(3))
    assert first.sql.one("SELECT count(*) FROM timers") == 0
    assert first.sql.one("SELECT count(*) FROM inbox WHERE kind = 'timer'") == 20
    for number in numbers:
        replies = [m.text for m in first.sent_to(VAULT.resident_id(number))]
        assert replies.count("reminder nudge") == 1


def test_each_outbox_row_is_claimed_once_and_a_resident_by_one_sender(pair, clock):
    first, second = pair
    rows = _messages(residents=10, each=3, clock=clock)
    first.ingest(rows)
    first.process_all()
    now = clock.now()

    def claims(h):
        got = []
        while batch := h.run(h.store.delivery.claim(["twilio"], now, 4)):
            got += batch
            if h.sql.postgres:  # one sender per resident at a time: send, then the next
                from bot.store.records import SentMark

                h.run(h.store.delivery.sent([SentMark(r.id, None, now) for r in batch]))
        return got

    a, b = _both(lambda: claims(first), lambda: claims(second))
    ids = [r.id for r in a + b]
    assert len(ids) == len(set(ids)) == 30


class _Booker:
    """A turn handler whose every turn books one item on one district-day (capacity 5)."""

    def __init__(self, clock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    def handle(self, item, services, now):
        booking = services.bookings.add(
            NewBooking(
                receipt=f"R{item.resident_id[:10]}",
                resident_id=item.resident_id,
                district="中央",
                town=None,
                collection_date=date(2026, 12, 4),
                items=({"name": "椅子", "quantity": 1},),
                item_count=1,
                fee_total=300,
                at=now,
            ),
            capacity=5,
        )
        text = "booked" if booking else "full"
        return Completion(outbox=[NewOutbox("sim", "sms", text, f"{item.id}-0", status="sent")])

    def failed(self, item, error, now):
        raise AssertionError(f"a booking turn failed: {error!r}")


def test_the_last_places_of_a_day_are_never_overbooked(pair, clock):
    first, second = pair
    rows = _messages(residents=16, each=1, clock=clock)
    first.ingest(rows)
    booker = _Booker(clock)

    def book(h):
        while h.run(h.store.process_batch(booker, 2)).inbox_ids:
            pass

    _both(lambda: book(first), lambda: book(second))
    assert first.sql.one("SELECT count(*) FROM bookings") == 5
    assert first.sql.one("SELECT sum(item_count) FROM bookings") == 5
    opener = Opener(SECRET)
    answers = [opener.text(t) for (t,) in first.sql("SELECT text FROM outbox")]
    assert sorted(answers) == ["booked"] * 5 + ["full"] * 11


def test_a_dead_processes_sends_are_taken_over_when_its_lease_runs_out(pair, clock):
    first, second = pair
    if not first.sql.postgres:
        pytest.skip("SQLite is one process: a restart puts its sends back (test_upgrade)")
    first.ingest(_messages(residents=3, each=1, clock=clock))
    first.process_all()
    now = clock.now()
    taken = first.run(first.store.delivery.claim(["twilio"], now, 10))
    assert len(taken) == 3
    assert second.run(second.store.delivery.claim(["twilio"], now, 10)) == []
    # The first process stops renewing (killed): its lease runs out.
    first.sql(
        "UPDATE store_leases SET expires_at = now() - interval '1 second' WHERE owner = ?",
        [first.store.inner.owner],
    )
    second.run(second.store.inner._renew())
    again = second.run(second.store.delivery.claim(["twilio"], now, 10))
    assert sorted(r.id for r in again) == sorted(r.id for r in taken)
    assert {r.attempts for r in again} == {2}
    # The dead process's sends may have reached the provider: in doubt since their claim,
    # so delivery asks the provider before sending them again (Channel.reconcile).
    assert all(r.in_doubt_since is not None for r in again)
    assert {o for (o,) in first.sql("SELECT claimed_by FROM outbox")} == {second.store.inner.owner}
    # The first process was not dead after all (a long pause): its late answers change
    # nothing of what the second is now sending, or a third claim would send it again.
    later = clock.now() + timedelta(minutes=1)
    first.run(first.store.delivery.retry(taken[0].id, later, "late", in_doubt=True))
    first.run(first.store.delivery.failed(taken[1].id, "late", clock.now()))
    assert {s for (s,) in first.sql("SELECT status FROM outbox")} == {"sending"}


async def test_other_processes_hear_of_new_messages_and_finished_ones(location, clock):
    """LISTEN/NOTIFY: a process is woken by another's intake commit, and told which inbox
    rows another finished (a simulator request waiting in this process is answered)."""
    import asyncio

    from bot.pipeline.turns import TurnRunner
    from bot.store import open_store
    from bot.store.base import Wakeups
    from bot.system_texts import SystemTexts
    from tests.foundation.helpers import ROOT

    if not str(location).startswith("postgresql"):
        pytest.skip("SQLite is one process: its own batches wake its waiters")
    heard: list[int] = []
    wake = Wakeups(processed=heard.extend)
    listener, worker = open_store(location, VAULT.texts), open_store(location, VAULT.texts)
    await listener.open(wake, serve=True)
    await worker.open(serve=True)
    try:
        await asyncio.sleep(0.2)  # the listener is connected
        wake.inbox.clear()
        wake.outbox.clear()
        inbound = Inbound("twilio", "sms", "n-1", "+819012340000", "hello")
        (row,) = await worker.ingest([prepare_inbound(inbound, VAULT, clock.now())], clock.now())
        await asyncio.wait_for(wake.inbox.wait(), 10)
        runner = TurnRunner(RecordingResponder(), clock, SystemTexts.load(ROOT / "flows"))
        assert (await worker.process_batch(runner, 8)).inbox_ids == [row.inbox_id]
        await asyncio.wait_for(wake.outbox.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 10
        while row.inbox_id not in heard:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
    finally:
        await worker.close()
        await listener.close()
