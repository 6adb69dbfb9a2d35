"""ISO dates (「2026-12-04」), as some residents and forms write them."""

from datetime import date, datetime

import pytest

from bot.clock import TOKYO
from bot.nlu import load_nlu

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)


@pytest.fixture(scope="module")
def nlu():
    return load_nlu("flows")


@pytest.mark.parametrize(
    ("text", "dates", "numbers"),
    [
        ("2026-12-04に出したい", [date(2026, 12, 4)], []),
        ("2027-1-8でお願いします", [date(2027, 1, 8)], []),
        ("2026-11-01", [], []),  # explicit and already past: dropped, like 2026年11月1日
        ("2026-02-30", [], []),  # no such day: neither a date nor three numbers
        ("0120-530-000に電話", [], [120, 530, 0]),  # a phone number is not a date
    ],
)
def test_iso_dates(nlu, text, dates, numbers):
    understood = nlu.understand(text, NOW)
    assert list(understood.dates) == dates
    assert list(understood.numbers) == numbers
