"""Per-channel send rate with priority: a waiting reply always goes before a waiting notice."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable

PRIORITY = {"reply": 0, "notice": 1}


class PriorityLimiter:
    """A token bucket (`rate` per second, bursts up to `burst`) served in priority order."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.monotonic = monotonic
        self._tokens = self.burst
        self._stamp = monotonic()
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._runner: asyncio.Task[None] | None = None

    def _refill(self) -> None:
        now = self.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, kind: str = "reply") -> None:
        if not self._queue:  # nobody waiting: a free token is taken at once (no hand-off)
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (PRIORITY.get(kind, 1), next(self._order), future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._serve())
        await future

    async def _serve(self) -> None:
        while self._queue:
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                continue
            _, _, future = heapq.heappop(self._queue)
            if future.cancelled():
                continue
            self._tokens -= 1
            future.set_result(None)
            await asyncio.sleep(0)  # let the waiter run before serving the next

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
