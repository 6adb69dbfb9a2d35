"""How dates and times read to residents, and dates as choices they can pick."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

WEEKDAYS = "月火水木金土日"


def jdate(day: date) -> str:
    """12月4日(金)"""
    return f"{day.month}月{day.day}日({WEEKDAYS[day.weekday()]})"


def jdatetime(instant: datetime) -> str:
    """12月4日(金) 8:30"""
    return f"{jdate(instant.date())} {instant.hour}:{instant.minute:02d}"


def day_option(day: date) -> dict[str, Any]:
    """A collection day as a choice: picked by number, label, 12月4日, 12/4 or 4日."""
    return {
        "value": day.isoformat(),
        "label": jdate(day),
        "aliases": [
            f"{day.month}月{day.day}日",
            f"{day.month}/{day.day}",
            f"{day.day}日",
            day.isoformat(),
        ],
    }
