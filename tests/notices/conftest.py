"""Notice tests that take `location` run on each backend: a SQLite file, and a PostgreSQL
schema of the test's own (skipped, and said so, without BOT_TEST_POSTGRES)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "bot.db"
    return str(request.getfixturevalue("pg_url"))
