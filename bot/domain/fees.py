"""Fees for a list of items and the 粗大ごみ処理券 to buy for them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from math import gcd
from pathlib import Path
from typing import Any

from bot.domain import data
from bot.domain.catalogue import Catalogue


@dataclass(frozen=True)
class Line:
    """One item of a booking: canonical name, chosen variant, how many, fee per piece."""

    name: str
    quantity: int
    fee: int
    variant: str | None = None

    @property
    def subtotal(self) -> int:
        return self.fee * self.quantity

    @property
    def label(self) -> str:
        return f"{self.name}（{self.variant}）" if self.variant else self.name

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variant": self.variant,
            "quantity": self.quantity,
            "fee": self.fee,
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Line:
        return cls(row["name"], int(row["quantity"]), int(row["fee"]), row.get("variant"))


def price(catalogue: Catalogue, name: str, quantity: int, variant: str | None = None) -> Line:
    """A priced line; raises KeyError for an item the catalogue does not accept."""
    item = catalogue.item(name)
    if item is None:
        raise KeyError(name)
    return Line(item.name, quantity, item.fee_for(variant), variant)


def total(lines: Iterable[Line]) -> int:
    return sum(line.subtotal for line in lines)


@dataclass(frozen=True)
class TicketPlan:
    """How many tickets of each denomination (largest first); `exact` is False when no
    combination makes the exact amount (then the plan is the smallest overpayment)."""

    amount: int
    counts: dict[int, int] = field(default_factory=dict)
    exact: bool = True

    @property
    def value(self) -> int:
        return sum(denomination * count for denomination, count in self.counts.items())

    @property
    def ticket_count(self) -> int:
        return sum(self.counts.values())


def fewest_tickets(amount: int, denominations: Sequence[int]) -> dict[int, int] | None:
    """The fewest tickets whose values add up to exactly `amount`, or None.
    Ties go to the plan with more of the larger tickets."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    values = sorted(set(denominations), reverse=True)
    step = reduce(gcd, values)
    if amount % step:
        return None
    target = amount // step
    units = [value // step for value in values]
    # best[n] = (ticket count, counts per denomination) for n units
    best: list[tuple[int, tuple[int, ...]] | None] = [None] * (target + 1)
    best[0] = (0, (0,) * len(units))
    for n in range(1, target + 1):
        options = []
        for index, unit in enumerate(units):
            previous = best[n - unit] if n >= unit else None
            if previous is not None:
                counts = list(previous[1])
                counts[index] += 1
                options.append((previous[0] + 1, tuple(-c for c in counts), tuple(counts)))
        if options:
            count, _, counts_ = min(options)
            best[n] = (count, counts_)
    found = best[target]
    if found is None:
        return None
    return {value: count for value, count in zip(values, found[1], strict=True) if count}


def ticket_plan(amount: int, denominations: Sequence[int]) -> TicketPlan:
    """The tickets for `amount`: exact when possible, else the smallest amount above it."""
    counts = fewest_tickets(amount, denominations)
    if counts is not None:
        return TicketPlan(amount, counts)
    over = amount + 1
    while (counts := fewest_tickets(over, denominations)) is None:
        over += 1
    return TicketPlan(amount, counts, exact=False)


def tickets_for(
    lines: Sequence[Line], rules: dict[str, Any] | None = None, directory: Path | None = None
) -> TicketPlan:
    """The tickets to buy for a booking, per bulky_rules.yaml `tickets`."""
    tickets = (rules or data.load("bulky_rules", directory))["tickets"]
    denominations = tickets["denominations"]
    amount = total(lines)
    if not tickets.get("per_item"):
        return ticket_plan(amount, denominations)
    combined: dict[int, int] = {}
    exact = True
    for line in lines:
        plan = ticket_plan(line.fee, denominations)
        exact = exact and plan.exact
        for value, count in plan.counts.items():
            combined[value] = combined.get(value, 0) + count * line.quantity
    ordered = dict(sorted(combined.items(), reverse=True))
    return TicketPlan(amount, ordered, exact)


def describe(plan: TicketPlan) -> str:
    """ "300円券1枚・500円券2枚" (smaller tickets first, as residents read a price list)."""
    return "・".join(f"{value}円券{count}枚" for value, count in sorted(plan.counts.items()))
