"""Sizes residents give: 「1メートルあります」「120センチくらい」「8畳の」「90cm」.

Units are words of flows/nlu/words.yaml (`measures`: per dimension, each unit's size in
the dimension's base unit). A size is read on the NLU's folded surface text, where
numerals are already ASCII digits (一メートル → 1めーとる).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.nlu.textkey import fold


@dataclass(frozen=True, slots=True)
class Measure:
    value: float  # in the dimension's base unit (length: cm, area: 畳)
    dimension: str


@dataclass(frozen=True, slots=True)
class Range:
    """A variant's size, e.g. `{below: 1m}`, `{from: 1m}`, `{up_to: 6畳}`, `{over: 6畳}`."""

    dimension: str
    bound: float
    kind: str  # below | from | up_to | over

    def holds(self, measure: Measure) -> bool:
        if measure.dimension != self.dimension:
            return False
        value = measure.value
        return {
            "below": value < self.bound,
            "from": value >= self.bound,
            "up_to": value <= self.bound,
            "over": value > self.bound,
        }[self.kind]


RANGE_KINDS = ("below", "from", "up_to", "over")


class MeasureReader:
    def __init__(self, units: dict[str, dict[str, Any]]) -> None:
        self.units: dict[str, tuple[str, float]] = {}
        for dimension, table in units.items():
            for word, size in (table or {}).items():
                self.units[fold(str(word))] = (str(dimension), float(size))
        words = sorted(map(re.escape, self.units), key=len, reverse=True)
        self._pattern = re.compile(rf"(\d+(?:\.\d+)?)\s*({'|'.join(words)})") if words else None

    def find(self, text: str) -> list[tuple[Measure, int, int]]:
        """Every size in folded text, with its span."""
        if self._pattern is None:
            return []
        found: list[tuple[Measure, int, int]] = []
        for match in self._pattern.finditer(text):
            dimension, size = self.units[match.group(2)]
            measure = Measure(float(match.group(1)) * size, dimension)
            if found and found[-1][2] == match.start() and found[-1][0].dimension == dimension:
                # 1メートル20センチ: one size in two units
                previous, start, _ = found.pop()
                measure = Measure(previous.value + measure.value, dimension)
                found.append((measure, start, match.end()))
            else:
                found.append((measure, *match.span()))
        return found

    def parse(self, text: str) -> Measure | None:
        """One size written alone, as in the data (1m, 6畳)."""
        found = self.find(fold(str(text)).replace(" ", ""))
        return found[0][0] if len(found) == 1 else None

    def range(self, spec: Any) -> Range | None:
        """A catalogue variant's `range` mapping, or None when it cannot be read."""
        if not isinstance(spec, dict) or len(spec) != 1:
            return None
        kind, value = next(iter(spec.items()))
        measure = self.parse(str(value)) if kind in RANGE_KINDS else None
        return Range(measure.dimension, measure.value, str(kind)) if measure else None
