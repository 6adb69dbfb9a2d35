"""Fixtures of the city-folder tests: commands run in an empty folder, as an operator's."""

from __future__ import annotations

from pathlib import Path

import pytest

CITY_VARIABLES = ("BOT_FLOWS", "BOT_DICTIONARIES", "BOT_DB", "BOT_ENV", "BOT_SECRET_KEY")


@pytest.fixture
def empty(tmp_path: Path, monkeypatch) -> Path:
    """An empty folder to run commands in; BOT_* of the caller's shell removed."""
    for name in CITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
