"""粗大ごみ bookings: the city's rules (limits, collection days, cut-offs, capacity) over the
turn's `Bookings` service (bot.store.services), which stores them in the turn's
transaction and checks capacity atomically (two turns racing for the last places, in one
process or many, cannot overbook)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.clock import TOKYO
from bot.domain import data, receipts
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line, total
from bot.domain.labels import jdate
from bot.store.records import Booking, NewBooking
from bot.store.services import Bookings

__all__ = ["REMINDER", "Booking", "BookingError", "Bookings"]

REMINDER = "bulky_reminder"  # the timer name prefix: f"{REMINDER}:{receipt}"


class BookingError(Exception):
    """A booking rule refused the request; `code` says which (flows branch on it)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def lines_of(booking: Booking) -> tuple[Line, ...]:
    return tuple(Line.from_json(item) for item in booking.items)


def _rules(directory: Path | None) -> dict[str, Any]:
    return data.load("bulky_rules", directory)


def capacity(directory: Path | None = None) -> int:
    return int(_rules(directory)["capacity"]["items_per_district_day"])


def check_limits(lines: Sequence[Line], directory: Path | None = None) -> None:
    """Per booking: at most `max_items` items, at most `max_same_item` of one item."""
    limits = _rules(directory)["per_booking"]
    count = sum(line.quantity for line in lines)
    if count <= 0:
        raise BookingError("no_items")
    if count > int(limits["max_items"]):
        raise BookingError("too_many_items", str(count))
    per_item: Counter[str] = Counter()
    for line in lines:
        per_item[line.name] += line.quantity
    name, most = per_item.most_common(1)[0]
    if most > int(limits["max_same_item"]):
        raise BookingError("too_many_same", name)


def used(store: Bookings, district: str, day: date) -> int:
    return store.used(district, day)


def room(store: Bookings, district: str, day: date, directory: Path | None = None) -> int:
    return max(0, capacity(directory) - store.used(district, day))


def days_with_room(
    store: Bookings,
    calendar: CollectionCalendar,
    district: str,
    now: datetime,
    items: int,
    *,
    after: date | None = None,
    limit: int | None = None,
    directory: Path | None = None,
) -> list[date]:
    """The next bookable days (after `after`, if given) with room for `items` items;
    at most `limit` (default: bulky_rules.yaml `alternatives_offered`)."""
    if limit is None:
        limit = int(_rules(directory)["capacity"]["alternatives_offered"])
    found: list[date] = []
    for day in calendar.bookable_days(district, now):
        if after is not None and day <= after:
            continue
        if room(store, district, day, directory) >= items:
            found.append(day)
            if len(found) >= limit:
                break
    return found


def create(
    store: Bookings,
    calendar: CollectionCalendar,
    *,
    resident_id: str,
    district: str,
    town: str | None,
    day: date,
    lines: Sequence[Line],
    now: datetime,
    source_ref: str | None = None,
    directory: Path | None = None,
) -> Booking:
    """Store a booking, or raise BookingError (no_items, too_many_items, too_many_same,
    not_collection_day, past_cutoff, full). The same `source_ref` twice returns the
    first booking instead of booking again."""
    if source_ref is not None and (existing := store.by_source_ref(source_ref)):
        return existing
    check_limits(lines, directory)
    if not calendar.is_collection_day(district, day):
        raise BookingError("not_collection_day", day.isoformat())
    if not calendar.can_book(day, now) or day > calendar.last_bookable_day(now):
        raise BookingError("past_cutoff", day.isoformat())
    new = NewBooking(
        receipt=receipts.new_receipt(store),
        resident_id=resident_id,
        district=district,
        town=town,
        collection_date=day,
        items=tuple(line.to_json() for line in lines),
        item_count=sum(line.quantity for line in lines),
        fee_total=total(lines),
        at=now,
        source_ref=source_ref,
    )
    booking = store.add(new, capacity(directory))
    if booking is None:
        raise BookingError("full", day.isoformat())
    return booking


def active_for(store: Bookings, resident_id: str, today: date) -> list[Booking]:
    """The resident's bookings still to be collected, soonest first."""
    return store.active_for(resident_id, today)


def get_own(store: Bookings, resident_id: str, receipt: str) -> Booking:
    """The resident's booking with this receipt; someone else's is reported as not found."""
    found = store.get_own(resident_id, receipts.normalise(receipt))
    if found is None:
        raise BookingError("not_found")
    return found


def _changeable(
    store: Bookings,
    calendar: CollectionCalendar,
    resident_id: str,
    receipt: str,
    now: datetime,
    override_deadline: bool = False,
) -> Booking:
    booking = get_own(store, resident_id, receipt)
    if not booking.active:
        raise BookingError("not_active", booking.status)
    if booking.collection_date <= now.astimezone(TOKYO).date():
        raise BookingError("too_late", booking.collection_date.isoformat())  # no override
    if not override_deadline and not calendar.can_change(booking.collection_date, now):
        raise BookingError("too_late", booking.collection_date.isoformat())
    return booking


def cancel(
    store: Bookings,
    calendar: CollectionCalendar,
    *,
    resident_id: str,
    receipt: str,
    now: datetime,
    override_deadline: bool = False,
) -> Booking:
    """Cancel before the change deadline (BookingError not_found, not_active, too_late).
    override_deadline: staff, with a reason they record, may still do it until the day
    before collection."""
    booking = _changeable(store, calendar, resident_id, receipt, now, override_deadline)
    store.cancel(booking.receipt, now.isoformat())
    return get_own(store, resident_id, booking.receipt)


def change_date(
    store: Bookings,
    calendar: CollectionCalendar,
    *,
    resident_id: str,
    receipt: str,
    day: date,
    now: datetime,
    directory: Path | None = None,
    override_deadline: bool = False,
) -> Booking:
    """Move a booking to another collection day, keeping its 受付番号. The old day must be
    before its change deadline and the new day bookable with room (BookingError
    not_found, not_active, too_late, same_day, not_collection_day, past_cutoff, full).
    override_deadline: staff, with a reason they record, may pass both deadlines (never
    capacity, the collection calendar, or a day already begun)."""
    booking = _changeable(store, calendar, resident_id, receipt, now, override_deadline)
    if day == booking.collection_date:
        raise BookingError("same_day", day.isoformat())
    if not calendar.is_collection_day(booking.district, day):
        raise BookingError("not_collection_day", day.isoformat())
    if day <= now.astimezone(TOKYO).date() or day > calendar.last_bookable_day(now):
        raise BookingError("past_cutoff", day.isoformat())
    if not override_deadline and not calendar.can_book(day, now):
        raise BookingError("past_cutoff", day.isoformat())
    if not store.move(booking.receipt, booking.district, day, now.isoformat(), capacity(directory)):
        raise BookingError("full", day.isoformat())
    return get_own(store, resident_id, booking.receipt)


def reminder(
    calendar: CollectionCalendar,
    receipt: str,
    day: date,
    now: datetime,
    directory: Path | None = None,
) -> tuple[str, datetime, dict[str, Any]] | None:
    """The day-before reminder timer of a booking: (name, due, payload), or None when its
    time has passed. The bot's flows and staff changes set the same one."""
    due = calendar.reminder_at(day)
    if due <= now:
        return None
    rules = _rules(directory)
    text = rules["reminder_text"].format(
        date=jdate(day), by=rules["put_out"]["by"], receipt=receipt
    )
    payload = {"receipt": receipt, "date": day.isoformat(), "notice": text}
    return f"{REMINDER}:{receipt}", due, payload
