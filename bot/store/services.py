"""What a turn may touch of storage: narrow services bound to the turn's transaction.

The engine and the city's actions get a `TurnServices` (never a database handle). Every
call runs inside the transaction that also stores the turn's conversation, replies and
timers, so a booking and the reply that confirms it commit together or not at all.
Backends implement these structurally (bot/store/<backend>/).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from bot.store.records import Booking, NewBooking, OpenAsk, ResidentRow, Subscription


class Residents(Protocol):
    def get(self, resident_id: str) -> ResidentRow | None: ...


class Conversations(Protocol):
    def get(self, resident_id: str) -> dict[str, Any] | None: ...


class Bookings(Protocol):
    """粗大ごみ bookings. Capacity is checked inside `add` and `move` atomically (two turns
    racing for the last places, in one process or many, cannot overbook)."""

    def used(self, district: str, day: date) -> int:
        """Items booked for one district-day (active bookings)."""
        ...

    def receipt_taken(self, receipt: str) -> bool: ...

    def by_source_ref(self, source_ref: str) -> Booking | None: ...

    def add(self, new: NewBooking, capacity: int) -> Booking | None:
        """Store `new` if its day keeps within `capacity` items; None when full. A booking
        with the same source_ref already stored is returned instead of a second one."""
        ...

    def active_for(self, resident_id: str, today: date) -> list[Booking]:
        """The resident's bookings still to be collected, soonest first."""
        ...

    def get_own(self, resident_id: str, receipt: str) -> Booking | None: ...

    def cancel(self, receipt: str, at: str) -> None: ...

    def move(self, receipt: str, district: str, day: date, at: str, capacity: int) -> bool:
        """Move an active booking to `day` if that day keeps within `capacity`; False if full."""
        ...


class NoticeService(Protocol):
    """A resident's notice subscriptions and answers (owner "notices"). Consents and stops
    are kept with their time and channel as evidence, never the message's text."""

    def subscriptions(self, resident_id: str) -> list[Subscription]: ...

    def set_topics(
        self, resident_id: str, topics: Sequence[str], active: bool, via: str, now: datetime
    ) -> list[str]:
        """Subscribe to (active) or stop these topics; returns those that changed."""
        ...

    def consent(
        self, resident_id: str, topic: str | None, action: str, via: str, now: datetime
    ) -> None:
        """Record a subscribe, stop or resume (topic None: every notice)."""
        ...

    def open_ask(self, resident_id: str, now: datetime, hours: float) -> OpenAsk | None:
        """The newest notice with a question sent to the resident within `hours`."""
        ...

    def answer(self, notice_id: str, resident_id: str, choice: str, now: datetime) -> None: ...


class TurnCases(Protocol):
    """Opening a case for staff from a turn (owner "console"): a notice's handoff answer."""

    def open(
        self, resident_id: str, now: datetime, opened_by: str, urgent: bool = False
    ) -> None: ...


class TurnServices(Protocol):
    """The services of one turn's transaction."""

    @property
    def residents(self) -> Residents: ...

    @property
    def conversations(self) -> Conversations: ...

    @property
    def bookings(self) -> Bookings: ...

    @property
    def notices(self) -> NoticeService: ...

    @property
    def cases(self) -> TurnCases: ...
