"""The store contract suite runs every test on each backend: `location` is a SQLite file or
a PostgreSQL schema of the test's own (skipped, and said so, without BOT_TEST_POSTGRES)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.clock import TOKYO, FrozenClock
from tests.foundation.helpers import RecordingResponder, StoreHarness


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return tmp_path / "bot.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))


@pytest.fixture
def harness(location, clock):
    h = StoreHarness(location, RecordingResponder(), clock)
    yield h
    h.close()
