"""Inbound guards: allowed countries and flood limits. They decide how a stored message is
answered, never whether it is stored."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.http import E164


def is_allowed_number(number: str, country_codes: tuple[str, ...]) -> bool:
    """E.164 and in one of the allowed country codes (an empty tuple allows every country)."""
    if not E164.fullmatch(number):
        return False
    return not country_codes or any(number[1:].startswith(code) for code in country_codes)


# How a stored message is limited (InboundRow.limited): the pipeline answers the first
# message over a sender's limit with a short note, and the rest of that flood not at all.
FLOOD_FIRST = "flood_first"
FLOOD = "flood"
COUNTRY = "country"  # a country the city does not serve: stored, never answered


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""  # "sender_minute" | "sender_hour"
    first: bool = False  # the first message over the limit since the sender was last within it

    @property
    def limited(self) -> str | None:
        """What the stored row carries (None: answer as usual)."""
        if self.allowed:
            return None
        return FLOOD_FIRST if self.first else FLOOD


class InboundLimiter:
    """Sliding-window limits per sender (per minute, per hour).

    A message over its sender's limit is still stored and processed (a message that was
    acknowledged is never dropped): the limit decides what we *send*. The first message
    over the limit is answered with a short note, the following ones not at all, until the
    sender is within the limit again. Messages over the limit do not count towards it.

    Memory is bounded: the least recently seen senders are forgotten first. A sender's
    times are a plain list, not a deque (600+ bytes even when holding one time): at the
    bound of 100,000 senders that is ~27 MB instead of ~95 MB (measured with tracemalloc).
    In a process of its own (SQLite) the limits are exact; several processes sharing one
    database each count their own share.
    """

    def __init__(
        self,
        per_minute: int = 20,
        per_hour: int = 120,
        max_senders: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.max_senders = max_senders
        self.monotonic = monotonic
        self._senders: OrderedDict[str, list[float]] = OrderedDict()
        self._noted: set[str] = set()  # senders already sent the note in this flood

    def check(self, sender: str) -> Verdict:
        """Count one message from `sender` if it is within the limits."""
        now = self.monotonic()
        times = self._senders.pop(sender, None) or []
        del times[: bisect_right(times, now - 3600)]  # times are in order: drop the old
        self._senders[sender] = times
        if len(self._senders) > self.max_senders:
            forgotten, _ = self._senders.popitem(last=False)
            self._noted.discard(forgotten)
        reason = ""
        if len(times) >= self.per_hour:
            reason = "sender_hour"
        elif len(times) - bisect_right(times, now - 60) >= self.per_minute:
            reason = "sender_minute"
        if reason:
            first = sender not in self._noted
            self._noted.add(sender)
            return Verdict(False, reason, first)
        self._noted.discard(sender)
        times.append(now)
        return Verdict(True)
