"""Delivery rules that need no I/O: quiet hours, retry backoff, the loop guard."""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from datetime import datetime, timedelta

from bot.clock import TOKYO

MAX_ATTEMPTS = 8
BASE_DELAY = 2.0  # seconds; doubles per attempt
MAX_DELAY = 600.0


def is_quiet(now: datetime, start_hour: int = 21, end_hour: int = 8) -> bool:
    """Quiet hours (Asia/Tokyo), when notices wait; replies are never held back."""
    hour = now.astimezone(TOKYO).hour
    if start_hour <= end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour


def quiet_ends(now: datetime, start_hour: int = 21, end_hour: int = 8) -> datetime:
    """The next end of quiet hours after `now` (08:00 Tokyo by default)."""
    local = now.astimezone(TOKYO)
    end = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end


def backoff(attempts: int, retry_after: float | None = None, jitter: float = 0.2) -> float:
    """Seconds to wait before the next attempt: the provider's Retry-After wins."""
    if retry_after is not None:
        return max(retry_after, 0.0)
    delay = min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay * (1 + random.uniform(-jitter, jitter))


class LoopGuard:
    """Stops the same text going to the same resident more than `limit` times in `window` s.

    A bot answering an auto-responder (or itself) would otherwise loop forever and bill the
    city per message.
    """

    def __init__(self, limit: int = 20, window: float = 300.0, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        # (resident, text digest) -> send times in order; lists, not deques: a deque costs
        # 600+ bytes even with one entry, and there may be max_keys of them.
        self._sent: dict[str, list[float]] = {}

    @staticmethod
    def _key(resident: str, text: str) -> str:
        return f"{resident}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def allow(self, resident: str, text: str, now: float) -> bool:
        """Count one send; False when this would be one too many."""
        key = self._key(resident, text)
        times = self._sent.setdefault(key, [])
        del times[: bisect_right(times, now - self.window)]
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._sent) > self.max_keys:
            self._forget(now)
        return True

    def _forget(self, now: float) -> None:
        for key in [k for k, t in self._sent.items() if not t or t[-1] <= now - self.window]:
            del self._sent[key]
