"""保育: nurseries and their vacancies, a child's 年齢 for a school year, application
deadlines and documents. Facts come from nurseries.yaml and childcare.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.domain import data
from bot.domain.text import fold


@dataclass(frozen=True)
class Nursery:
    name: str
    kind: str
    district: str
    ages: tuple[int, ...]


def _rules(directory: Path | None) -> dict[str, Any]:
    return data.load("childcare", directory)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_of(key: str) -> date:
    year, month = key.split("-")
    return date(int(year), int(month), 1)


def _full_years(birth: date, on: date) -> int:
    years = on.year - birth.year
    return years - 1 if (on.month, on.day) < (birth.month, birth.day) else years


def school_year_age(birth: date, entry: date, directory: Path | None = None) -> int:
    """The child's 年齢 for the school year of `entry`: the age on that year's 4月1日
    (so 4月1日生まれ join the older class; children born later in the year are 0歳)."""
    month, day = (int(part) for part in str(_rules(directory)["age"]["reference_day"]).split("-"))
    year = entry.year if (entry.month, entry.day) >= (month, day) else entry.year - 1
    return max(0, _full_years(birth, date(year, month, day)))


def eligibility(birth: date, entry: date, directory: Path | None = None) -> str:
    """ "ok", "too_young" (under 生後57日 on the entry day) or "too_old" (past 5歳)."""
    rules = _rules(directory)["age"]
    if entry < birth + timedelta(days=int(rules["min_days_old"])):
        return "too_young"
    if school_year_age(birth, entry, directory) > int(rules["max_age"]):
        return "too_old"
    return "ok"


def class_ages_for_current_age(
    age_now: int, today: date, entry: date, directory: Path | None = None
) -> list[int]:
    """The possible 年齢 on the entry's 4月1日 (the class) of a child who is `age_now` years
    old today: one or two ages, depending on a birthday the resident did not give."""
    latest = _years_before(today, age_now)  # born today `age_now` years ago
    earliest = _years_before(today, age_now + 1) + timedelta(days=1)
    ages = {school_year_age(earliest, entry, directory), school_year_age(latest, entry, directory)}
    return sorted(ages)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 2月29日
        return day.replace(year=day.year - years, day=28)


def max_age(directory: Path | None = None) -> int:
    return int(_rules(directory)["age"]["max_age"])


def nurseries(directory: Path | None = None) -> list[Nursery]:
    rows = data.load("nurseries", directory)["nurseries"]
    return [Nursery(r["name"], r["kind"], r["district"], tuple(r["ages"])) for r in rows]


def published_months(directory: Path | None = None) -> list[str]:
    return sorted(data.load("nurseries", directory).get("vacancies", {}) or {})


def with_room(age: int, month: str, directory: Path | None = None) -> list[tuple[Nursery, int]]:
    """Nurseries taking `age` with at least one place in `month` ("2027-01"), or raise
    KeyError when that month's vacancies are not published."""
    table = (data.load("nurseries", directory).get("vacancies") or {})[month]
    found = []
    for nursery in nurseries(directory):
        if age not in nursery.ages:
            continue
        places = int((table.get(nursery.name) or {}).get(age, 0))
        if places > 0:
            found.append((nursery, places))
    return found


@dataclass(frozen=True)
class Round:
    name: str
    start: date
    end: date

    def status(self, today: date) -> str:
        if today < self.start:
            return "upcoming"
        return "open" if today <= self.end else "closed"


def april_rounds(entry: date, directory: Path | None = None) -> list[Round] | None:
    """The 4月入所 rounds for `entry`'s April, or None when not announced yet."""
    rows = _rules(directory)["applications"]["april_rounds"].get(month_key(entry))
    if rows is None:
        return None
    return [Round(r["name"], _as_date(r["from"]), _as_date(r["to"])) for r in rows]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def midyear_deadline(entry: date, directory: Path | None = None) -> date:
    """Entry in any month but April: apply by the 10th of the month before."""
    day = int(_rules(directory)["applications"]["midyear_deadline_day"])
    previous = entry.replace(day=1) - timedelta(days=1)
    return previous.replace(day=day)


@dataclass(frozen=True)
class Reason:
    id: str
    label: str
    documents: tuple[str, ...]
    note: str | None
    aliases: tuple[str, ...]


def reasons(directory: Path | None = None) -> list[Reason]:
    return [
        Reason(
            r["id"], r["label"], tuple(r["documents"]), r.get("note"), tuple(r.get("aliases", []))
        )
        for r in _rules(directory)["applications"]["reasons"]
    ]


def match_reason(text: str, directory: Path | None = None) -> Reason | None:
    folded = fold(text)
    for reason in reasons(directory):
        if any(fold(key) in folded for key in (reason.label, *reason.aliases)):
            return reason
    return None


def documents(reason_id: str, directory: Path | None = None) -> list[str]:
    """Always-needed documents, then those for the reason (保育の必要性)."""
    always = list(_rules(directory)["applications"]["always_needed"])
    for reason in reasons(directory):
        if reason.id == reason_id:
            return always + list(reason.documents)
    raise KeyError(reason_id)
