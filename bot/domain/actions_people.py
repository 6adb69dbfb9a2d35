"""Named actions for childcare, 児童手当, staff handoff and notices."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from bot.domain import allowance, childcare
from bot.domain.calendar import OfficeCalendar
from bot.domain.jdates import parse_age, parse_birth, parse_month
from bot.domain.labels import jdatetime
from bot.engine import register_action

# ---- childcare ---------------------------------------------------------------------------


def _entry(ctx: Any) -> date:
    return date.fromisoformat(ctx.slots["entry"])


@register_action("childcare_month")
def entry_month(ctx: Any) -> dict[str, Any] | None:
    """The entry month from `month_text` (「2027年1月」「1月」) → slot `entry`."""
    found = parse_month(str(ctx.slots.get("month_text") or ""), ctx.today)
    if found is None or found <= ctx.today.replace(day=1):
        return None
    ctx.slots["entry"] = found.isoformat()
    return {"entry": found.isoformat(), "label": f"{found.year}年{found.month}月"}


@register_action("childcare_age")
def child_age(ctx: Any) -> dict[str, Any] | None:
    """The child's 年齢 for the entry month, from a birth date or an age (`child_text`)."""
    entry = _entry(ctx)
    text = str(ctx.slots.get("child_text") or "")
    born = parse_birth(text)
    if born is not None:
        status = childcare.eligibility(born, entry)
        age = childcare.school_year_age(born, entry)
    else:
        given = parse_age(text)
        if given is None:
            return None
        age = given
        status = "too_old" if age > childcare.max_age() else "ok"
    ctx.slots["age"] = age
    return {"age": age, "status": status}


@register_action("childcare_vacancies")
def vacancies(ctx: Any) -> dict[str, Any]:
    entry = _entry(ctx)
    key = childcare.month_key(entry)
    published = childcare.published_months()
    if key not in published:
        return {
            "published": False,
            "month": key,
            "latest": published[-1] if published else None,
            "list": [],
        }
    found = childcare.with_room(int(ctx.slots["age"]), key)
    return {
        "published": True,
        "month": key,
        "list": [
            {"name": n.name, "kind": n.kind, "district": n.district, "places": p} for n, p in found
        ],
    }


@register_action("childcare_deadline")
def deadline(ctx: Any) -> dict[str, Any]:
    """How and by when to apply for the entry month."""
    entry = _entry(ctx)
    if entry.month == 4:
        rounds = childcare.april_rounds(entry)
        if rounds is None:
            return {"kind": "april_unknown"}
        return {
            "kind": "april",
            "rounds": [
                {
                    "name": r.name,
                    "from": r.start.isoformat(),
                    "to": r.end.isoformat(),
                    "status": r.status(ctx.today),
                }
                for r in rounds
            ],
        }
    by = childcare.midyear_deadline(entry)
    return {"kind": "midyear", "by": by.isoformat(), "open": ctx.today <= by}


@register_action("childcare_documents")
def documents(ctx: Any) -> dict[str, Any] | None:
    reason = childcare.match_reason(str(ctx.slots.get("reason_text") or ""))
    if reason is None:
        return None
    return {"label": reason.label, "documents": childcare.documents(reason.id), "note": reason.note}


# ---- 児童手当 -----------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+")


@register_action("allowance_estimate")
def allowance_estimate(ctx: Any) -> dict[str, Any] | None:
    """Ages typed as 「10歳と3歳と0歳」 or 「10 3 0」 → the monthly amount per child."""
    text = unicodedata.normalize("NFKC", str(ctx.slots.get("ages_text") or ""))
    ages = [int(n) for n in _NUMBER.findall(text)]
    if not ages or any(age > 40 for age in ages):
        return None
    children = allowance.per_child(ages)
    return {
        "children": [{"age": c.age, "order": c.order, "monthly": c.monthly} for c in children],
        "monthly": sum(c.monthly for c in children),
        "per_payment": allowance.per_payment(ages),
        "next_payment": allowance.next_payment_month(ctx.today).isoformat(),
    }


# ---- people and notices ----------------------------------------------------------------------


@register_action("office_status")
def office_status(ctx: Any) -> dict[str, Any]:
    office = OfficeCalendar.load()
    return {
        "open": office.staff_available(ctx.now),
        "back": jdatetime(office.next_staff_available(ctx.now)),
    }


@register_action("handoff_to_staff")
def handoff(ctx: Any) -> None:
    ctx.update_resident(handoff=True)
    ctx.note_for_staff("担当者との会話を希望しています。")


@register_action("leave_message")
def leave_message(ctx: Any) -> None:
    ctx.note_for_staff(f"伝言: {ctx.slots.get('message')}")


@register_action("set_notices")
def set_notices(ctx: Any, enabled: bool) -> None:
    ctx.update_resident(notices_enabled=bool(enabled))
