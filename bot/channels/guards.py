"""Inbound guards: allowed countries and flood limits. They decide how a stored message is
answered, never whether it is stored."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.channels.http import E164
from bot.store.base import SenderLimits
from bot.store.records import FloodLimits, FloodVerdict


def is_allowed_number(number: str, country_codes: tuple[str, ...]) -> bool:
    """E.164 and in one of the allowed country codes (an empty tuple allows every country)."""
    if not E164.fullmatch(number):
        return False
    return not country_codes or any(number[1:].startswith(code) for code in country_codes)


class SenderLimiter(Protocol):
    async def verdict(self, sender: str) -> FloodVerdict:
        """Count one message from `sender` (its number) if it is within the limits."""
        ...


class InboundLimiter:
    """Flood limits per sender (bot.store.records.FloodLimits) counted in this process's
    memory: exact for one process (SQLite). Processes sharing a PostgreSQL database use
    SharedInboundLimiter instead, so every message of a sender counts wherever it arrives.

    A message over its sender's limit is still stored and processed (a message that was
    acknowledged is never dropped): the limit decides what we *send*. The first message
    over the limit is answered with a short note, the following ones not at all, until the
    sender is within the limit again.

    Memory is bounded: the least recently seen senders are forgotten first. A sender's
    times are a plain list, not a deque (600+ bytes even when holding one time): at the
    bound of 100,000 senders that is ~27 MB instead of ~95 MB (measured with tracemalloc).
    """

    def __init__(
        self,
        per_minute: int = 20,
        per_hour: int = 120,
        max_senders: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = FloodLimits(per_minute, per_hour)
        self.max_senders = max_senders
        self.monotonic = monotonic
        self._senders: OrderedDict[str, list[float]] = OrderedDict()
        self._noted: set[str] = set()  # senders already sent the note in this flood

    def check(self, sender: str) -> FloodVerdict:
        """Count one message from `sender` if it is within the limits."""
        times = self._senders.pop(sender, None) or []
        self._senders[sender] = times
        if len(self._senders) > self.max_senders:
            forgotten, _ = self._senders.popitem(last=False)
            self._noted.discard(forgotten)
        verdict, noted = self.limits.judge(times, sender in self._noted, self.monotonic())
        if noted:
            self._noted.add(sender)
        else:
            self._noted.discard(sender)
        return verdict

    async def verdict(self, sender: str) -> FloodVerdict:
        return self.check(sender)


class SharedInboundLimiter:
    """The flood limits kept in the store for every process sharing it (PostgreSQL:
    Store.sender_limits), so a sender gets one limit, not one per process. Senders are
    known there by the keyed hash of their number (the resident id), never the number."""

    def __init__(self, counts: SenderLimits, key: Callable[[str], str]) -> None:
        self.counts = counts
        self.key = key

    async def verdict(self, sender: str) -> FloodVerdict:
        return await self.counts.check(self.key(sender))


class HasSenderLimits(Protocol):
    def sender_limits(self, limits: FloodLimits) -> SenderLimits | None: ...


@dataclass(frozen=True)
class SharedLimits:
    """Where the flood limits are kept when the store keeps them for many processes: the
    store, and how a sender's number becomes its key there (bot.identity's keyed hash)."""

    store: HasSenderLimits
    key: Callable[[str], str]

    def limiter(self, limits: FloodLimits) -> SenderLimiter:
        counts = self.store.sender_limits(limits)
        if counts is None:  # one process (SQLite): its own memory is exact
            return InboundLimiter(limits.per_minute, limits.per_hour)
        return SharedInboundLimiter(counts, self.key)
