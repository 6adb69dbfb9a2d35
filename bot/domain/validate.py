"""Checks for the city's data files (flows/data/*.yaml) and the NLU's word files
(flows/nlu/*.yaml): YAML syntax and the keys and types each consumer reads.

One function per file; each returns every problem as a `Problem(file, line, message)`.
`bot flows check` reports them, the running server refuses a changed file that has any
(bot/domain/data.py) and keeps serving the previous content.

Who reads what:
- catalogue.yaml   bot/domain/catalogue.py, bot/nlu/lexicon.py
- districts.yaml   bot/domain/districts.py, bot/domain/calendar.py, bot/nlu/lexicon.py
- nurseries.yaml   bot/domain/childcare.py
- childcare.yaml   bot/domain/childcare.py, flows and templates (data.childcare)
- allowance.yaml   bot/domain/allowance.py, flows and templates (data.allowance)
- bulky_rules.yaml bot/domain/bookings.py, calendar.py, fees.py, actions.py, templates
- office.yaml      bot/domain/calendar.py, flows and templates (data.office)
- canned_replies.yaml  bot/staff/console_routes.py (the staff console's canned replies)
- notices.yaml     bot/notices/policy.py (the notice rules; checked by bot/domain/notice_check.py)
- nlu/words.yaml   bot/nlu/lexicon.py
- nlu/intents.yaml bot/nlu/rules.py
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.domain.notice_check import check_notices
from bot.domain.text import fold
from bot.engine.checks import describe, hint
from bot.yamlsource import LineDict, LineList, YamlSourceError, load_yaml


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


_MISSING = object()
HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
NO_PLACES = ("–", "-", "—", "ー", "－")  # a nursery that does not take this age


class Checker:
    """Reads one parsed file (LineDict/LineList from bot.yamlsource) and collects problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    # ---- lines and access ----------------------------------------------------------------

    @staticmethod
    def line(container: Any, key: Any = None) -> int:
        if isinstance(container, LineDict):
            return (
                container.key_lines.get(key, container.line) if key is not None else container.line
            )
        if isinstance(container, LineList):
            if isinstance(key, int) and 0 <= key < len(container.item_lines):
                return container.item_lines[key]
            return container.line
        return 1

    def value(self, d: Any, key: Any, where: str, required: bool) -> Any:
        """d[key], or _MISSING (reported when required)."""
        if isinstance(d, LineList):
            return d[key]
        if not isinstance(d, dict) or key not in d:
            if required:
                self.error(self.line(d), f"{where}: missing required key `{key}`")
            return _MISSING
        return d[key]

    # ---- shapes --------------------------------------------------------------------------

    def mapping(
        self, d: Any, key: Any, where: str, required: bool = True, empty_ok: bool = False
    ) -> LineDict | None:
        value = self.value(d, key, where, required)
        if value is _MISSING or (value is None and (empty_ok or not required)):
            return None
        if not isinstance(value, LineDict):
            self.error(
                self.line(d, key),
                f"{where}: expected a mapping (key: value), got {describe(value)}",
            )
            return None
        return value

    def seq(
        self, d: Any, key: Any, where: str, required: bool = True, nonempty: bool = False
    ) -> LineList | None:
        value = self.value(d, key, where, required)
        if value is _MISSING or (value is None and not required):
            return None
        if not isinstance(value, LineList):
            self.error(self.line(d, key), f"{where}: expected a list, got {describe(value)}")
            return None
        if nonempty and not value:
            self.error(self.line(d, key), f"{where}: the list must not be empty")
        return value

    def records(self, d: Any, key: Any, where: str, required: bool = True, nonempty: bool = True):
        """(index, mapping) for each item of a list of mappings; others are reported."""
        items = self.seq(d, key, where, required, nonempty)
        for i, item in enumerate(items or []):
            if isinstance(item, LineDict):
                yield i, item
            else:
                self.error(
                    self.line(items, i),
                    f"{where}[{i + 1}]: expected a mapping, got {describe(item)}",
                )

    def keys(self, d: LineDict, allowed: Iterable[str], where: str) -> None:
        allowed = list(allowed)
        for key in d:
            if key not in allowed:
                self.error(self.line(d, key), f"{where}: unknown key `{key}`{hint(key, allowed)}")

    # ---- scalars -------------------------------------------------------------------------

    def text(self, d: Any, key: Any, where: str, required: bool = True) -> str | None:
        value = self.value(d, key, where, required)
        if value is _MISSING:
            return None
        line = self.line(d, key)
        if isinstance(value, str):
            if not value.strip():
                self.error(line, f"{where}: must not be empty")
                return None
            return value
        if value is None:
            if required:
                self.error(line, f"{where}: must not be empty")
            return None
        if isinstance(value, bool):
            self.error(
                line,
                f"{where}: YAML read this as a yes/no value, not text "
                "(unquoted yes/no/on/off/true/false); write it in quotes",
            )
        elif isinstance(value, (int, float, date)):
            self.error(
                line,
                f"{where}: YAML read this as {describe(value)}, not text "
                '(e.g. a phone number, 8:30 or 0120…); write it in quotes: "…"',
            )
        else:
            self.error(line, f"{where}: expected text, got {describe(value)}")
        return None

    def texts(
        self, d: Any, key: Any, where: str, required: bool = False, nonempty: bool = False
    ) -> list[str]:
        items = self.seq(d, key, where, required, nonempty)
        out = []
        for i in range(len(items or [])):
            word = self.text(items, i, f"{where}[{i + 1}]")
            if word is not None:
                out.append(word)
        return out

    def integer(
        self,
        d: Any,
        key: Any,
        where: str,
        required: bool = True,
        low: int | None = None,
        high: int | None = None,
        what: str = "a whole number (e.g. 3)",
    ) -> int | None:
        value = self.value(d, key, where, required)
        if value is _MISSING:
            return None
        line = self.line(d, key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(line, f"{where}: expected {what}, got {describe(value)}")
            return None
        if low is not None and value < low:
            self.error(line, f"{where}: must be at least {low}, got {value}")
            return None
        if high is not None and value > high:
            self.error(line, f"{where}: must be at most {high}, got {value}")
            return None
        return value

    def boolean(self, d: Any, key: Any, where: str, required: bool = True) -> bool | None:
        value = self.value(d, key, where, required)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.error(self.line(d, key), f"{where}: expected true or false, got {describe(value)}")
            return None
        return value

    def hhmm(self, d: Any, key: Any, where: str, required: bool = True) -> str | None:
        value = self.text(d, key, where, required)
        if value is not None and not HHMM_RE.match(value.strip()):
            self.error(self.line(d, key), f'{where}: expected a time like "17:00", got `{value}`')
            return None
        return value

    def month_day(self, d: Any, key: Any, where: str) -> tuple[int, int] | None:
        value = self.text(d, key, where)
        if value is None:
            return None
        m = MONTH_DAY_RE.match(value.strip())
        if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31):
            self.error(
                self.line(d, key), f'{where}: expected a month-day like "12-29", got `{value}`'
            )
            return None
        return int(m[1]), int(m[2])

    def a_date(self, d: Any, key: Any, where: str) -> date | None:
        value = self.value(d, key, where, True)
        if value is _MISSING:
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(
            self.line(d, key), f"{where}: expected a date like 2026-10-01, got {describe(value)}"
        )
        return None

    def closed_periods(self, d: LineDict, where: str) -> None:
        for i, row in self.records(d, "closed_periods", f"{where}closed_periods", False, False):
            w = f"{where}closed_periods[{i + 1}]"
            self.keys(row, ("from", "to"), w)
            self.month_day(row, "from", f"{w}.from")
            self.month_day(row, "to", f"{w}.to")

    def unique(self, seen: dict[str, int], word: str, line: int, what: str) -> None:
        key = fold(word)
        if key in seen:
            self.error(line, f"{what} `{word}` is listed twice (also on line {seen[key]})")
        else:
            seen[key] = line

    def owned(self, seen: dict[str, tuple[str, int]], word: str, owner: str, line: int) -> None:
        """A word may mean one item only (the same word twice for one item is harmless)."""
        key = fold(word)
        if key in seen and seen[key][0] != owner:
            other, at = seen[key]
            self.error(
                line, f"`{word}` already means `{other}` (line {at}); a word can name one item only"
            )
        else:
            seen.setdefault(key, (owner, line))


# ---- one function per file -------------------------------------------------------------

ITEM_KEYS = ("name", "synonyms", "fee", "variants", "unit", "note")
OPTION_KEYS = ("name", "fee", "aliases")
REFUSED_KEYS = ("name", "synonyms")


def _top(c: Checker, doc: Any, what: str) -> LineDict | None:
    if not isinstance(doc, LineDict):
        c.error(
            Checker.line(doc),
            f"{what} must be a mapping (key: value) at the top, got {describe(doc)}",
        )
        return None
    return doc


def check_catalogue(doc: Any, c: Checker) -> None:
    """Accepted items (fee or variants), not_accepted groups, small_items."""
    doc = _top(c, doc, "catalogue.yaml")
    if doc is None:
        return
    c.keys(doc, ("items", "not_accepted", "small_items"), "catalogue")
    words: dict[str, tuple[str, int]] = {}  # folded name or synonym -> (item, line)
    item_names: dict[str, int] = {}
    for i, row in c.records(doc, "items", "items"):
        name = c.text(row, "name", f"items[{i + 1}].name")
        w = f"item `{name or i + 1}`"
        c.keys(row, ITEM_KEYS, w)
        _item_words(c, row, name, w, f"{w}: synonyms", words, item_names)
        c.text(row, "unit", f"{w}: unit", required=False)
        c.text(row, "note", f"{w}: note", required=False)
        has_fee, has_variants = "fee" in row, "variants" in row
        if has_fee and has_variants:
            c.error(row.line, f"{w}: give either `fee` or `variants`, not both")
        elif not has_fee and not has_variants:
            c.error(row.line, f"{w}: needs `fee` (yen) or `variants` (with a question and options)")
        if has_fee:
            c.integer(
                row, "fee", f"{w}: fee", low=0, what="a fee in yen (a whole number, e.g. 500)"
            )
        if has_variants:
            variants = c.mapping(row, "variants", f"{w}: variants")
            if variants is not None:
                c.keys(variants, ("question", "options"), f"{w}: variants")
                c.text(variants, "question", f"{w}: variants.question")
                names: dict[str, int] = {}
                for j, opt in c.records(variants, "options", f"{w}: variants.options"):
                    wo = f"{w}: option {j + 1}"
                    c.keys(opt, OPTION_KEYS, wo)
                    oname = c.text(opt, "name", f"{wo} name")
                    if oname:
                        c.unique(names, oname, c.line(opt, "name"), f"{w}: option")
                    c.integer(
                        opt,
                        "fee",
                        f"{wo} fee",
                        low=0,
                        what="a fee in yen (a whole number, e.g. 500)",
                    )
                    c.texts(opt, "aliases", f"{wo} aliases")
    groups: dict[str, int] = {}
    for i, group in c.records(doc, "not_accepted", "not_accepted", required=False, nonempty=False):
        w = f"not_accepted[{i + 1}]"
        c.keys(group, ("id", "where", "items"), w)
        gid = c.text(group, "id", f"{w}.id")
        if gid:
            c.unique(groups, gid, c.line(group, "id"), "not_accepted id")
        c.text(group, "where", f"{w}.where")
        _refused(c, group, w, words, item_names)
    small = c.mapping(doc, "small_items", "small_items", required=False)
    if small is not None:
        c.keys(small, ("where", "items"), "small_items")
        c.text(small, "where", "small_items.where")
        _refused(c, small, "small_items", words, item_names)


def _item_words(
    c: Checker,
    row: LineDict,
    name: str | None,
    w: str,
    where_synonyms: str,
    words: dict[str, tuple[str, int]],
    item_names: dict[str, int],
) -> None:
    """An item's name is unique, and it and its synonyms name this item only."""
    if name:
        c.unique(item_names, name, c.line(row, "name"), "item")
        c.owned(words, name, name, c.line(row, "name"))
    for j, word in enumerate(c.texts(row, "synonyms", where_synonyms)):
        c.owned(words, word, name or w, c.line(row["synonyms"], j))


def _refused(
    c: Checker,
    group: LineDict,
    where: str,
    words: dict[str, tuple[str, int]],
    item_names: dict[str, int],
) -> None:
    for j, row in c.records(group, "items", f"{where}.items"):
        name = c.text(row, "name", f"{where}.items[{j + 1}].name")
        w = f"{where}: `{name or j + 1}`"
        c.keys(row, REFUSED_KEYS, w)
        _item_words(c, row, name, w, f"{w} synonyms", words, item_names)


def check_districts(doc: Any, c: Checker) -> None:
    """Districts (name, label, reading, collection weekday) and their 町名."""
    doc = _top(c, doc, "districts.yaml")
    if doc is None:
        return
    c.keys(doc, ("city", "districts"), "districts.yaml")
    c.text(doc, "city", "city", required=False)
    names: dict[str, int] = {}
    towns: dict[str, int] = {}
    for i, row in c.records(doc, "districts", "districts"):
        name = c.text(row, "name", f"districts[{i + 1}].name")
        w = f"district `{name or i + 1}`"
        c.keys(row, ("name", "label", "reading", "weekday", "towns"), w)
        if name:
            c.unique(names, name, c.line(row, "name"), "district")
        c.text(row, "label", f"{w}: label")
        c.text(row, "reading", f"{w}: reading")
        c.integer(
            row,
            "weekday",
            f"{w}: weekday",
            low=0,
            high=6,
            what="a weekday (0 = Monday … 6 = Sunday)",
        )
        for j, town in c.records(row, "towns", f"{w}: towns"):
            tname = c.text(town, "name", f"{w}: towns[{j + 1}].name")
            wt = f"{w}: town `{tname or j + 1}`"
            c.keys(town, ("name", "reading", "variants"), wt)
            if tname:
                c.unique(towns, tname, c.line(town, "name"), "town")
            c.text(town, "reading", f"{wt} reading")
            c.texts(town, "variants", f"{wt} variants")


def check_nurseries(doc: Any, c: Checker, districts: set[str] | None = None) -> None:
    """Nurseries (name, kind, district, ages) and vacancies per month, nursery and age."""
    doc = _top(c, doc, "nurseries.yaml")
    if doc is None:
        return
    c.keys(doc, ("nurseries", "vacancies"), "nurseries.yaml")
    ages_of: dict[str, set[int]] = {}
    seen: dict[str, int] = {}
    for i, row in c.records(doc, "nurseries", "nurseries"):
        name = c.text(row, "name", f"nurseries[{i + 1}].name")
        w = f"nursery `{name or i + 1}`"
        c.keys(row, ("name", "kind", "district", "ages"), w)
        if name:
            c.unique(seen, name, c.line(row, "name"), "nursery")
        c.text(row, "kind", f"{w}: kind")
        district = c.text(row, "district", f"{w}: district")
        if district and districts is not None and district not in districts:
            c.error(
                c.line(row, "district"),
                f"{w}: district `{district}` is not in districts.yaml{hint(district, districts)}",
            )
        ages: set[int] = set()
        items = c.seq(row, "ages", f"{w}: ages", nonempty=True)
        for j in range(len(items or [])):
            age = c.integer(items, j, f"{w}: ages[{j + 1}]", low=0, high=6, what="an age (0–5)")
            if age is not None:
                ages.add(age)
        if name:
            ages_of[name] = ages
    vacancies = c.mapping(doc, "vacancies", "vacancies", required=False, empty_ok=True)
    for month in vacancies or {}:
        line = c.line(vacancies, month)
        if not MONTH_RE.match(str(month)):
            c.error(
                line, f'vacancies: `{month}` is not a month like "2027-01" (write it in quotes)'
            )
        wm = f"vacancies {month}"
        per = c.mapping(vacancies, month, wm, empty_ok=True)
        for nursery in per or {}:
            wn = f"{wm} {nursery}"
            nline = c.line(per, nursery)
            if str(nursery) not in ages_of:
                if ages_of:
                    c.error(
                        nline,
                        f"{wm}: no nursery named `{nursery}` in `nurseries`{hint(nursery, ages_of)}",
                    )
                continue
            row = c.mapping(per, nursery, wn, empty_ok=True)
            for age, value in (row or {}).items():
                aline = c.line(row, age)
                if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 6:
                    c.error(aline, f"{wn}: `{age}` is not an age (0–5; write 0 for 0歳)")
                    continue
                takes = age in ages_of[str(nursery)]
                if not takes and (value is None or value in NO_PLACES):
                    continue
                if takes and (value is None or value in NO_PLACES):
                    c.error(
                        aline,
                        f"{wn}: {age}歳: `{value}` is only for ages the nursery does not take, "
                        f"but its `ages` include {age}; give the number of places (0 if full)",
                    )
                elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    allowed = "a number of places (0 or more)"
                    if not takes:
                        allowed += " or – (this nursery does not take that age)"
                    c.error(aline, f"{wn}: {age}歳: expected {allowed}, got {describe(value)}")
                elif not takes and value > 0:
                    c.error(
                        aline,
                        f"{wn}: {age}歳 places given, but the nursery's `ages` do not include {age}",
                    )


def check_childcare(doc: Any, c: Checker) -> None:
    """Age rules, application rounds and documents, 一時預かり facts."""
    doc = _top(c, doc, "childcare.yaml")
    if doc is None:
        return
    age = c.mapping(doc, "age", "age")
    if age is not None:
        c.month_day(age, "reference_day", "age.reference_day")
        c.integer(age, "min_days_old", "age.min_days_old", low=0)
        c.integer(age, "max_age", "age.max_age", low=0, high=6)
    apps = c.mapping(doc, "applications", "applications")
    if apps is not None:
        rounds = c.mapping(apps, "april_rounds", "applications.april_rounds", empty_ok=True)
        for month in rounds or {}:
            w = f"april_rounds {month}"
            if not MONTH_RE.match(str(month)) or not str(month).endswith("-04"):
                c.error(
                    c.line(rounds, month),
                    f'{w}: expected an April month like "2027-04" (in quotes)',
                )
            for i, row in c.records(rounds, month, w):
                wr = f"{w}[{i + 1}]"
                c.keys(row, ("name", "from", "to"), wr)
                c.text(row, "name", f"{wr}.name")
                start, end = c.a_date(row, "from", f"{wr}.from"), c.a_date(row, "to", f"{wr}.to")
                if start and end and end < start:
                    c.error(c.line(row, "to"), f"{wr}: `to` {end} is before `from` {start}")
        c.integer(apps, "midyear_deadline_day", "applications.midyear_deadline_day", low=1, high=28)
        c.text(apps, "where", "applications.where")
        c.text(apps, "online", "applications.online", required=False)
        c.texts(apps, "always_needed", "applications.always_needed", required=True)
        ids: dict[str, int] = {}
        for i, row in c.records(apps, "reasons", "applications.reasons"):
            rid = c.text(row, "id", f"reasons[{i + 1}].id")
            w = f"reason `{rid or i + 1}`"
            c.keys(row, ("id", "label", "documents", "note", "aliases"), w)
            if rid:
                c.unique(ids, rid, c.line(row, "id"), "reason id")
            c.text(row, "label", f"{w}: label")
            c.texts(row, "documents", f"{w}: documents", required=True)
            c.text(row, "note", f"{w}: note", required=False)
            c.texts(row, "aliases", f"{w}: aliases")
        c.text(apps, "waiting", "applications.waiting", required=False)
    temp = c.mapping(doc, "temporary_care", "temporary_care", required=False)
    if temp is not None:
        c.texts(temp, "nurseries", "temporary_care.nurseries", required=True, nonempty=True)
        c.text(temp, "ages", "temporary_care.ages")
        for i, row in c.records(temp, "fees", "temporary_care.fees"):
            w = f"temporary_care.fees[{i + 1}]"
            c.keys(row, ("name", "fee"), w)
            c.text(row, "name", f"{w}.name")
            c.integer(row, "fee", f"{w}.fee", low=0, what="a fee in yen (a whole number, e.g. 500)")
        c.text(temp, "registration", "temporary_care.registration")
        c.text(temp, "booking", "temporary_care.booking")


def check_allowance(doc: Any, c: Checker) -> None:
    """児童手当 amounts and ages."""
    doc = _top(c, doc, "allowance.yaml")
    if doc is None:
        return
    c.text(doc, "since", "since", required=False)
    c.boolean(doc, "income_limit", "income_limit", required=False)
    for key in ("paid_until_age", "counted_until_age", "under_3_age"):
        c.integer(doc, key, key, low=0, high=30, what="an age")
    c.integer(doc, "third_child_order", "third_child_order", low=1)
    monthly = c.mapping(doc, "monthly", "monthly")
    if monthly is not None:
        c.keys(monthly, ("under_3", "from_3", "third_child_on"), "monthly")
        for key in ("under_3", "from_3", "third_child_on"):
            c.integer(
                monthly,
                key,
                f"monthly.{key}",
                low=0,
                what="an amount in yen (a whole number, e.g. 10000)",
            )
    months = c.seq(doc, "payment_months", "payment_months", nonempty=True)
    for i in range(len(months or [])):
        c.integer(months, i, f"payment_months[{i + 1}]", low=1, high=12, what="a month (1–12)")
    c.integer(doc, "months_per_payment", "months_per_payment", low=1, high=12)
    c.integer(doc, "apply_within_days", "apply_within_days", required=False, low=0)


def check_bulky_rules(doc: Any, c: Checker) -> None:
    """粗大ごみ booking rules: calendar, capacity, limits, deadlines, tickets, reminder."""
    doc = _top(c, doc, "bulky_rules.yaml")
    if doc is None:
        return
    center = c.mapping(doc, "center", "center")
    if center is not None:
        for key in ("name", "phone", "hours"):
            c.text(center, key, f"center.{key}")
    business = c.mapping(doc, "business", "business", required=False)
    if business is not None:
        c.texts(business, "words", "business.words", required=True, nonempty=True)
        c.text(business, "question", "business.question")
        c.text(business, "text", "business.text")
    collection = c.mapping(doc, "collection", "collection")
    if collection is not None:
        c.boolean(collection, "skip_national_holidays", "collection.skip_national_holidays", False)
        c.closed_periods(collection, "collection.")
        c.integer(collection, "max_days_ahead", "collection.max_days_ahead", low=1)
    capacity = c.mapping(doc, "capacity", "capacity")
    if capacity is not None:
        c.integer(capacity, "items_per_district_day", "capacity.items_per_district_day", low=1)
        c.integer(capacity, "alternatives_offered", "capacity.alternatives_offered", low=1)
    per = c.mapping(doc, "per_booking", "per_booking")
    if per is not None:
        c.integer(per, "max_items", "per_booking.max_items", low=1)
        c.integer(per, "max_same_item", "per_booking.max_same_item", low=1)
    deadlines = c.mapping(doc, "deadlines", "deadlines")
    if deadlines is not None:
        for key in ("booking", "change"):
            rule = c.mapping(deadlines, key, f"deadlines.{key}")
            if rule is not None:
                c.keys(rule, ("office_days_before", "hour"), f"deadlines.{key}")
                c.integer(rule, "office_days_before", f"deadlines.{key}.office_days_before", low=0)
                c.hhmm(rule, "hour", f"deadlines.{key}.hour")
    reminder = c.mapping(doc, "reminder", "reminder")
    if reminder is not None:
        c.integer(reminder, "days_before", "reminder.days_before", low=0)
        c.hhmm(reminder, "time", "reminder.time")
        c.hhmm(reminder, "latest", "reminder.latest", required=False)
    tickets = c.mapping(doc, "tickets", "tickets")
    if tickets is not None:
        c.text(tickets, "name", "tickets.name")
        values = c.seq(tickets, "denominations", "tickets.denominations", nonempty=True)
        for i in range(len(values or [])):
            c.integer(
                values,
                i,
                f"tickets.denominations[{i + 1}]",
                low=1,
                what="a ticket value in yen (e.g. 300)",
            )
        c.text(tickets, "sold_at", "tickets.sold_at", required=False)
        c.boolean(tickets, "per_item", "tickets.per_item", required=False)
        c.boolean(tickets, "refundable", "tickets.refundable", required=False)
    put_out = c.mapping(doc, "put_out", "put_out")
    if put_out is not None:
        c.text(put_out, "by", "put_out.by")
        c.text(put_out, "where", "put_out.where", required=False)
    text = c.text(doc, "reminder_text", "reminder_text")
    if text is not None:
        allowed = ("date", "by", "receipt")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            c.error(
                c.line(doc, "reminder_text"),
                f"reminder_text: {exc} (write {{ }} only around date, by, receipt)",
            )
            fields = []
        for name in fields:
            if name not in allowed:
                c.error(
                    c.line(doc, "reminder_text"),
                    f"reminder_text: unknown placeholder {{{name}}}{hint(name, allowed)} "
                    "(use {date}, {by}, {receipt})",
                )


def check_office(doc: Any, c: Checker) -> None:
    """開庁日, staff hours and contacts."""
    doc = _top(c, doc, "office.yaml")
    if doc is None:
        return
    days = c.seq(doc, "open_weekdays", "open_weekdays", nonempty=True)
    for i in range(len(days or [])):
        c.integer(
            days,
            i,
            f"open_weekdays[{i + 1}]",
            low=0,
            high=6,
            what="a weekday (0 = Monday … 6 = Sunday)",
        )
    c.boolean(doc, "skip_national_holidays", "skip_national_holidays", required=False)
    c.closed_periods(doc, "")
    hours = c.mapping(doc, "staff_hours", "staff_hours")
    if hours is not None:
        c.keys(hours, ("open", "close"), "staff_hours")
        start = c.hhmm(hours, "open", "staff_hours.open")
        end = c.hhmm(hours, "close", "staff_hours.close")
        if start and end:
            as_minutes = [int(h) * 60 + int(m) for h, m in (t.split(":") for t in (start, end))]
            if as_minutes[0] >= as_minutes[1]:
                c.error(c.line(hours, "close"), "staff_hours: `close` must be after `open`")
    c.text(doc, "staff_hours_label", "staff_hours_label", required=False)
    contacts = c.mapping(doc, "contacts", "contacts", required=False)
    for name in contacts or {}:
        contact = c.mapping(contacts, name, f"contacts.{name}")
        if contact is not None:
            c.text(contact, "name", f"contacts.{name}.name")
            for key in contact:
                if key != "name":
                    c.text(contact, key, f"contacts.{name}.{key}")


def check_words(doc: Any, c: Checker) -> None:
    """NLU words: affirmative/negative (words, emoji), fillers, counters, item_heads,
    smalltalk (thanks, greeting)."""
    doc = _top(c, doc, "words.yaml")
    if doc is None:
        return
    c.keys(
        doc,
        ("affirmative", "negative", "fillers", "counters", "item_heads", "smalltalk"),
        "words.yaml",
    )
    for side in ("affirmative", "negative"):
        section = c.mapping(doc, side, side)
        if section is not None:
            c.keys(section, ("words", "emoji"), side)
            c.texts(section, "words", f"{side}.words", required=True, nonempty=True)
            c.texts(section, "emoji", f"{side}.emoji")
    c.texts(doc, "fillers", "fillers")
    c.texts(doc, "counters", "counters")
    c.texts(doc, "item_heads", "item_heads")
    smalltalk = c.mapping(doc, "smalltalk", "smalltalk", required=False, empty_ok=True)
    if smalltalk is not None:
        c.keys(smalltalk, ("thanks", "greeting"), "smalltalk")
        for kind in ("thanks", "greeting"):
            c.texts(smalltalk, kind, f"smalltalk.{kind}")


RULE_KEYS = ("id", "intent", "priority", "all", "none", "context", "max_chars")
BUILTINS = ("$item", "$date")  # when bot.nlu cannot be imported; else bot.nlu.rules


def check_intents(
    doc: Any,
    c: Checker,
    intents: Iterable[str] | None = None,
    flows: Iterable[str] | None = None,
    builtins: Iterable[str] = BUILTINS,
) -> None:
    """NLU intent rules: concepts (word lists) and rules over them."""
    doc = _top(c, doc, "intents.yaml")
    if doc is None:
        return
    c.keys(doc, ("concepts", "rules"), "intents.yaml")
    concepts = c.mapping(doc, "concepts", "concepts")
    names = set()
    for name in concepts or {}:
        names.add(str(name))
        c.texts(concepts, name, f"concept `{name}`", required=True, nonempty=True)
    known_intents = set(intents) if intents is not None else None
    known_flows = set(flows) if flows is not None else None
    seen: dict[str, int] = {}
    for i, rule in c.records(doc, "rules", "rules"):
        rid = c.text(rule, "id", f"rules[{i + 1}].id")
        w = f"rule `{rid or i + 1}`"
        c.keys(rule, RULE_KEYS, w)
        if rid:
            if rid in seen:
                c.error(c.line(rule, "id"), f"{w}: the id is also used on line {seen[rid]}")
            else:
                seen[rid] = c.line(rule, "id")
        if "intent" not in rule:
            c.error(rule.line, f"{w}: missing `intent` (an intent id, or null for an answer)")
        elif rule["intent"] is not None:
            intent = c.text(rule, "intent", f"{w}: intent")
            if intent and known_intents is not None and intent not in known_intents:
                c.error(
                    c.line(rule, "intent"),
                    f"{w}: unknown intent `{intent}`{hint(intent, known_intents)}",
                )
        c.integer(rule, "priority", f"{w}: priority", required=False)
        if "max_chars" in rule and rule["max_chars"] is not None:
            c.integer(rule, "max_chars", f"{w}: max_chars", low=1)
        for key in ("all", "none"):
            entries = c.seq(rule, key, f"{w}: {key}", required=key == "all", nonempty=key == "all")
            for j in range(len(entries or [])):
                entry = c.text(entries, j, f"{w}: {key}[{j + 1}]")
                if entry is None or concepts is None:
                    continue
                for part in (p.strip() for p in entry.split("|")):
                    if part not in names and part not in builtins:
                        c.error(
                            c.line(entries, j),
                            f"{w}: unknown concept `{part}`{hint(part, [*names, *builtins])}",
                        )
        if "context" in rule and rule["context"] is not None:
            for j, flow in enumerate(c.texts(rule, "context", f"{w}: context", nonempty=True)):
                if known_flows is not None and flow not in known_flows:
                    c.error(
                        c.line(rule["context"], j),
                        f"{w}: context `{flow}` is not a flow id{hint(flow, known_flows)}",
                    )


def check_canned_replies(doc: Any, c: Checker) -> None:
    """The staff console's canned replies: a title (unique, short) and a text each."""
    doc = _top(c, doc, "canned_replies.yaml")
    if doc is None:
        return
    c.keys(doc, ("replies",), "canned_replies.yaml")
    titles: set[str] = set()
    for i, reply in c.records(doc, "replies", "replies"):
        where = f"replies[{i + 1}]"
        c.keys(reply, ("title", "text"), where)
        title = c.text(reply, "title", f"{where}.title")
        text = c.text(reply, "text", f"{where}.text")
        if title is not None:
            if len(title) > 40:
                c.error(c.line(reply, "title"), f"{where}.title: at most 40 characters")
            if title in titles:
                c.error(c.line(reply, "title"), f"{where}.title: `{title}` is used twice")
            titles.add(title)
        if text is not None and len(text) > 1000:
            c.error(c.line(reply, "text"), f"{where}.text: at most 1000 characters")


# ---- files -----------------------------------------------------------------------------

DATA_CHECKS: dict[str, Callable[..., None]] = {
    "catalogue": check_catalogue,
    "districts": check_districts,
    "nurseries": check_nurseries,
    "childcare": check_childcare,
    "allowance": check_allowance,
    "bulky_rules": check_bulky_rules,
    "office": check_office,
    "canned_replies": check_canned_replies,
    "notices": check_notices,
}
NLU_CHECKS: dict[str, Callable[..., None]] = {"words": check_words, "intents": check_intents}


def _parse(path: Path, c: Checker, text: str | None = None) -> Any:
    try:
        return load_yaml(path, text)
    except YamlSourceError as exc:
        c.error(exc.line, " ".join(exc.message.split()))
    except (ValueError, TypeError, OverflowError):  # a value YAML cannot build (2026-11-31)
        line, message = _bad_value(path, text)
        c.error(line, message)
    return _MISSING


def _bad_value(path: Path, text: str | None) -> tuple[int, str]:
    """The line of the first scalar YAML cannot build into a value, and why."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        stack = [loader.get_single_node()]
        while stack:
            node = stack.pop(0)
            if isinstance(node, yaml.MappingNode):
                stack[:0] = [part for pair in node.value for part in pair]
            elif isinstance(node, yaml.SequenceNode):
                stack[:0] = list(node.value)
            elif node is not None:
                try:
                    loader.construct_object(node, deep=True)
                except (ValueError, TypeError, OverflowError) as exc:
                    what = "date" if node.tag.endswith("timestamp") else "value"
                    return node.start_mark.line + 1, f"`{node.value}` is not a valid {what} ({exc})"
    finally:
        loader.dispose()
    return 1, "a value in this file cannot be read"


def _district_names(directory: Path) -> set[str] | None:
    """District names from districts.yaml next to nurseries.yaml (None if unreadable)."""
    try:
        doc = load_yaml(directory / "districts.yaml")
    except YamlSourceError:
        return None
    rows = doc.get("districts") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return None
    return {
        row["name"] for row in rows if isinstance(row, dict) and isinstance(row.get("name"), str)
    }


def _nlu_names() -> tuple[set[str] | None, tuple[str, ...]]:
    """The NLU's intent ids and built-in concepts (its own lists, so the two agree)."""
    try:
        from bot.nlu.engine import INTENTS
        from bot.nlu.rules import BUILTINS as NLU_BUILTINS
    except ImportError:  # the NLU is not installed: skip the intent-id check
        return None, BUILTINS
    return set(INTENTS), tuple(NLU_BUILTINS)


def validate_data_file(path: Path | str, text: str | None = None) -> list[Problem]:
    """Problems in one flows/data/*.yaml file (syntax for any file; keys and types for
    the files the city's code reads). `text`: the content already read, if any."""
    path = Path(path)
    c = Checker(str(path))
    doc = _parse(path, c, text)
    if doc is _MISSING:
        return c.problems
    check = DATA_CHECKS.get(path.stem)
    if check is check_nurseries:
        check_nurseries(doc, c, _district_names(path.parent))
    elif check is not None:
        check(doc, c)
    return sorted(set(c.problems))


def validate_nlu_file(path: Path | str, flows: Iterable[str] | None = None) -> list[Problem]:
    """Problems in one flows/nlu/*.yaml file. `flows`: the flow ids (for rule contexts)."""
    path = Path(path)
    c = Checker(str(path))
    doc = _parse(path, c)
    if doc is _MISSING:
        return c.problems
    if path.stem == "intents":
        intents, builtins = _nlu_names()
        check_intents(doc, c, intents, flows, builtins)
    elif path.stem in NLU_CHECKS:
        NLU_CHECKS[path.stem](doc, c)
    return sorted(set(c.problems))


def city_files(flows_dir: Path) -> list[Path]:
    """The data and NLU files the city's code reads from a flows folder."""
    return [flows_dir / "data" / f"{name}.yaml" for name in DATA_CHECKS] + [
        flows_dir / "nlu" / f"{name}.yaml" for name in NLU_CHECKS
    ]


def validate_folder(flows_dir: Path | str, flows: Iterable[str] | None = None) -> list[Problem]:
    """Every problem in flows_dir/data/*.yaml and flows_dir/nlu/*.yaml. When the folder
    holds the city's files at all, each one the code reads must be there."""
    flows_dir = Path(flows_dir)
    problems: list[Problem] = []
    for sub, validate in (("data", validate_data_file), ("nlu", None)):
        folder = flows_dir / sub
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            if validate is not None:
                problems += validate(path)
            else:
                problems += validate_nlu_file(path, flows)
    expected = city_files(flows_dir)
    if any(path.is_file() for path in expected):
        for path in expected:
            if not path.is_file():
                problems.append(
                    Problem(str(path), 1, "missing: the bot reads this file (restore it from git)")
                )
    return sorted(set(problems))
