"""A weekly collection rule of garbage.yaml: a weekday, or 第N and a weekday (第1火).

Its own module: the data checks parse rules too, and bot.domain.garbage reads the data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

WEEKDAYS = "月火水木金土日"
RULE_RE = re.compile(r"^(?:第([1-5]))?([月火水木金土日])$")


@dataclass(frozen=True)
class DayRule:
    weekday: int  # 0 = Monday
    nth: int | None = None  # 第N of the month; None = every week

    @classmethod
    def parse(cls, text: str) -> DayRule | None:
        match = RULE_RE.match(unicodedata.normalize("NFKC", str(text)).strip())
        if not match:
            return None
        return cls(WEEKDAYS.index(match[2]), int(match[1]) if match[1] else None)

    def matches(self, day: date) -> bool:
        if day.weekday() != self.weekday:
            return False
        return self.nth is None or (day.day - 1) // 7 + 1 == self.nth

    def label(self) -> str:
        return f"第{self.nth}{WEEKDAYS[self.weekday]}" if self.nth else WEEKDAYS[self.weekday]
