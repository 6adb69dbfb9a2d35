"""A resident's bulky-waste bookings, changed or cancelled by staff on their behalf (a
resident on the phone). The domain's own rules decide (bot/domain/bookings.py): the same
deadlines, capacity and calendar as the bot. Staff may pass a deadline only with a reason,
which the audit log keeps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.audit import Audit
from bot.clock import TOKYO
from bot.domain import bookings
from bot.domain.calendar import CollectionCalendar
from bot.domain.labels import jdate, jdatetime
from bot.redact import redact
from bot.staff.casework import CaseError, check_resident
from bot.store.console import ConsoleWork
from bot.store.records import Timer

DAYS_SHOWN = 8
MAX_REASON = 200

_REFUSALS = {
    "not_found": "この受付番号の予約は見つかりません。",
    "not_active": "この予約はすでに取り消されています。",
    "too_late": "変更・取消の期限を過ぎています。理由を入力すると、期限後でも手続きできます。",
    "same_day": "今と同じ収集日です。",
    "not_collection_day": "その日はこの地区の収集日ではありません。",
    "past_cutoff": "その日はもう予約できません。",
    "full": "その日は予約がいっぱいです。別の日をお選びください。",
}


def _refused(error: bookings.BookingError) -> CaseError:
    return CaseError(
        409, f"booking rule: {error.code}", _REFUSALS.get(error.code, "この手続きはできません。")
    )


def describe(booking: bookings.Booking, calendar: CollectionCalendar, now: datetime) -> dict:
    deadline = calendar.change_deadline(booking.collection_date)
    return {
        "receipt": booking.receipt,
        "date": booking.collection_date.isoformat(),
        "label": jdate(booking.collection_date),
        "district": booking.district,
        "town": booking.town,
        "items": [
            {"label": line.label, "quantity": line.quantity, "fee": line.fee}
            for line in bookings.lines_of(booking)
        ],
        "count": booking.item_count,
        "fee_total": booking.fee_total,
        "status": booking.status,
        "deadline": deadline.isoformat(),
        "deadline_label": jdatetime(deadline),
        "changeable": calendar.can_change(booking.collection_date, now),
    }


class Desk:
    """The booking rules of the city whose data is in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def calendar(self) -> CollectionCalendar:
        return CollectionCalendar.load(self.data_dir)

    def of_resident(self, work: ConsoleWork, resident_id: str, now: datetime) -> list[dict]:
        check_resident(work, resident_id)
        calendar = self.calendar()
        today = now.astimezone(TOKYO).date()
        found = bookings.active_for(work.bookings, resident_id, today)
        return [describe(b, calendar, now) for b in found]

    def days(
        self,
        work: ConsoleWork,
        resident_id: str,
        receipt: str,
        now: datetime,
        override: bool,
    ) -> list[dict[str, Any]]:
        """Days the booking could move to: bookable ones with room, as the bot offers —
        with `override`, every collection day from tomorrow that has room."""
        check_resident(work, resident_id)
        calendar = self.calendar()
        try:
            booking = bookings.get_own(work.bookings, resident_id, receipt)
        except bookings.BookingError as error:
            raise _refused(error) from None
        items = booking.item_count
        if override:
            tomorrow = now.astimezone(TOKYO).date() + timedelta(days=1)
            candidates = calendar.collection_days(
                booking.district, tomorrow, calendar.last_bookable_day(now)
            )
            found = [
                day
                for day in candidates
                if day != booking.collection_date
                and bookings.room(work.bookings, booking.district, day, self.data_dir) >= items
            ][:DAYS_SHOWN]
        else:
            found = [
                day
                for day in bookings.days_with_room(
                    work.bookings,
                    calendar,
                    booking.district,
                    now,
                    items,
                    limit=DAYS_SHOWN + 1,
                    directory=self.data_dir,
                )
                if day != booking.collection_date
            ][:DAYS_SHOWN]
        return [
            {
                "date": day.isoformat(),
                "label": jdate(day),
                "room": bookings.room(work.bookings, booking.district, day, self.data_dir),
                "within_deadline": calendar.can_book(day, now),
            }
            for day in found
        ]

    def change(
        self,
        work: ConsoleWork,
        audit: Audit,
        actor: str,
        resident_id: str,
        receipt: str,
        day: date,
        reason: str | None,
        now: datetime,
    ) -> dict:
        check_resident(work, resident_id)
        calendar = self.calendar()
        before = self._own(work, resident_id, receipt)
        try:
            booking = bookings.change_date(
                work.bookings,
                calendar,
                resident_id=resident_id,
                receipt=receipt,
                day=day,
                now=now,
                directory=self.data_dir,
                override_deadline=reason is not None,
            )
        except bookings.BookingError as error:
            raise _refused(error) from None
        self._move_reminder(work, calendar, booking, now)
        audit.record(
            actor,
            "booking.changed",
            resident_id,
            subject=booking.receipt,
            detail={
                "from": before.collection_date.isoformat(),
                "to": booking.collection_date.isoformat(),
                **self._override(calendar, before, day, reason, now),
            },
        )
        return describe(booking, calendar, now)

    def cancel(
        self,
        work: ConsoleWork,
        audit: Audit,
        actor: str,
        resident_id: str,
        receipt: str,
        reason: str | None,
        now: datetime,
    ) -> dict:
        check_resident(work, resident_id)
        calendar = self.calendar()
        before = self._own(work, resident_id, receipt)
        try:
            booking = bookings.cancel(
                work.bookings,
                calendar,
                resident_id=resident_id,
                receipt=receipt,
                now=now,
                override_deadline=reason is not None,
            )
        except bookings.BookingError as error:
            raise _refused(error) from None
        work.timers.cancel(resident_id, f"{bookings.REMINDER}:{booking.receipt}")
        audit.record(
            actor,
            "booking.cancelled",
            resident_id,
            subject=booking.receipt,
            detail={
                "date": before.collection_date.isoformat(),
                **self._override(calendar, before, None, reason, now),
            },
        )
        return describe(booking, calendar, now)

    # ---- pieces ----------------------------------------------------------------------------

    @staticmethod
    def _own(work: ConsoleWork, resident_id: str, receipt: str) -> bookings.Booking:
        try:
            return bookings.get_own(work.bookings, resident_id, receipt)
        except bookings.BookingError as error:
            raise _refused(error) from None

    def _move_reminder(
        self,
        work: ConsoleWork,
        calendar: CollectionCalendar,
        booking: bookings.Booking,
        now: datetime,
    ) -> None:
        """The day-before reminder follows the booking to its new day (as in the bot)."""
        work.timers.cancel(booking.resident_id, f"{bookings.REMINDER}:{booking.receipt}")
        timer = bookings.reminder(
            calendar, booking.receipt, booking.collection_date, now, self.data_dir
        )
        if timer is not None:
            name, due, payload = timer
            work.timers.set(booking.resident_id, Timer(name, due, payload))

    @staticmethod
    def _override(
        calendar: CollectionCalendar,
        booking: bookings.Booking,
        day: date | None,
        reason: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """The audit's record of a deadline passed on staff's word."""
        if reason is None:
            return {}
        passed = []
        if not calendar.can_change(booking.collection_date, now):
            passed.append("change_deadline")
        if day is not None and not calendar.can_book(day, now):
            passed.append("booking_cutoff")
        return {"override_reason": reason, "deadlines_passed": passed}


def check_reason(value: object) -> str | None:
    """A reason to pass a deadline: None when not given; redacted and at most 200 chars."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise CaseError(400, "'reason' must be a string", "理由を文字で入力してください。")
    text = " ".join(value.split())
    if not text:
        return None
    if len(text) > MAX_REASON:
        raise CaseError(400, "'reason' is too long", f"理由は{MAX_REASON}文字以内でお願いします。")
    return redact(text)[0]  # a card or My Number typed by mistake is not kept
