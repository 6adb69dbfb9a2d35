"""開庁日, staff hours and the collection calendar, with the spec's examples."""

from datetime import date, datetime

import pytest

from bot.clock import TOKYO
from bot.domain.calendar import CollectionCalendar, OfficeCalendar


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.fixture(scope="module")
def office() -> OfficeCalendar:
    return OfficeCalendar.load()


@pytest.fixture(scope="module")
def cal() -> CollectionCalendar:
    return CollectionCalendar.load()


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        ("2026-11-24", True),  # Tuesday
        ("2026-11-21", False),  # Saturday
        ("2026-11-22", False),  # Sunday
        ("2026-11-23", False),  # 勤労感謝の日 (Monday)
        ("2026-09-22", False),  # 国民の休日
        ("2026-12-28", True),  # last 開庁日 of the year
        ("2026-12-29", False),  # 年末年始 starts
        ("2026-12-31", False),
        ("2027-01-01", False),
        ("2027-01-03", False),
        ("2027-01-04", True),  # 年末年始 ends on 1/3
        ("2027-01-11", False),  # 成人の日
    ],
)
def test_open_days(office, day, open_):
    assert office.is_open_day(date.fromisoformat(day)) is open_


def test_spec_example_friday_pickup_booked_by_tuesday_17(cal):
    # Mon 11/30 – Fri 12/4 2026 are all 開庁日.
    assert cal.booking_cutoff(date(2026, 12, 4)) == jst("2026-12-01T17:00")
    assert cal.can_book(date(2026, 12, 4), jst("2026-12-01T17:00"))
    assert not cal.can_book(date(2026, 12, 4), jst("2026-12-01T17:00:01"))


def test_cutoff_skips_a_holiday_monday(cal):
    # 西地区 Thursday 11/26: Wed 25, Tue 24, (Mon 23 holiday), Fri 20.
    assert cal.booking_cutoff(date(2026, 11, 26)) == jst("2026-11-20T17:00")


def test_cutoff_in_silver_week(cal):
    # Friday 9/25: Thu 24, (Mon–Wed 21–23 holidays, weekend), Fri 18, Thu 17.
    assert cal.booking_cutoff(date(2026, 9, 25)) == jst("2026-09-17T17:00")


def test_cutoff_across_year_end(cal):
    # 南地区 Tuesday 1/5/2027: Mon 1/4, (12/29–1/3 closed), Mon 12/28, Fri 12/25.
    assert cal.booking_cutoff(date(2027, 1, 5)) == jst("2026-12-25T17:00")
    # Friday 1/8/2027: Thu 7, Wed 6, Tue 5.
    assert cal.booking_cutoff(date(2027, 1, 8)) == jst("2027-01-05T17:00")


def test_change_deadline_is_two_open_days_before(cal):
    assert cal.change_deadline(date(2026, 12, 4)) == jst("2026-12-02T17:00")
    assert cal.can_change(date(2026, 12, 4), jst("2026-12-02T16:59"))
    assert not cal.can_change(date(2026, 12, 4), jst("2026-12-02T17:01"))
    # Thursday 11/26: Wed 25, Tue 24.
    assert cal.change_deadline(date(2026, 11, 26)) == jst("2026-11-24T17:00")
    # Friday 9/25: Thu 24, Fri 18.
    assert cal.change_deadline(date(2026, 9, 25)) == jst("2026-09-18T17:00")


@pytest.mark.parametrize(
    ("district", "day", "collected", "reason"),
    [
        ("中央", "2026-12-04", True, None),  # Friday
        ("桜台", "2026-12-04", True, None),  # Friday too
        ("中央", "2026-12-03", False, None),  # Thursday: not its weekday
        ("北", "2026-11-23", False, "holiday"),  # Monday, 勤労感謝の日
        ("北", "2026-11-30", True, None),
        ("南", "2026-12-29", False, "year_end"),
        ("中央", "2027-01-01", False, "year_end"),  # also 元日; year-end wins
        ("北", "2027-01-04", True, None),  # closed period ends 1/3
        ("北", "2027-01-11", False, "holiday"),  # 成人の日
        ("東", "2026-09-23", False, "holiday"),  # 秋分の日
    ],
)
def test_collection_days(cal, district, day, collected, reason):
    assert cal.is_collection_day(district, date.fromisoformat(day)) is collected
    assert cal.skipped_reason(district, date.fromisoformat(day)) == reason


def test_bookable_days_start_after_cutoff(cal):
    # Tuesday 12/1 16:00: this Friday (12/4) is still bookable.
    days = list(cal.bookable_days("中央", jst("2026-12-01T16:00")))
    assert days[:2] == [date(2026, 12, 4), date(2026, 12, 11)]
    # After 17:00 it is not.
    days = list(cal.bookable_days("中央", jst("2026-12-01T17:30")))
    assert days[0] == date(2026, 12, 11)


def test_bookable_days_skip_year_end_and_respect_horizon(cal):
    days = list(cal.bookable_days("中央", jst("2026-12-21T10:00")))
    assert date(2027, 1, 1) not in days
    assert days[:2] == [date(2026, 12, 25), date(2027, 1, 8)]
    assert days[-1] <= date(2027, 3, 21)  # max_days_ahead: 90


def test_reminder_is_18_the_day_before(cal):
    assert cal.reminder_at(date(2026, 12, 4)) == jst("2026-12-03T18:00")
    # Monday pickup: Sunday 18:00, even though Sunday is not a 開庁日.
    assert cal.reminder_at(date(2026, 11, 30)) == jst("2026-11-29T18:00")


@pytest.mark.parametrize(
    ("now", "available"),
    [
        ("2026-11-24T08:29", False),
        ("2026-11-24T08:30", True),
        ("2026-11-24T17:14", True),
        ("2026-11-24T17:15", False),
        ("2026-11-23T10:00", False),  # holiday
        ("2026-11-21T10:00", False),  # Saturday
        ("2026-12-30T10:00", False),  # 年末年始
    ],
)
def test_staff_available(office, now, available):
    assert office.staff_available(jst(now)) is available


@pytest.mark.parametrize(
    ("now", "back"),
    [
        ("2026-11-24T10:00", "2026-11-24T10:00"),  # in hours: now
        ("2026-11-24T07:00", "2026-11-24T08:30"),  # before opening, same day
        ("2026-11-24T17:15", "2026-11-25T08:30"),  # after closing
        ("2026-11-20T18:00", "2026-11-24T08:30"),  # Friday evening, holiday Monday
        ("2026-12-28T17:30", "2027-01-04T08:30"),  # 年末年始
    ],
)
def test_next_staff_available(office, now, back):
    assert office.next_staff_available(jst(now)) == jst(back)
