"""The city's named actions for the 粗大ごみ flows (docs/flows.md, "Actions").

Actions compute and store; the wording residents see is in the flows and templates.
Return values are JSON-able (they may be stored in slots)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from bot.clock import TOKYO
from bot.domain import bookings, data, fees, receipts
from bot.domain.calendar import CollectionCalendar, parse_hhmm
from bot.domain.catalogue import Catalogue
from bot.domain.districts import find_place
from bot.domain.labels import day_option, jdate
from bot.engine.actions import ActionList
from bot.nlu.textkey import corrects_itself

# This module's actions; bot.domain.build_domain registers them (ACTION_MODULES).
ACTIONS = ActionList()
register_action = ACTIONS.register

REMINDER = bookings.REMINDER
DAY_CHOICES = ("options", "notes")  # _day_choices
BOOKING_SUMMARY = ("receipt", "date", "label", "count", "deadline")  # _summary


def _catalogue() -> Catalogue:
    return Catalogue.load()


def _calendar() -> CollectionCalendar:
    return CollectionCalendar.load()


def _lines(basket: list[dict[str, Any]]) -> list[fees.Line]:
    catalogue = _catalogue()
    return [
        fees.price(catalogue, row["name"], row["quantity"], row.get("variant")) for row in basket
    ]


def _limit_error(basket: list[dict[str, Any]]) -> dict[str, Any] | None:
    """check_limits without fees (variants may still be unknown)."""
    try:
        bookings.check_limits([fees.Line(r["name"], r["quantity"], 0) for r in basket])
    except bookings.BookingError as error:
        return {"code": error.code, "name": str(error).split(": ")[-1]}
    return None


def _merge(basket: list[dict[str, Any]], name: str, quantity: int, variant: str | None) -> None:
    for row in basket:
        if row["name"] == name and row.get("variant") == variant:
            row["quantity"] += quantity
            return
    basket.append({"name": name, "quantity": quantity, "variant": variant})


@register_action(
    "bulky_sort_items", returns=("refused", "added", "removed", "limit", "count", "basket")
)
def sort_items(ctx: Any) -> dict[str, Any]:
    """Add the accepted items of the last answer to `basket` and take out the ones it
    removes (「掃除機はやめて」); report refused ones with where they go. Over the
    per-booking limits, the new items are not added."""
    catalogue = _catalogue()
    basket = [dict(row) for row in ctx.slots.get("basket") or []]
    refused, added = [], []
    everything = ctx.slots.get("items") or []
    taken_out = {m["name"] for m in everything if m.get("removed")}
    removed = [row["name"] for row in basket if row["name"] in taken_out]
    basket = [row for row in basket if row["name"] not in taken_out]
    mentioned = [m for m in everything if not m.get("removed")]
    needing = [
        m
        for m in mentioned
        if (item := catalogue.item(m["name"] or "")) and item.needs_variant and not m.get("variant")
    ]
    for mention in mentioned:
        name = mention.get("name") or ""
        refusal = catalogue.refusal(name)
        item = catalogue.item(name)
        if refusal is not None or item is None:
            refused.append(
                {
                    "name": name,
                    "kind": refusal.kind if refusal else "unknown",
                    "where": refusal.where if refusal else "",
                }
            )
            continue
        variant = mention.get("variant")
        if item.needs_variant and not variant and len(needing) == 1:
            found = catalogue.match_variant(item, ctx.turn.text or "")
            variant = found.name if found else None
        added.append(
            {"name": item.name, "quantity": int(mention.get("quantity") or 1), "variant": variant}
        )
    more = any(m.get("more") for m in mentioned)
    # Named again without 「あと」「も」: the count given corrects the earlier one.
    again = set() if more else {row["name"] for row in added}
    candidate = [dict(row) for row in basket if row["name"] not in again]
    for row in added:
        _merge(candidate, row["name"], row["quantity"], row["variant"])
    error = _limit_error(candidate) if added else None
    if error is None:
        basket = candidate
    ctx.slots["basket"] = basket
    return {
        "refused": refused,
        "added": len(added),
        "removed": removed,
        "limit": error,
        "count": sum(r["quantity"] for r in basket),
        "basket": len(basket),
    }


@register_action("bulky_clear_items")
def clear_items(ctx: Any) -> None:
    ctx.slots["basket"] = []


@register_action("bulky_next_variant", returns=("index", "name", "question", "labels"))
def next_variant(ctx: Any) -> dict[str, Any] | None:
    """The first basket item whose fee depends on a variant not yet known."""
    catalogue = _catalogue()
    for index, row in enumerate(ctx.slots.get("basket") or []):
        item = catalogue.item(row["name"])
        if item is not None and item.needs_variant and not row.get("variant"):
            return {
                "index": index,
                "name": item.name,
                "question": item.question,
                "labels": [v.name for v in item.variants],
            }
    return None


@register_action("bulky_apply_variant")
def apply_variant(ctx: Any) -> bool:
    pending = ctx.slots.get("pending") or {}
    basket = [dict(row) for row in ctx.slots.get("basket") or []]
    if "index" not in pending or pending["index"] >= len(basket):
        return False
    catalogue = _catalogue()
    item = catalogue.item(pending["name"])
    answer = str(ctx.slots.get("variant_answer") or "")
    variant = catalogue.match_variant(item, answer, answer=True) if item else None
    if variant is None and item is not None and ctx.said is not None:
        # 「1メートルあります」「6畳です」: the size picks the variant (catalogue `range`).
        sized = {v for name, v in ctx.said.sized if name == item.name}
        variant = item.variant(sized.pop()) if len(sized) == 1 else None
    quantity = basket[pending["index"]]["quantity"]
    if variant is not None:
        chosen = [(variant.name, quantity)]
    else:
        # 「1人掛けと3人掛けです」 for two sofas: one of each. Otherwise ask again.
        named = catalogue.variants_named(item, answer, answer=True) if item else []
        # 「いいえ、スプリングは…」 names なし and 入り but answers once; so does a negation.
        yes_no = answer.strip().startswith(("はい", "いいえ"))
        if len(named) < 2 or len(named) != quantity or yes_no or corrects_itself(answer):
            return False
        chosen = [(v.name, 1) for v in named]
    row = basket.pop(pending["index"])
    for name, count in chosen:
        _merge(basket, row["name"], count, name)
    ctx.slots["basket"] = basket
    return True


@register_action("bulky_resolve_place", returns=("district", "town", "label"))
def resolve_place(ctx: Any) -> dict[str, Any]:
    """Keep the 地区 and 町名 only (never the full address)."""
    place = find_place(ctx.turn.text or "")
    if place is not None:
        ctx.slots["district"] = place.district
    ctx.slots["town"] = place.town if place else None
    label = place.label if place else f"{ctx.slots.get('district')}地区"
    return {"district": ctx.slots.get("district"), "town": ctx.slots["town"], "label": label}


def _why_not(ctx: Any, cal: CollectionCalendar, district: str, day: date, items: int) -> str:
    reason = cal.skipped_reason(district, day)
    if reason:
        return reason
    if not cal.can_book(day, ctx.now):
        return "cutoff"
    if bookings.room(ctx.services.bookings, district, day) < items:
        return "full"
    return ""


def _day_choices(ctx: Any, district: str, items: int, exclude: str | None = None) -> dict[str, Any]:
    """Up to N days with room, and why the district's other weekdays up to the last one
    offered are not offered (holiday, 年末年始, cut-off passed, full)."""
    cal = _calendar()
    excluded = date.fromisoformat(exclude) if exclude else None
    days = [
        d
        for d in bookings.days_with_room(
            ctx.services.bookings, cal, district, ctx.now, items, limit=4
        )
        if d != excluded
    ][: int(data.load("bulky_rules")["capacity"]["alternatives_offered"])]
    notes = []
    if days:
        weekday = cal.weekdays[district]
        day = ctx.today
        while day <= days[-1]:
            if day.weekday() == weekday and day > ctx.today and day != excluded and day not in days:
                why = _why_not(ctx, cal, district, day, items)
                if why:
                    notes.append({"date": day.isoformat(), "label": jdate(day), "why": why})
            day = date.fromordinal(day.toordinal() + 1)
    return {"options": [day_option(d) for d in days], "notes": notes}


@register_action("bulky_find_days", returns=DAY_CHOICES)
def find_days(ctx: Any) -> dict[str, Any]:
    count = sum(row["quantity"] for row in ctx.slots.get("basket") or [])
    return _day_choices(ctx, ctx.slots["district"], count)


@register_action(
    "bulky_quote",
    returns=("lines", "count", "total", "tickets", "ticket_list", "ticket_count", "exact", "notes"),
)
def quote(ctx: Any) -> dict[str, Any]:
    """Total fee and tickets; a fresh attempt id makes the booking idempotent."""
    lines = _lines(ctx.slots.get("basket") or [])
    plan = fees.tickets_for(lines)
    ctx.slots.setdefault("attempt", secrets.token_hex(8))
    return {
        "lines": [
            {"label": line.label, "quantity": line.quantity, "subtotal": line.subtotal}
            for line in lines
        ],
        "count": sum(line.quantity for line in lines),
        "total": fees.total(lines),
        "tickets": fees.describe(plan),
        # Smaller tickets first, as in `tickets`: [{"value": 300, "count": 2}, ...]
        "ticket_list": [
            {"value": value, "count": count} for value, count in sorted(plan.counts.items())
        ],
        "ticket_count": plan.ticket_count,
        "exact": plan.exact,
        # What the catalogue says to do with an item (ストーブ: 灯油と電池は抜いてください).
        "notes": _item_notes(ctx.slots.get("basket") or []),
    }


def _item_notes(basket: list[dict[str, Any]]) -> list[dict[str, str]]:
    catalogue = _catalogue()
    notes: dict[str, str] = {}
    for row in basket:
        item = catalogue.item(row["name"])
        if item is not None and item.note and item.name not in notes:
            notes[item.name] = item.note
    return [{"name": name, "note": note} for name, note in notes.items()]


def _schedule_reminder(ctx: Any, receipt: str, day: date) -> None:
    timer = bookings.reminder(_calendar(), receipt, day, ctx.now)
    if timer is not None:
        ctx.timer(*timer)


@register_action("bulky_book", returns=("ok", "error", "receipt", "date"))
def book(ctx: Any) -> dict[str, Any]:
    """Store the booking and set the reminder; {"ok": False, "error": code} when a rule
    refuses (the day filled up or its cut-off passed while the resident was answering)."""
    try:
        booking = bookings.create(
            ctx.services.bookings,
            _calendar(),
            resident_id=ctx.resident.resident,
            district=ctx.slots["district"],
            town=ctx.slots.get("town"),
            day=date.fromisoformat(ctx.slots["day"]),
            lines=_lines(ctx.slots.get("basket") or []),
            now=ctx.now,
            source_ref=f"{ctx.resident.resident}:{ctx.slots.get('attempt')}",
        )
    except bookings.BookingError as error:
        ctx.slots.pop("day", None)
        return {"ok": False, "error": error.code}
    _schedule_reminder(ctx, booking.receipt, booking.collection_date)
    ctx.slots.pop("attempt", None)
    return {"ok": True, "receipt": booking.receipt, "date": booking.collection_date.isoformat()}


# ---- change / cancel ---------------------------------------------------------------------


def _summary(booking: bookings.Booking) -> dict[str, Any]:
    cal = _calendar()
    return {
        "receipt": booking.receipt,
        "date": booking.collection_date.isoformat(),
        "label": jdate(booking.collection_date),
        "count": booking.item_count,
        "deadline": cal.change_deadline(booking.collection_date).isoformat(),
    }


@register_action("bulky_my_bookings")
def my_bookings(ctx: Any) -> list[dict[str, Any]]:
    """The resident's own upcoming bookings (found by who is texting, not by number);
    with exactly one, it is also the `chosen` one (no need to ask its 受付番号)."""
    found = [
        _summary(b)
        for b in bookings.active_for(ctx.services.bookings, ctx.resident.resident, ctx.today)
    ]
    ctx.slots["chosen"] = found[0] if len(found) == 1 else None
    return found


@register_action("bulky_pick_booking", returns=BOOKING_SUMMARY)
def pick_booking(ctx: Any) -> dict[str, Any] | None:
    """The booking named by 受付番号 (or by its number in the list) among the resident's."""
    mine = ctx.slots.get("mine") or []
    answer = str(ctx.slots.get("receipt_answer") or "")
    wanted = receipts.find_in(answer) or receipts.normalise(answer)
    for row in mine:
        if row["receipt"] == wanted:
            return row
    if wanted.isdigit() and 1 <= int(wanted) <= len(mine):
        return mine[int(wanted) - 1]
    return None


@register_action("bulky_check_changeable")
def check_changeable(ctx: Any) -> bool:
    chosen = ctx.slots.get("chosen") or {}
    return _calendar().can_change(date.fromisoformat(chosen["date"]), ctx.now)


@register_action("bulky_change_days", returns=DAY_CHOICES)
def change_days(ctx: Any) -> dict[str, Any]:
    booking = bookings.get_own(
        ctx.services.bookings, ctx.resident.resident, ctx.slots["chosen"]["receipt"]
    )
    return _day_choices(
        ctx, booking.district, booking.item_count, exclude=booking.collection_date.isoformat()
    )


@register_action("bulky_cancel", returns=("ok", "error"))
def cancel(ctx: Any) -> dict[str, Any]:
    receipt = ctx.slots["chosen"]["receipt"]
    try:
        bookings.cancel(
            ctx.services.bookings,
            _calendar(),
            resident_id=ctx.resident.resident,
            receipt=receipt,
            now=ctx.now,
        )
    except bookings.BookingError as error:
        return {"ok": False, "error": error.code}
    ctx.cancel_timer(f"{REMINDER}:{receipt}")
    return {"ok": True}


@register_action("bulky_change_date", returns=("ok", "error", "date"))
def change_date(ctx: Any) -> dict[str, Any]:
    receipt = ctx.slots["chosen"]["receipt"]
    try:
        booking = bookings.change_date(
            ctx.services.bookings,
            _calendar(),
            resident_id=ctx.resident.resident,
            receipt=receipt,
            day=date.fromisoformat(ctx.slots["new_day"]),
            now=ctx.now,
        )
    except bookings.BookingError as error:
        ctx.slots.pop("new_day", None)
        return {"ok": False, "error": error.code}
    ctx.cancel_timer(f"{REMINDER}:{receipt}")
    _schedule_reminder(ctx, receipt, booking.collection_date)
    return {"ok": True, "date": booking.collection_date.isoformat()}


@register_action(REMINDER)
def send_reminder(ctx: Any) -> None:
    """The reminder timer fired: say it as a notice if the booking still stands for that
    day (a cancelled or moved booking says nothing; opted-out residents get nothing)."""
    payload = ctx.turn.payload or {}
    if not ctx.resident.notices_enabled:
        return
    try:
        booking = bookings.get_own(
            ctx.services.bookings, ctx.resident.resident, payload.get("receipt", "")
        )
    except bookings.BookingError:
        return
    if not (booking.active and booking.collection_date.isoformat() == payload.get("date")):
        return
    if not reminder_still_timely(booking.collection_date, ctx.now):
        return  # a stale 「明日は」 is worse than no reminder
    ctx.say(payload["notice"], kind="notice")


def reminder_still_timely(collection: date, now: datetime) -> bool:
    """The day-before reminder says 「明日は」: only true on the day before collection, and
    only before `reminder.latest` (quiet hours would hold a later one until the morning)."""
    rules = data.load("bulky_rules")["reminder"]
    day_before = collection - timedelta(days=int(rules["days_before"]))
    latest = parse_hhmm(str(rules.get("latest", "21:00")))
    local = now.astimezone(TOKYO) if now.tzinfo else now
    return local.date() == day_before and local.time() < latest
