"""Inbound guards applied before anything is stored: allowed countries and flood limits."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.http import E164


def is_allowed_number(number: str, country_codes: tuple[str, ...]) -> bool:
    """E.164 and in one of the allowed country codes (an empty tuple allows every country)."""
    if not E164.fullmatch(number):
        return False
    return not country_codes or any(number[1:].startswith(code) for code in country_codes)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""  # "sender_minute" | "sender_hour" | "global"


class InboundLimiter:
    """Sliding-window limits per sender (per minute, per hour) and for everyone together.

    Floods from one number and SMS pumping (many numbers each sending a little) both stop
    here: a refused message is acknowledged to the provider but neither stored nor answered.
    Memory is bounded: the least recently seen senders are forgotten first.
    """

    def __init__(
        self,
        per_minute: int = 20,
        per_hour: int = 120,
        global_per_minute: int = 3000,
        max_senders: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.global_per_minute = global_per_minute
        self.max_senders = max_senders
        self.monotonic = monotonic
        self._senders: OrderedDict[str, deque[float]] = OrderedDict()
        self._global: deque[float] = deque()

    def check(self, sender: str) -> Verdict:
        """Count one message from `sender` if it is within the limits."""
        now = self.monotonic()
        while self._global and self._global[0] <= now - 60:
            self._global.popleft()
        if len(self._global) >= self.global_per_minute:
            return Verdict(False, "global")
        times = self._senders.pop(sender, None) or deque()
        while times and times[0] <= now - 3600:
            times.popleft()
        self._senders[sender] = times
        if len(self._senders) > self.max_senders:
            self._senders.popitem(last=False)
        if len(times) >= self.per_hour:
            return Verdict(False, "sender_hour")
        last_minute = sum(1 for t in times if t > now - 60)
        if last_minute >= self.per_minute:
            return Verdict(False, "sender_minute")
        times.append(now)
        self._global.append(now)
        return Verdict(True)
