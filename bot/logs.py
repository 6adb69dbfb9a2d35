"""Structured (JSON) logs. Never a phone number or message text: only ids and counts.

Repeated faults are rate-limited (RateLimitFilter) so that an attack — thousands of slow
clients, forged webhooks, a full accept queue — cannot fill the disk with log lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from bot.clock import TOKYO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def log_time(created: float) -> str:
    """ISO 8601 with milliseconds and the offset, in the city's zone (the bot's clock is
    JST): `2026-12-03T10:15:02.347+09:00`. Real time, also under `bot serve --clock`."""
    return datetime.fromtimestamp(created, TOKYO).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": log_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and where, not its message: messages can carry user text.
            data["exception"] = record.exc_info[0].__name__
            tb = record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                data["at"] = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        return json.dumps(data, ensure_ascii=False, default=str)


class RateLimitFilter(logging.Filter):
    """At most `burst` lines of each kind per `window` seconds; the rest are dropped and
    counted, and the next line of that kind to pass says how many (`"suppressed": N`).

    A kind is the logger, the level and the message template (its first line: asyncio's
    "socket.accept() out of system resource" carries the socket on the next one), so one
    noisy fault never silences a different one. Only WARNING and above are limited: they
    are what a fault repeats. Memory is bounded: the least recently seen kinds go first."""

    def __init__(
        self,
        burst: int = 20,
        window: float = 60.0,
        level: int = logging.WARNING,
        max_kinds: int = 1000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.level = level
        self.max_kinds = max_kinds
        self.monotonic = monotonic
        self._kinds: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        kind = (record.name, record.levelno, template.split("\n", 1)[0][:200])
        now = self.monotonic()
        state = self._kinds.pop(kind, None)  # [window start, lines passed, lines dropped]
        if state is None or now - state[0] >= self.window:
            dropped = state[2] if state is not None else 0
            state = [now, 0.0, dropped]
        self._kinds[kind] = state
        if len(self._kinds) > self.max_kinds:
            self._kinds.popitem(last=False)
        if state[1] >= self.burst:
            state[2] += 1
            return False
        state[1] += 1
        if state[2]:
            record.suppressed = int(state[2])
            state[2] = 0
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimitFilter())
    # The level holds at the handler too: a library that sets its own logger to DEBUG at
    # import (bm25s does) does not fill the operator's log.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # access lines carry numbers
    logging.getLogger("transitions").setLevel(logging.WARNING)  # one line per state change
