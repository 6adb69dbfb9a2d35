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
- garbage.yaml     bot/domain/garbage.py, bot/nlu/lexicon.py, templates (data.garbage);
                   checked in bot/domain/validate_garbage.py
- faq.yaml         bot/nlu/faq.py, bot/domain/actions_faq.py (bot/domain/validate_faq.py)
- canned_replies.yaml  bot/staff/console_routes.py (the staff console's canned replies)
- notices.yaml     bot/notices/policy.py (the notice rules; checked by bot/domain/notice_check.py)
- nlu/words.yaml   bot/nlu/lexicon.py
- nlu/intents.yaml bot/nlu/rules.py (and any other nlu/*.yaml: a city's added rules)
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from bot.domain.checker import (
    _MISSING,
    MONTH_RE,
    NO_PLACES,
    Checker,
    Problem,
    _top,
)
from bot.domain.notice_check import check_notices
from bot.domain.validate_faq import check_faq
from bot.domain.validate_garbage import catalogue_words, check_garbage
from bot.engine.checks import describe, hint
from bot.yamlsource import LineDict, YamlSourceError, load_yaml

# ---- one function per file -------------------------------------------------------------

ITEM_KEYS = ("name", "synonyms", "fee", "variants", "unit", "note")
OPTION_KEYS = ("name", "fee", "aliases", "range")
REFUSED_KEYS = ("name", "synonyms")


def _range(c: Checker, opt: Any, where: str, units: dict[str, Any] | None) -> None:
    """A variant's size: one of below / from / up_to / over and a size in known units."""
    from bot.nlu.measures import RANGE_KINDS, MeasureReader

    spec = c.mapping(opt, "range", where)
    if spec is None:
        return
    if len(spec) != 1 or next(iter(spec)) not in RANGE_KINDS:
        c.error(
            c.line(opt, "range"),
            f"{where}: give one of {', '.join(RANGE_KINDS)} (e.g. {{from: 1m}})",
        )
        return
    kind = next(iter(spec))
    value = c.text(spec, kind, f"{where}.{kind}")
    if value is not None and units is not None and MeasureReader(units).parse(value) is None:
        c.error(
            c.line(spec, kind),
            f"{where}.{kind}: `{value}` is not a size in the units of nlu/words.yaml measures",
        )


def _units(directory: Path) -> dict[str, Any] | None:
    """The `measures` of nlu/words.yaml next to data/ (None if unreadable)."""
    try:
        doc = load_yaml(directory.parent / "nlu" / "words.yaml")
    except (YamlSourceError, OSError):
        return None
    return doc.get("measures") if isinstance(doc, dict) else None


def check_catalogue(doc: Any, c: Checker, units: dict[str, Any] | None = None) -> None:
    """Accepted items (fee or variants), not_accepted groups, small_items. `units`: the
    sizes of nlu/words.yaml (for variant ranges)."""
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
                    if "range" in opt:
                        _range(c, opt, f"{wo} range", units)
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
        (
            "affirmative",
            "negative",
            "fillers",
            "counters",
            "item_heads",
            "removal",
            "containers",
            "measures",
            "first_choice",
            "last_choice",
            "additions",
            "smalltalk",
        ),
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
    c.texts(doc, "removal", "removal")
    c.texts(doc, "containers", "containers")
    for key in ("first_choice", "last_choice", "additions"):
        c.texts(doc, key, key)
    measures = c.mapping(doc, "measures", "measures", required=False)
    for dimension in measures or {}:
        table = c.mapping(measures, dimension, f"measures.{dimension}")
        for unit, value in (table or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                c.error(
                    c.line(table, unit),
                    f"measures.{dimension}.{unit}: expected a size above 0, got `{value}`",
                )
    smalltalk = c.mapping(doc, "smalltalk", "smalltalk", required=False, empty_ok=True)
    if smalltalk is not None:
        c.keys(smalltalk, ("thanks", "greeting"), "smalltalk")
        for kind in ("thanks", "greeting"):
            c.texts(smalltalk, kind, f"smalltalk.{kind}")


RULE_KEYS = (
    "id",
    "intent",
    "priority",
    "all",
    "none",
    "context",
    "after",
    "outside_flows",
    "max_chars",
)
BUILTINS = ("$item", "$date")  # when bot.nlu cannot be imported; else bot.nlu.rules


def check_intents(
    doc: Any,
    c: Checker,
    intents: Iterable[str] | None = None,
    flows: Iterable[str] | None = None,
    builtins: Iterable[str] = BUILTINS,
    shared: Iterable[str] = (),
) -> None:
    """NLU intent rules: concepts (word lists), rules over them, and `intents` (ids the bot
    recognises before a flow enters on them). `intents`: every id a rule may give (the
    flows' entry intents, the global intents and the declared ones); `shared`: concepts
    defined in the folder's other rule files."""
    doc = _top(c, doc, Path(c.file).name)
    if doc is None:
        return
    c.keys(doc, ("concepts", "rules", "intents"), Path(c.file).name)
    concepts = c.mapping(doc, "concepts", "concepts", required=False)
    names = set(shared)
    for name in concepts or {}:
        names.add(str(name))
        c.texts(concepts, name, f"concept `{name}`", required=True, nonempty=True)
    c.texts(doc, "intents", "intents")
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
                    f"{w}: unknown intent `{intent}`{hint(intent, known_intents)}: no flow "
                    "enters on it and it is not a global intent (list it under `intents:` "
                    "to recognise it before its flow exists)",
                )
        c.integer(rule, "priority", f"{w}: priority", required=False)
        if "outside_flows" in rule:
            c.boolean(rule, "outside_flows", f"{w}: outside_flows")
        if "max_chars" in rule and rule["max_chars"] is not None:
            c.integer(rule, "max_chars", f"{w}: max_chars", low=1)
        for key in ("all", "none"):
            entries = c.seq(rule, key, f"{w}: {key}", required=key == "all", nonempty=key == "all")
            for j in range(len(entries or [])):
                entry = c.text(entries, j, f"{w}: {key}[{j + 1}]")
                if entry is None:
                    continue
                for part in (p.strip() for p in entry.split("|")):
                    if part not in names and part not in builtins:
                        c.error(
                            c.line(entries, j),
                            f"{w}: unknown concept `{part}`{hint(part, [*names, *builtins])}",
                        )
        for key in ("context", "after"):
            if key not in rule or rule[key] is None:
                continue
            for j, flow in enumerate(c.texts(rule, key, f"{w}: {key}", nonempty=True)):
                if known_flows is not None and flow not in known_flows:
                    c.error(
                        c.line(rule[key], j),
                        f"{w}: {key} `{flow}` is not a flow id{hint(flow, known_flows)}",
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
    "garbage": check_garbage,
    "faq": check_faq,
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


def _catalogue_words(directory: Path) -> dict[str, str] | None:
    """Every word of catalogue.yaml next to garbage.yaml (None if unreadable)."""
    try:
        doc = load_yaml(directory / "catalogue.yaml")
    except YamlSourceError:
        return None
    if not isinstance(doc, dict):
        return None
    rows = list(doc.get("items") or [])
    for group in doc.get("not_accepted") or []:
        rows += (group.get("items") or []) if isinstance(group, dict) else []
    small = doc.get("small_items")
    rows += (small.get("items") or []) if isinstance(small, dict) else []
    return catalogue_words(rows)


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


def _nlu_builtins() -> tuple[str, ...]:
    """The NLU's built-in concepts (its own list, so the two agree)."""
    try:
        from bot.nlu.rules import BUILTINS as NLU_BUILTINS
    except ImportError:
        return BUILTINS
    return tuple(NLU_BUILTINS)


def _rule_files(nlu_dir: Path) -> list[Path]:
    return sorted(p for p in [*nlu_dir.glob("*.yaml"), *nlu_dir.glob("*.yml")] if p.stem != "words")


def _shared_rule_names(path: Path) -> tuple[set[str], set[str]]:
    """Concepts and declared intents of the rule files next to `path` (itself excluded)."""
    concepts: set[str] = set()
    declared: set[str] = set()
    for other in _rule_files(path.parent):
        try:
            doc = yaml.safe_load(other.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, ValueError):
            continue
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("intents"), list):
            declared.update(str(x) for x in doc["intents"])
        if other.resolve() != path.resolve() and isinstance(doc.get("concepts"), dict):
            concepts.update(str(name) for name in doc["concepts"])
    return concepts, declared


def validate_data_file(
    path: Path | str, text: str | None = None, flows: Iterable[str] | None = None
) -> list[Problem]:
    """Problems in one flows/data/*.yaml file (syntax for any file; keys and types for
    the files the city's code reads). `text`: the content already read, if any;
    `flows`: the flow ids (faq.yaml names flows)."""
    path = Path(path)
    c = Checker(str(path))
    doc = _parse(path, c, text)
    if doc is _MISSING:
        return c.problems
    check = DATA_CHECKS.get(path.stem)
    if check is check_nurseries:
        check_nurseries(doc, c, _district_names(path.parent))
    elif check is check_catalogue:
        check_catalogue(doc, c, _units(path.parent))
    elif check is check_garbage:
        check_garbage(doc, c, _district_names(path.parent), _catalogue_words(path.parent))
    elif check is check_faq:
        check_faq(doc, c, None if flows is None else set(flows))
    elif check is not None:
        check(doc, c)
    return sorted(set(c.problems))


def validate_nlu_file(
    path: Path | str, flows: Iterable[str] | None = None, intents: Iterable[str] | None = None
) -> list[Problem]:
    """Problems in one flows/nlu/*.yaml file. `flows`: the flow ids (for rule contexts);
    `intents`: the ids flows enter on and the global intents (None: not checked)."""
    path = Path(path)
    c = Checker(str(path))
    doc = _parse(path, c)
    if doc is _MISSING:
        return c.problems
    if path.stem in NLU_CHECKS and path.stem != "intents":
        NLU_CHECKS[path.stem](doc, c)
    else:  # intents.yaml, or a rule file a city added
        shared, declared = _shared_rule_names(path)
        known = None if intents is None else {*intents, *declared}
        check_intents(doc, c, known, flows, _nlu_builtins(), shared)
    return sorted(set(c.problems))


def city_files(flows_dir: Path) -> list[Path]:
    """The data and NLU files the city's code reads from a flows folder."""
    return [flows_dir / "data" / f"{name}.yaml" for name in DATA_CHECKS] + [
        flows_dir / "nlu" / f"{name}.yaml" for name in NLU_CHECKS
    ]


def validate_folder(
    flows_dir: Path | str,
    flows: Iterable[str] | None = None,
    intents: Iterable[str] | None = None,
) -> list[Problem]:
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
                problems += validate(path, flows=flows)
            else:
                problems += validate_nlu_file(path, flows, intents)
    expected = city_files(flows_dir)
    if any(path.is_file() for path in expected):
        for path in expected:
            if not path.is_file():
                problems.append(
                    Problem(str(path), 1, "missing: the bot reads this file (restore it from git)")
                )
    return sorted(set(problems))
