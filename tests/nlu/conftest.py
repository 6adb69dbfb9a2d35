"""NLU fixtures: one Nlu for the whole session (the user dictionary is built once, cached)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import TOKYO
from bot.nlu import Nlu, load_nlu

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
DICTIONARIES = ROOT / "dictionaries"
# A Tuesday; the contract's example 「来週の火曜」 resolves to 2026-12-01 from here.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)


@pytest.fixture(scope="session")
def nlu() -> Nlu:
    return load_nlu(FLOWS)
