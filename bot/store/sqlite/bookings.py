"""粗大ごみ bookings in SQLite (owner "bookings"): the turn's `Bookings` service.

It runs inside the turn's transaction: nothing here begins or commits. Capacity is checked
inside the one INSERT/UPDATE statement, so two connections racing for the last places
cannot overbook (a writer holds SQLite's write lock from its first write to its commit).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from typing import Any

import sqlite_utils

from bot.store.records import Booking, NewBooking
from bot.store.sqlite.migrations import MigrationSet, run_script

MIGRATIONS = MigrationSet("bookings")


@MIGRATIONS.step("bookings")
def _bookings(db: sqlite_utils.Database) -> None:
    # IF NOT EXISTS: databases from before the migration sets may have the table already.
    run_script(
        db,
        """
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
            status TEXT NOT NULL DEFAULT 'booked'
                CHECK (status IN ('booked', 'cancelled', 'changed')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            source_ref TEXT UNIQUE
        );
        CREATE INDEX IF NOT EXISTS bookings_by_day
            ON bookings (district, collection_date, status);
        CREATE INDEX IF NOT EXISTS bookings_by_resident
            ON bookings (resident_id, status, collection_date);
        """,
    )


# Items already booked for one district-day (the capacity check's left-hand side).
_USED = (
    "SELECT COALESCE(SUM(item_count), 0) FROM bookings"
    " WHERE district = :district AND collection_date = :day"
    " AND status IN ('booked', 'changed')"
)


def _booking(values: dict[str, Any]) -> Booking:
    return Booking(
        receipt=values["receipt"],
        resident_id=values["resident_id"],
        district=values["district"],
        town=values["town"],
        collection_date=date.fromisoformat(values["collection_date"]),
        items=tuple(json.loads(values["items"])),
        item_count=values["item_count"],
        fee_total=values["fee_total"],
        status=values["status"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        source_ref=values["source_ref"],
    )


class SqliteBookings:
    """bot.store.services.Bookings on one connection, inside its current transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def _select(self, where: str, params: dict[str, Any]) -> list[Booking]:
        return [
            _booking(row) for row in self.db.query(f"SELECT * FROM bookings WHERE {where}", params)
        ]

    def used(self, district: str, day: date) -> int:
        params = {"district": district, "day": day.isoformat()}
        return int(self.db.execute(_USED, params).fetchone()[0])

    def receipt_taken(self, receipt: str) -> bool:
        found = self.db.execute("SELECT 1 FROM bookings WHERE receipt = ?", [receipt]).fetchone()
        return found is not None

    def by_source_ref(self, source_ref: str) -> Booking | None:
        found = self._select("source_ref = :ref", {"ref": source_ref})
        return found[0] if found else None

    def add(self, new: NewBooking, capacity: int) -> Booking | None:
        stamp = new.at.isoformat()
        params = {
            "receipt": new.receipt,
            "resident": new.resident_id,
            "district": new.district,
            "town": new.town,
            "day": new.collection_date.isoformat(),
            "items": json.dumps(list(new.items), ensure_ascii=False),
            "count": new.item_count,
            "fee": new.fee_total,
            "stamp": stamp,
            "ref": new.source_ref,
            "capacity": capacity,
        }
        try:
            cursor = self.db.execute(
                "INSERT INTO bookings (receipt, resident_id, district, town, collection_date,"
                " items, item_count, fee_total, status, created_at, updated_at, source_ref)"
                " SELECT :receipt, :resident, :district, :town, :day, :items, :count, :fee,"
                " 'booked', :stamp, :stamp, :ref"
                f" WHERE ({_USED}) + :count <= :capacity",
                params,
            )
        except sqlite3.IntegrityError:
            # A concurrent turn with the same source_ref won; return its booking.
            if new.source_ref is not None and (existing := self.by_source_ref(new.source_ref)):
                return existing
            raise
        if cursor.rowcount != 1:
            return None
        return self._select("receipt = :receipt", {"receipt": new.receipt})[0]

    def active_for(self, resident_id: str, today: date) -> list[Booking]:
        return self._select(
            "resident_id = :resident AND status IN ('booked', 'changed')"
            " AND collection_date >= :today ORDER BY collection_date, id",
            {"resident": resident_id, "today": today.isoformat()},
        )

    def get_own(self, resident_id: str, receipt: str) -> Booking | None:
        found = self._select(
            "receipt = :receipt AND resident_id = :resident",
            {"receipt": receipt, "resident": resident_id},
        )
        return found[0] if found else None

    def cancel(self, receipt: str, at: str) -> None:
        self.db.execute(
            "UPDATE bookings SET status = 'cancelled', updated_at = :stamp WHERE receipt = :receipt",
            {"stamp": at, "receipt": receipt},
        )

    def move(self, receipt: str, district: str, day: date, at: str, capacity: int) -> bool:
        cursor = self.db.execute(
            "UPDATE bookings SET collection_date = :day, status = 'changed', updated_at = :stamp"
            " WHERE receipt = :receipt AND status IN ('booked', 'changed')"
            f" AND ({_USED}) + item_count <= :capacity",
            {
                "day": day.isoformat(),
                "stamp": at,
                "receipt": receipt,
                "district": district,
                "capacity": capacity,
            },
        )
        return cursor.rowcount == 1


def resident_of_receipt(db: sqlite_utils.Database, receipt: str) -> str | None:
    """Whose booking this 受付番号 is (the staff console finds a resident on the phone)."""
    row = db.execute("SELECT resident_id FROM bookings WHERE receipt = ?", [receipt]).fetchone()
    return row[0] if row else None
