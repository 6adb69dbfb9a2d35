"""ごみの分け方と収集日 (flows/data/garbage.yaml): what kind an item is, how it goes out, and
when the resident's district collects it.

Collection days: a kind's weekdays for the district (第N = the Nth such weekday of the
month), national holidays included, except the closed periods (12/31–1/3). "The next
collection day" is today only before the put-out time (8:30).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.domain import data
from bot.domain.calendar import ClosedPeriod, parse_hhmm
from bot.domain.catalogue import Catalogue
from bot.domain.dayrule import WEEKDAYS, DayRule

SEARCH_DAYS = 70  # the longest gap between two collections of one kind is five weeks

_BUILT: dict[int, tuple[Any, GarbageGuide]] = {}


@dataclass(frozen=True)
class Kind:
    name: str
    bag: str | None = None
    how: str | None = None
    schedule: tuple[tuple[str, tuple[DayRule, ...]], ...] = ()  # (district, rules)
    booking: bool = False  # catalogue.yaml items: booked, not on fixed days
    not_collected: bool = False  # catalogue.yaml not_accepted items go here
    small_items: bool = False  # catalogue.yaml small_items go here

    def rules(self, district: str) -> tuple[DayRule, ...]:
        return dict(self.schedule).get(district, ())


@dataclass(frozen=True)
class Thing:
    """An item of garbage.yaml, or of catalogue.yaml seen as garbage."""

    name: str
    kind: str
    how: str | None = None
    note: str | None = None
    where: str | None = None


@dataclass
class GarbageGuide:
    kinds: dict[str, Kind]
    things: dict[str, Thing]
    put_out_by: time
    put_out_where: str
    closed: list[ClosedPeriod]
    unknown: str

    @classmethod
    def load(cls, directory: Path | None = None) -> GarbageGuide:
        """Built once per version of the data file (data.load returns the same object)."""
        raw = data.load("garbage", directory)
        cached = _BUILT.get(id(raw))
        if cached is not None and cached[0] is raw:
            return cached[1]
        guide = cls.from_data(raw)
        if len(_BUILT) > 8:
            _BUILT.clear()
        _BUILT[id(raw)] = (raw, guide)
        return guide

    @classmethod
    def from_data(cls, raw: dict[str, Any]) -> GarbageGuide:
        kinds: dict[str, Kind] = {}
        for row in raw["categories"]:
            schedule = tuple(
                (str(district), tuple(r for r in map(DayRule.parse, days) if r))
                for district, days in (row.get("schedule") or {}).items()
            )
            kinds[row["name"]] = Kind(
                row["name"],
                row.get("bag"),
                row.get("how"),
                schedule,
                bool(row.get("booking")),
                bool(row.get("not_collected")),
                bool(row.get("small_items")),
            )
        for row in raw["categories"]:  # 有害ごみ: on 燃やさないごみ's days
            same = row.get("same_days_as")
            if same:
                kinds[row["name"]] = Kind(
                    row["name"], row.get("bag"), row.get("how"), kinds[same].schedule
                )
        things = {
            row["name"]: Thing(
                row["name"], row["category"], row.get("how"), row.get("note"), row.get("where")
            )
            for row in raw["items"]
        }
        put_out = raw.get("put_out") or {}
        return cls(
            kinds,
            things,
            parse_hhmm(str(put_out.get("by", "08:30"))),
            str(put_out.get("where", "")),
            [ClosedPeriod.from_data(r) for r in raw.get("closed_periods") or []],
            str(raw.get("unknown", "")),
        )

    # ---- calendar ------------------------------------------------------------------

    def closed_on(self, day: date) -> bool:
        return any(period.contains(day) for period in self.closed)

    def collects(self, kind: str, district: str, day: date) -> bool:
        rules = self.kinds[kind].rules(district)
        return not self.closed_on(day) and any(rule.matches(day) for rule in rules)

    def next_days(self, kind: str, district: str, now: datetime, count: int = 1) -> list[date]:
        """The next collection days of `kind` in `district`: today counts only before the
        put-out time (a resident told "today" at 9:00 would be too late)."""
        day = now.date() if now.time() < self.put_out_by else now.date() + timedelta(days=1)
        found: list[date] = []
        for _ in range(SEARCH_DAYS):
            if self.collects(kind, district, day):
                found.append(day)
                if len(found) == count:
                    break
            day += timedelta(days=1)
        return found

    def on_day(self, district: str, day: date) -> list[str]:
        """The kinds collected in `district` on `day`, in the file's order."""
        return [
            name
            for name, kind in self.kinds.items()
            if kind.schedule and self.collects(name, district, day)
        ]

    def weekly(self, kind: str, district: str) -> str:
        """The schedule as residents read it: 月・木 / 第1・第3火."""
        rules = self.kinds[kind].rules(district)
        if rules and all(r.nth for r in rules) and len({r.weekday for r in rules}) == 1:
            return "・".join(f"第{r.nth}" for r in rules) + WEEKDAYS[rules[0].weekday]
        return "・".join(rule.label() for rule in rules)

    # ---- items ---------------------------------------------------------------------

    def _flagged(self, flag: str) -> str | None:
        return next((k.name for k in self.kinds.values() if getattr(k, flag)), None)

    def thing(self, name: str, catalogue: Catalogue) -> Thing | None:
        """The item by its garbage.yaml name, or a catalogue item seen as garbage: an
        accepted item is of the `booking` kind (粗大ごみ), a refused one of the
        `not_collected` kind (with where it goes), a small one of the `small_items` kind."""
        if name in self.things:
            return self.things[name]
        item = catalogue.item(name)
        refusal = catalogue.refusal(name) if item is None else None
        flag = "booking" if item else None
        if refusal is not None:
            flag = "small_items" if refusal.kind == "small" else "not_collected"
        kind = self._flagged(flag) if flag else None
        if kind is None:
            return None
        where = refusal.where if refusal is not None and refusal.kind != "small" else None
        return Thing(item.name if item else name, kind, where=where)
