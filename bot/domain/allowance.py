"""児童手当: the monthly amount per child by age and birth order (allowance.yaml)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot.domain import data


@dataclass(frozen=True)
class ChildAllowance:
    age: int
    order: int  # 1 = eldest child counted
    monthly: int  # 0 when this child is counted but no longer paid for


def _rules(directory: Path | None) -> dict[str, Any]:
    return data.load("allowance", directory)


def per_child(ages: Sequence[int], directory: Path | None = None) -> list[ChildAllowance]:
    """Each child's monthly amount, eldest first. Children up to `counted_until_age` count
    for the birth order; those up to `paid_until_age` are paid for."""
    rules = _rules(directory)
    monthly = rules["monthly"]
    counted = sorted(
        (age for age in ages if 0 <= age <= int(rules["counted_until_age"])), reverse=True
    )
    result = []
    for order, age in enumerate(counted, start=1):
        if age > int(rules["paid_until_age"]):
            amount = 0
        elif order >= int(rules["third_child_order"]):
            amount = int(monthly["third_child_on"])
        elif age < int(rules["under_3_age"]):
            amount = int(monthly["under_3"])
        else:
            amount = int(monthly["from_3"])
        result.append(ChildAllowance(age, order, amount))
    return result


def monthly_total(ages: Sequence[int], directory: Path | None = None) -> int:
    return sum(child.monthly for child in per_child(ages, directory))


def per_payment(ages: Sequence[int], directory: Path | None = None) -> int:
    """One payment covers `months_per_payment` months."""
    return monthly_total(ages, directory) * int(_rules(directory)["months_per_payment"])


def next_payment_month(today: date, directory: Path | None = None) -> date:
    """The first of the next payment month on or after today's month."""
    months = sorted(int(m) for m in _rules(directory)["payment_months"])
    for month in months:
        if month >= today.month:
            return date(today.year, month, 1)
    return date(today.year + 1, months[0], 1)
