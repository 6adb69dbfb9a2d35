"""Named actions for the ごみの分け方 flow (flows/garbage_sorting.yaml).

`garbage_lookup` reads what the resident asked (items, a kind, a day) from the NLU's
understanding of the message; `garbage_days` adds the collection days for the district;
`garbage_remember_place` keeps the 地区 and 町名 the resident gave, so they are asked once.
The wording is in the flow and its templates; every fact is in flows/data/garbage.yaml.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.catalogue import Catalogue
from bot.domain.districts import district_label, find_place
from bot.domain.garbage import GarbageGuide, Thing
from bot.domain.labels import jdate
from bot.engine.actions import ActionList

ACTIONS = ActionList()
register_action = ACTIONS.register

MAX_THINGS = 3  # an answer about more items would not fit one SMS
LOOKUP = ("kind", "things", "category", "day", "district", "needs_district", "booking", "names")
DAYS = ("district", "label", "lines", "day", "day_label", "on_day", "closed", "weekly")


def _thing_row(guide: GarbageGuide, thing: Thing) -> dict[str, Any]:
    kind = guide.kinds[thing.kind]
    return {
        "name": thing.name,
        "category": thing.kind,
        "how": thing.how,
        "note": thing.note,
        "where": thing.where,
        "kind_how": kind.how,
        "bag": kind.bag,
        "booking": kind.booking,
        "not_collected": kind.not_collected,
    }


def _things(ctx: Any, guide: GarbageGuide) -> list[Thing]:
    said = ctx.said
    if said is None:
        return []
    catalogue = Catalogue.load()
    names = [*said.garbage, *(item.name for item in said.items)]
    found = [t for t in (guide.thing(name, catalogue) for name in names) if t is not None]
    return found[:MAX_THINGS]


@register_action("garbage_lookup", returns=LOOKUP)
def lookup(ctx: Any, schedule_rules: list[str] | None = None) -> dict[str, Any]:
    """What the message asks: items (their kind), a kind (its days), what a day collects
    (`calendar`), or the whole weekly schedule (`schedule`: the NLU rule that understood
    it is one of `schedule_rules`, 「ごみの収集日を知りたい」); `unknown` otherwise."""
    guide = GarbageGuide.load()
    said = ctx.said
    things = _things(ctx, guide)
    kinds = [k for k in (said.garbage_kinds if said else ()) if k in guide.kinds]
    day: date | None = said.dates[0] if said and said.dates else None
    if things:
        kind = "item"
    elif kinds:
        kind = "kind"
    elif day is not None:
        kind = "calendar"
    elif said is not None and said.rule in (schedule_rules or []):
        kind = "schedule"
    else:
        kind = "unknown"
    rows = [_thing_row(guide, t) for t in things]
    if kind == "kind":
        rows = [{"name": name, "category": name, **_kind_only(guide, name)} for name in kinds[:1]]
    district = (said.district if said else None) or ctx.resident.district
    dated = kind in ("kind", "calendar", "schedule") or any(
        not (r["booking"] or r["not_collected"]) for r in rows
    )
    if district:
        ctx.slots["district"] = district
    return {
        "kind": kind,
        "things": rows,
        "category": rows[0]["category"] if rows else None,
        "day": day.isoformat() if kind == "calendar" and day else None,
        "district": district,
        "needs_district": dated,
        "booking": any(r["booking"] for r in rows),
        "names": [r["name"] for r in rows],
    }


def _kind_only(guide: GarbageGuide, name: str) -> dict[str, Any]:
    kind = guide.kinds[name]
    return {
        "how": None,
        "note": None,
        "where": None,
        "kind_how": kind.how,
        "bag": kind.bag,
        "booking": kind.booking,
        "not_collected": kind.not_collected,
    }


@register_action("garbage_remember_place", returns=("district", "town", "label"))
def remember_place(ctx: Any) -> dict[str, Any]:
    """Keep the 地区 and 町名 just given (never the rest of an address) for next time."""
    place = find_place(ctx.turn.text or "")
    district = place.district if place else ctx.slots.get("district")
    town = place.town if place else None
    if district:
        ctx.slots["district"] = district
        ctx.update_resident(district=district, town=town)
    return {
        "district": district,
        "town": town,
        "label": place.label if place else (district_label(district) if district else ""),
    }


@register_action("garbage_days", returns=DAYS)
def days(ctx: Any) -> dict[str, Any]:
    """Collection days in the district for what `found` (garbage_lookup) names: the next
    day and the weekly rule of each kind, or the kinds a named day collects."""
    guide = GarbageGuide.load()
    found = ctx.slots.get("found") or {}
    district = ctx.slots.get("district") or found.get("district")
    lines = []
    for row in found.get("things") or []:
        kind = guide.kinds[row["category"]]
        line = dict(row)
        if district and kind.schedule:
            upcoming = guide.next_days(kind.name, district, ctx.now)
            line["next"] = jdate(upcoming[0]) if upcoming else None
            line["weekly"] = guide.weekly(kind.name, district)
        lines.append(line)
    day = date.fromisoformat(found["day"]) if found.get("day") else None
    on_day = guide.on_day(district, day) if district and day else []
    weekly = [
        {"category": name, "weekly": guide.weekly(name, district)}
        for name, kind in guide.kinds.items()
        if district and kind.schedule
    ]
    return {
        "district": district,
        "label": district_label(district) if district else "",
        "weekly": weekly,
        "lines": lines,
        "day": day.isoformat() if day else None,
        "day_label": jdate(day) if day else None,
        "on_day": on_day,
        "closed": bool(day and guide.closed_on(day)),
    }
