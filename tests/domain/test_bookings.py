"""Bookings: limits, capacity (also under a real race), alternatives, change and cancel."""

import sqlite3
import threading
from datetime import date, datetime

import pytest
import sqlite_utils

from bot.clock import TOKYO
from bot.domain import bookings
from bot.domain.bookings import BookingError
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line
from bot.store.sqlite.bookings import SqliteBookings
from tests.domain.stores import bookings_schema, bookings_store

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)  # Tuesday
FRIDAY = date(2026, 12, 4)  # 中央/桜台 collection day, bookable at NOW
CHAIR = Line("椅子", 1, 300)


@pytest.fixture(scope="module")
def cal() -> CollectionCalendar:
    return CollectionCalendar.load()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request):
    """The bookings service inside an open transaction (as a turn has it), on each backend."""
    if request.param == "postgres":
        from tests.domain.stores import postgres_bookings

        yield from postgres_bookings(request.getfixturevalue("pg_url"))
        return
    database = sqlite_utils.Database(memory=True)
    store = bookings_store(database)
    database.conn.execute("BEGIN")  # the pipeline's transaction
    yield store
    database.conn.rollback()


def book(
    db,
    cal,
    quantity=1,
    *,
    day=FRIDAY,
    resident="r1",
    district="中央",
    now=NOW,
    name="椅子",
    ref=None,
):
    return bookings.create(
        db,
        cal,
        resident_id=resident,
        district=district,
        town="本町",
        day=day,
        lines=[Line(name, quantity, 300)],
        now=now,
        source_ref=ref,
    )


def test_ensure_schema_is_idempotent(db):
    if not isinstance(db, SqliteBookings):
        pytest.skip("SQLite's schema helper; PostgreSQL's migrations: tests/store")
    bookings_schema(db.db)
    bookings_schema(db.db)
    names = {row[0] for row in db.db.execute("SELECT name FROM sqlite_master").fetchall()}
    assert {"bookings", "bookings_by_day", "bookings_by_resident"} <= names


def test_create_stores_the_booking_without_committing(db, cal):
    booking = bookings.create(
        db,
        cal,
        resident_id="r1",
        district="中央",
        town="本町",
        day=FRIDAY,
        lines=[Line("ソファー", 1, 1000, "2人掛け以上"), Line("椅子", 2, 300)],
        now=NOW,
    )
    assert booking.status == "booked"
    assert booking.item_count == 3
    assert booking.fee_total == 1600
    assert bookings.lines_of(booking)[0].variant == "2人掛け以上"
    assert len(booking.receipt) == 8
    if isinstance(db, SqliteBookings):
        assert db.db.conn.in_transaction  # still the caller's transaction
    else:
        assert db.conn.info.transaction_status.name == "INTRANS"


def test_same_source_ref_books_once(db, cal):
    first = book(db, cal, 2, ref="msg-1")
    again = book(db, cal, 2, ref="msg-1")
    assert first.receipt == again.receipt
    assert bookings.used(db, "中央", FRIDAY) == 2


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([Line("椅子", 5, 300), Line("机", 5, 800), Line("布団", 1, 300)], "too_many_items"),
        ([Line("椅子", 6, 300)], "too_many_same"),
        (
            [Line("ソファー", 3, 500, "1人掛け"), Line("ソファー", 3, 1000, "2人掛け以上")],
            "too_many_same",
        ),
        ([], "no_items"),
    ],
)
def test_per_booking_limits(db, cal, lines, code):
    with pytest.raises(BookingError) as error:
        bookings.create(
            db, cal, resident_id="r1", district="中央", town=None, day=FRIDAY, lines=lines, now=NOW
        )
    assert error.value.code == code


def test_exactly_the_limits_are_allowed(db, cal):
    lines = [Line("椅子", 5, 300), Line("机", 5, 800)]
    booking = bookings.create(
        db, cal, resident_id="r1", district="中央", town=None, day=FRIDAY, lines=lines, now=NOW
    )
    assert booking.item_count == 10


def test_wrong_day_and_past_cutoff(db, cal):
    with pytest.raises(BookingError) as error:
        book(db, cal, day=date(2026, 12, 3))  # a Thursday
    assert error.value.code == "not_collection_day"
    with pytest.raises(BookingError) as error:
        book(db, cal, day=date(2026, 11, 27), now=datetime(2026, 11, 24, 17, 1, tzinfo=TOKYO))
    assert error.value.code == "past_cutoff"
    assert book(db, cal, day=date(2026, 11, 27), now=datetime(2026, 11, 24, 17, 0, tzinfo=TOKYO))


def test_capacity_30_items_per_district_day(db, cal):
    for resident in range(6):
        book(db, cal, 5, resident=f"r{resident}")
    assert bookings.room(db, "中央", FRIDAY) == 0
    with pytest.raises(BookingError) as error:
        book(db, cal, 1)
    assert error.value.code == "full"
    # Another district on the same day is not affected.
    assert book(db, cal, 1, district="桜台").status == "booked"


def test_capacity_counts_only_active_bookings(db, cal):
    receipts_ = [book(db, cal, 5, resident=f"r{i}").receipt for i in range(6)]
    bookings.cancel(db, cal, resident_id="r0", receipt=receipts_[0], now=NOW)
    assert bookings.room(db, "中央", FRIDAY) == 5
    assert book(db, cal, 5).status == "booked"


def test_alternatives_are_the_next_three_days_with_room(db, cal):
    for resident in range(6):
        book(db, cal, 5, resident=f"r{resident}")  # 12/4 full
    for resident in range(6):
        book(db, cal, 5, resident=f"s{resident}", day=date(2026, 12, 11))  # 12/11 full
    days = bookings.days_with_room(db, cal, "中央", NOW, 2)
    assert days == [date(2026, 11, 27), date(2026, 12, 18), date(2026, 12, 25)]
    later = bookings.days_with_room(db, cal, "中央", NOW, 2, after=date(2026, 12, 18))
    assert later == [date(2026, 12, 25), date(2027, 1, 8), date(2027, 1, 15)]  # no 1/1


def test_active_bookings_are_the_residents_own_upcoming_ones(db, cal):
    mine = book(db, cal, 1, resident="me")
    book(db, cal, 1, resident="someone-else")
    cancelled = book(db, cal, 1, resident="me", day=date(2026, 12, 11))
    bookings.cancel(db, cal, resident_id="me", receipt=cancelled.receipt, now=NOW)
    assert [b.receipt for b in bookings.active_for(db, "me", NOW.date())] == [mine.receipt]
    assert bookings.active_for(db, "me", date(2026, 12, 5)) == []


def test_cancel_deadline_is_17_two_open_days_before(db, cal):
    booking = book(db, cal, 1)
    late = datetime(2026, 12, 2, 17, 1, tzinfo=TOKYO)
    with pytest.raises(BookingError) as error:
        bookings.cancel(db, cal, resident_id="r1", receipt=booking.receipt, now=late)
    assert error.value.code == "too_late"
    in_time = datetime(2026, 12, 2, 17, 0, tzinfo=TOKYO)
    cancelled = bookings.cancel(db, cal, resident_id="r1", receipt=booking.receipt, now=in_time)
    assert cancelled.status == "cancelled"
    with pytest.raises(BookingError) as error:
        bookings.cancel(db, cal, resident_id="r1", receipt=booking.receipt, now=in_time)
    assert error.value.code == "not_active"


def test_someone_elses_receipt_is_not_found(db, cal):
    booking = book(db, cal, 1, resident="owner")
    with pytest.raises(BookingError) as error:
        bookings.cancel(db, cal, resident_id="intruder", receipt=booking.receipt, now=NOW)
    assert error.value.code == "not_found"


def test_change_date_keeps_the_receipt_and_checks_room(db, cal):
    booking = book(db, cal, 3, resident="me")
    moved = bookings.change_date(
        db, cal, resident_id="me", receipt=booking.receipt.lower(), day=date(2026, 12, 11), now=NOW
    )
    assert (moved.receipt, moved.status, moved.collection_date) == (
        booking.receipt,
        "changed",
        date(2026, 12, 11),
    )
    assert bookings.used(db, "中央", FRIDAY) == 0
    for resident in range(5):
        book(db, cal, 5, resident=f"x{resident}", day=date(2026, 12, 18))
    with pytest.raises(BookingError) as error:  # 25 + 3 <= 30 fits; fill to 28 first
        book(db, cal, 3, resident="y", day=date(2026, 12, 18))
        bookings.change_date(
            db, cal, resident_id="me", receipt=booking.receipt, day=date(2026, 12, 18), now=NOW
        )
    assert error.value.code == "full"


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (date(2026, 12, 4), "same_day"),
        (date(2026, 12, 10), "not_collection_day"),
        (date(2026, 11, 27), "past_cutoff"),
    ],
)
def test_change_date_refusals(db, cal, day, code):
    booking = book(db, cal, 1)
    late_tuesday = datetime(2026, 11, 24, 18, 0, tzinfo=TOKYO)
    with pytest.raises(BookingError) as error:
        bookings.change_date(
            db, cal, resident_id="r1", receipt=booking.receipt, day=day, now=late_tuesday
        )
    assert error.value.code == code


def _race(path, cal, day: date, racers: int, immediate: bool) -> list[str]:
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def racer(name: str) -> None:
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
        racer_db = SqliteBookings(sqlite_utils.Database(conn))
        try:
            if immediate:  # the pipeline's recommended mode: writers queue for the lock
                barrier.wait()
                conn.execute("BEGIN IMMEDIATE")
            else:  # deferred, with a read first: a snapshot that may go stale
                conn.execute("BEGIN")
                bookings.used(racer_db, "中央", day)
                barrier.wait()
            try:
                bookings.create(
                    racer_db,
                    cal,
                    resident_id=name,
                    district="中央",
                    town=None,
                    day=day,
                    lines=[Line("椅子", 2, 300)],
                    now=NOW,
                )
                conn.commit()
                outcomes.append("booked")
            except BookingError as error:
                conn.rollback()
                outcomes.append(error.code)
            except sqlite3.OperationalError:  # busy snapshot: the pipeline retries the turn
                conn.rollback()
                outcomes.append("busy")
        finally:
            conn.close()

    threads = [threading.Thread(target=racer, args=(f"racer{i}",)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("immediate", [True, False])
def test_racing_processes_never_overbook(tmp_path, cal, immediate):
    """Several connections (as several worker processes would) race for the last 2 places."""
    path = tmp_path / "race.db"
    setup_db = sqlite_utils.Database(path)
    setup_db.execute("PRAGMA journal_mode=WAL")
    setup = bookings_store(setup_db)
    days = list(cal.bookable_days("中央", NOW))[:6]
    for day in days:  # 28 of 30 places taken
        for resident, quantity in enumerate([5, 5, 5, 5, 5, 3]):
            setup_db.conn.execute("BEGIN")
            bookings.create(
                setup,
                cal,
                resident_id=f"pre{resident}",
                district="中央",
                town=None,
                day=day,
                lines=[Line("椅子", quantity, 300)],
                now=NOW,
            )
            setup_db.conn.commit()
    setup_db.conn.close()

    for day in days:
        outcomes = _race(path, cal, day, racers=4, immediate=immediate)
        check_db = sqlite_utils.Database(path)
        check = SqliteBookings(check_db)
        booked = outcomes.count("booked")
        assert booked <= 1, outcomes
        assert bookings.used(check, "中央", day) == 28 + 2 * booked <= 30
        if immediate:  # one wins, the others then see the day full
            assert sorted(outcomes) == ["booked", "full", "full", "full"]
        check_db.conn.close()
