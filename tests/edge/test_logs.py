"""Repeated faults cannot fill the disk: log lines are rate-limited per kind."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import RateLimitFilter, setup_logging


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_a_repeated_line_passes_burst_times_per_window_then_reports_what_it_dropped():
    clock = Clock()
    limit = RateLimitFilter(burst=5, window=60, monotonic=clock)
    passed = [limit.filter(_record("bot.server", "slow client closed")) for _ in range(1000)]
    assert sum(passed) == 5
    clock.now = 61
    record = _record("bot.server", "slow client closed")
    assert limit.filter(record) and record.suppressed == 995
    again = _record("bot.server", "slow client closed")
    assert limit.filter(again) and not hasattr(again, "suppressed")


def test_kinds_are_limited_separately_and_info_is_never_limited():
    limit = RateLimitFilter(burst=2, window=60, monotonic=Clock())
    for _ in range(10):
        limit.filter(_record("asyncio", "socket.accept() out of system resource\nsocket: 13"))
    assert limit.filter(_record("bot.channels", "webhook signature refused"))
    assert limit.filter(_record("asyncio", "another fault"))
    assert all(
        limit.filter(_record("bot.app", "old texts erased", logging.INFO)) for _ in range(50)
    )
    # The kind is the first line of the template: the socket line may differ, still one kind.
    assert not limit.filter(_record("asyncio", "socket.accept() out of system resource\nfd 14"))


def test_memory_is_bounded_by_the_number_of_kinds():
    limit = RateLimitFilter(burst=1, window=60, max_kinds=10, monotonic=Clock())
    for n in range(1000):
        limit.filter(_record("bot", f"fault {n}"))
    assert len(limit._kinds) == 10


@pytest.fixture
def stderr(monkeypatch):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    setup_logging()
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_flood_of_accept_errors_writes_a_few_lines_not_megabytes(stderr):
    """Before: 1,100 slow clients over a 1,024-file limit made asyncio log its accept
    failure ~12,000 times a second (1.3 GB in 5 minutes)."""
    log = logging.getLogger("asyncio")
    for _ in range(20_000):
        log.error("socket.accept() out of system resource\nsocket: <fd=13>", exc_info=OSError(24))
    lines = stderr.getvalue().splitlines()
    assert 0 < len(lines) <= 20
    assert all(json.loads(line)["logger"] == "asyncio" for line in lines)
    assert len(stderr.getvalue()) < 20_000
