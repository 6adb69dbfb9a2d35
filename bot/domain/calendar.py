"""開庁日, staff hours and the bulky-waste collection calendar (cut-offs, reminders).

Every date rule comes from office.yaml, bulky_rules.yaml and districts.yaml; every
instant is computed from a `now` the caller got from the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import jpholiday

from bot.clock import TOKYO
from bot.domain import data


def parse_hhmm(text: str) -> time:
    hour, minute = str(text).split(":")
    return time(int(hour), int(minute))


def at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=TOKYO)


@dataclass(frozen=True)
class ClosedPeriod:
    """A yearly closed period, inclusive, that may wrap the new year (12-29 → 01-03)."""

    start: tuple[int, int]
    end: tuple[int, int]

    @classmethod
    def from_data(cls, row: dict[str, str]) -> ClosedPeriod:
        def month_day(text: str) -> tuple[int, int]:
            month, day = str(text).split("-")
            return int(month), int(day)

        return cls(month_day(row["from"]), month_day(row["to"]))

    def contains(self, day: date) -> bool:
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


def _closed(day: date, skip_holidays: bool, periods: list[ClosedPeriod]) -> bool:
    if skip_holidays and jpholiday.is_holiday(day):
        return True
    return any(period.contains(day) for period in periods)


class OfficeCalendar:
    """開庁日 and the hours staff answer residents."""

    def __init__(self, office: dict[str, Any]) -> None:
        self.open_weekdays = set(office["open_weekdays"])
        self.skip_holidays = bool(office.get("skip_national_holidays", True))
        self.closed_periods = [ClosedPeriod.from_data(r) for r in office.get("closed_periods", [])]
        self.staff_open = parse_hhmm(office["staff_hours"]["open"])
        self.staff_close = parse_hhmm(office["staff_hours"]["close"])

    @classmethod
    def load(cls, directory: Path | None = None) -> OfficeCalendar:
        return cls(data.load("office", directory))

    def is_open_day(self, day: date) -> bool:
        """A 開庁日: an open weekday that is neither a national holiday nor in 年末年始."""
        if day.weekday() not in self.open_weekdays:
            return False
        return not _closed(day, self.skip_holidays, self.closed_periods)

    def open_day_before(self, day: date, count: int) -> date:
        """The `count`-th 開庁日 strictly before `day`."""
        current = day
        for _ in range(count):
            current -= timedelta(days=1)
            while not self.is_open_day(current):
                current -= timedelta(days=1)
        return current

    def staff_available(self, now: datetime) -> bool:
        local = now.astimezone(TOKYO)
        if not self.is_open_day(local.date()):
            return False
        return self.staff_open <= local.time() < self.staff_close

    def next_staff_available(self, now: datetime) -> datetime:
        """`now` when staff are in; otherwise when they next start."""
        local = now.astimezone(TOKYO)
        if self.staff_available(local):
            return local
        day = local.date()
        if self.is_open_day(day) and local.time() < self.staff_open:
            return at(day, self.staff_open)
        day += timedelta(days=1)
        while not self.is_open_day(day):
            day += timedelta(days=1)
        return at(day, self.staff_open)


@dataclass(frozen=True)
class Deadline:
    office_days_before: int
    hour: time

    @classmethod
    def from_data(cls, row: dict[str, Any]) -> Deadline:
        return cls(int(row["office_days_before"]), parse_hhmm(row["hour"]))


class CollectionCalendar:
    """Which days each district's bulky waste is collected, and the deadlines around them."""

    def __init__(
        self, office: OfficeCalendar, rules: dict[str, Any], districts: dict[str, Any]
    ) -> None:
        self.office = office
        collection = rules["collection"]
        self.skip_holidays = bool(collection.get("skip_national_holidays", True))
        self.closed_periods = [
            ClosedPeriod.from_data(r) for r in collection.get("closed_periods", [])
        ]
        self.max_days_ahead = int(collection["max_days_ahead"])
        self.booking = Deadline.from_data(rules["deadlines"]["booking"])
        self.change = Deadline.from_data(rules["deadlines"]["change"])
        self.reminder_days_before = int(rules["reminder"]["days_before"])
        self.reminder_time = parse_hhmm(rules["reminder"]["time"])
        self.weekdays = {row["name"]: int(row["weekday"]) for row in districts["districts"]}

    @classmethod
    def load(cls, directory: Path | None = None) -> CollectionCalendar:
        return cls(
            OfficeCalendar.load(directory),
            data.load("bulky_rules", directory),
            data.load("districts", directory),
        )

    def is_collection_day(self, district: str, day: date) -> bool:
        if day.weekday() != self.weekdays[district]:
            return False
        return not _closed(day, self.skip_holidays, self.closed_periods)

    def skipped_reason(self, district: str, day: date) -> str | None:
        """Why the district's weekday `day` has no collection: "holiday", "year_end" or None."""
        if day.weekday() != self.weekdays[district]:
            return None
        if any(period.contains(day) for period in self.closed_periods):
            return "year_end"
        if self.skip_holidays and jpholiday.is_holiday(day):
            return "holiday"
        return None

    def _deadline(self, day: date, rule: Deadline) -> datetime:
        return at(self.office.open_day_before(day, rule.office_days_before), rule.hour)

    def booking_cutoff(self, day: date) -> datetime:
        """The last instant a pickup on `day` can be booked (17:00, third 開庁日 before)."""
        return self._deadline(day, self.booking)

    def change_deadline(self, day: date) -> datetime:
        """The last instant a booking for `day` can be changed or cancelled."""
        return self._deadline(day, self.change)

    def can_book(self, day: date, now: datetime) -> bool:
        return now <= self.booking_cutoff(day)

    def can_change(self, day: date, now: datetime) -> bool:
        return now <= self.change_deadline(day)

    def reminder_at(self, day: date) -> datetime:
        return at(day - timedelta(days=self.reminder_days_before), self.reminder_time)

    def last_bookable_day(self, now: datetime) -> date:
        return now.astimezone(TOKYO).date() + timedelta(days=self.max_days_ahead)

    def collection_days(self, district: str, start: date, end: date) -> Iterator[date]:
        """The district's collection days from `start` to `end`, inclusive."""
        day = start
        while day <= end:
            if self.is_collection_day(district, day):
                yield day
            day += timedelta(days=1)

    def bookable_days(
        self, district: str, now: datetime, start: date | None = None
    ) -> Iterator[date]:
        """Collection days still open for booking at `now`, from `start` on, within the horizon."""
        first = max(start or now.astimezone(TOKYO).date(), now.astimezone(TOKYO).date())
        for day in self.collection_days(district, first, self.last_bookable_day(now)):
            if self.can_book(day, now):
                yield day
