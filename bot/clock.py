"""One clock for the whole product, so --clock and replay's frozen time reach everything."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a naive value is taken as Asia/Tokyo time."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=TOKYO)
    return value.astimezone(TOKYO)


class Clock:
    """Real time in Asia/Tokyo."""

    def now(self) -> datetime:
        return datetime.now(TOKYO)

    def monotonic(self) -> float:
        return time.monotonic()


@runtime_checkable
class Adjustable(Protocol):
    """A clock that can be moved on (OffsetClock, FrozenClock)."""

    def now(self) -> datetime: ...

    def advance(self, delta: timedelta) -> None: ...


class OffsetClock(Clock):
    """Starts at a given instant and runs on in real time (`bot serve --clock`)."""

    def __init__(self, start: datetime) -> None:
        self._offset = start.astimezone(TOKYO) - datetime.now(TOKYO)

    def now(self) -> datetime:
        return datetime.now(TOKYO) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move on at once (the simulator's clock control, in development)."""
        self._offset += delta


class FrozenClock(Clock):
    """Stands still until advanced (replay runner, tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(TOKYO)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(TOKYO)
