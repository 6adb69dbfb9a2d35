"""粗大ごみ bookings in SQLite. `db` is the pipeline's sqlite_utils.Database, already inside
the turn's transaction: nothing here begins or commits. Capacity is enforced inside the
one INSERT/UPDATE statement, so two processes racing for the last places cannot overbook."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.clock import TOKYO
from bot.domain import data, receipts
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line, total
from bot.domain.labels import jdate

ACTIVE = ("booked", "changed")
REMINDER = "bulky_reminder"  # the timer name prefix: f"{REMINDER}:{receipt}"

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    id INTEGER PRIMARY KEY,
    receipt TEXT NOT NULL UNIQUE,
    resident_id TEXT NOT NULL,
    district TEXT NOT NULL,
    town TEXT,
    collection_date TEXT NOT NULL,
    items TEXT NOT NULL,
    item_count INTEGER NOT NULL CHECK (item_count > 0),
    fee_total INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled', 'changed')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    source_ref TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS bookings_by_day ON bookings (district, collection_date, status);
CREATE INDEX IF NOT EXISTS bookings_by_resident ON bookings (resident_id, status, collection_date);
"""

# Items already booked for one district-day (the capacity check's left-hand side).
_USED = (
    "SELECT COALESCE(SUM(item_count), 0) FROM bookings"
    " WHERE district = :district AND collection_date = :day"
    " AND status IN ('booked', 'changed')"
)


def ensure_schema(db: Any) -> None:
    """Create the bookings table and indexes if missing (called by the store's migrations)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


class BookingError(Exception):
    """A booking rule refused the request; `code` says which (flows branch on it)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass(frozen=True)
class Booking:
    receipt: str
    resident_id: str
    district: str
    town: str | None
    collection_date: date
    lines: tuple[Line, ...]
    item_count: int
    fee_total: int
    status: str
    created_at: str
    updated_at: str
    source_ref: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple, columns: Sequence[str]) -> Booking:
        values = dict(zip(columns, row, strict=True))
        return cls(
            receipt=values["receipt"],
            resident_id=values["resident_id"],
            district=values["district"],
            town=values["town"],
            collection_date=date.fromisoformat(values["collection_date"]),
            lines=tuple(Line.from_json(item) for item in json.loads(values["items"])),
            item_count=values["item_count"],
            fee_total=values["fee_total"],
            status=values["status"],
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            source_ref=values["source_ref"],
        )


def _select(db: Any, where: str, params: dict[str, Any]) -> list[Booking]:
    cursor = db.execute(f"SELECT * FROM bookings WHERE {where}", params)
    columns = [column[0] for column in cursor.description]
    return [Booking.from_row(row, columns) for row in cursor.fetchall()]


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


def used(db: Any, district: str, day: date) -> int:
    return int(db.execute(_USED, {"district": district, "day": day.isoformat()}).fetchone()[0])


def room(db: Any, district: str, day: date, directory: Path | None = None) -> int:
    return max(0, capacity(directory) - used(db, district, day))


def days_with_room(
    db: Any,
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
        if room(db, district, day, directory) >= items:
            found.append(day)
            if len(found) >= limit:
                break
    return found


def by_source_ref(db: Any, source_ref: str) -> Booking | None:
    found = _select(db, "source_ref = :ref", {"ref": source_ref})
    return found[0] if found else None


def create(
    db: Any,
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
    if source_ref is not None and (existing := by_source_ref(db, source_ref)):
        return existing
    check_limits(lines, directory)
    if not calendar.is_collection_day(district, day):
        raise BookingError("not_collection_day", day.isoformat())
    if not calendar.can_book(day, now) or day > calendar.last_bookable_day(now):
        raise BookingError("past_cutoff", day.isoformat())
    receipt = receipts.new_receipt(db)
    stamp = now.isoformat()
    count = sum(line.quantity for line in lines)
    params = {
        "receipt": receipt,
        "resident": resident_id,
        "district": district,
        "town": town,
        "day": day.isoformat(),
        "items": json.dumps([line.to_json() for line in lines], ensure_ascii=False),
        "count": count,
        "fee": total(lines),
        "stamp": stamp,
        "ref": source_ref,
        "capacity": capacity(directory),
    }
    try:
        cursor = db.execute(
            "INSERT INTO bookings (receipt, resident_id, district, town, collection_date, items,"
            " item_count, fee_total, status, created_at, updated_at, source_ref)"
            " SELECT :receipt, :resident, :district, :town, :day, :items, :count, :fee,"
            " 'booked', :stamp, :stamp, :ref"
            f" WHERE ({_USED}) + :count <= :capacity",
            params,
        )
    except sqlite3.IntegrityError:
        # A concurrent turn with the same source_ref won; return its booking.
        if source_ref is not None and (existing := by_source_ref(db, source_ref)):
            return existing
        raise
    if cursor.rowcount != 1:
        raise BookingError("full", day.isoformat())
    return _select(db, "receipt = :receipt", {"receipt": receipt})[0]


def active_for(db: Any, resident_id: str, today: date) -> list[Booking]:
    """The resident's bookings still to be collected, soonest first."""
    return _select(
        db,
        "resident_id = :resident AND status IN ('booked', 'changed')"
        " AND collection_date >= :today ORDER BY collection_date, id",
        {"resident": resident_id, "today": today.isoformat()},
    )


def get_own(db: Any, resident_id: str, receipt: str) -> Booking:
    """The resident's booking with this receipt; someone else's is reported as not found."""
    found = _select(
        db,
        "receipt = :receipt AND resident_id = :resident",
        {"receipt": receipts.normalise(receipt), "resident": resident_id},
    )
    if not found:
        raise BookingError("not_found")
    return found[0]


def _changeable(
    db: Any,
    calendar: CollectionCalendar,
    resident_id: str,
    receipt: str,
    now: datetime,
    override_deadline: bool = False,
) -> Booking:
    booking = get_own(db, resident_id, receipt)
    if not booking.active:
        raise BookingError("not_active", booking.status)
    if booking.collection_date <= now.astimezone(TOKYO).date():
        raise BookingError("too_late", booking.collection_date.isoformat())  # no override
    if not override_deadline and not calendar.can_change(booking.collection_date, now):
        raise BookingError("too_late", booking.collection_date.isoformat())
    return booking


def cancel(
    db: Any,
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
    booking = _changeable(db, calendar, resident_id, receipt, now, override_deadline)
    db.execute(
        "UPDATE bookings SET status = 'cancelled', updated_at = :stamp WHERE receipt = :receipt",
        {"stamp": now.isoformat(), "receipt": booking.receipt},
    )
    return get_own(db, resident_id, booking.receipt)


def change_date(
    db: Any,
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
    booking = _changeable(db, calendar, resident_id, receipt, now, override_deadline)
    if day == booking.collection_date:
        raise BookingError("same_day", day.isoformat())
    if not calendar.is_collection_day(booking.district, day):
        raise BookingError("not_collection_day", day.isoformat())
    if day <= now.astimezone(TOKYO).date() or day > calendar.last_bookable_day(now):
        raise BookingError("past_cutoff", day.isoformat())
    if not override_deadline and not calendar.can_book(day, now):
        raise BookingError("past_cutoff", day.isoformat())
    cursor = db.execute(
        "UPDATE bookings SET collection_date = :day, status = 'changed', updated_at = :stamp"
        " WHERE receipt = :receipt AND status IN ('booked', 'changed')"
        f" AND ({_USED}) + item_count <= :capacity",
        {
            "day": day.isoformat(),
            "stamp": now.isoformat(),
            "receipt": booking.receipt,
            "district": booking.district,
            "capacity": capacity(directory),
        },
    )
    if cursor.rowcount != 1:
        raise BookingError("full", day.isoformat())
    return get_own(db, resident_id, booking.receipt)


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
