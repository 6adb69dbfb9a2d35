"""Named actions for childcare, 児童手当, staff handoff and notices."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from bot.clock import TOKYO
from bot.domain import allowance, childcare
from bot.domain.calendar import OfficeCalendar
from bot.domain.jdates import (
    entry_month_in,
    has_written_age,
    parse_age,
    parse_birth,
    parse_month,
)
from bot.domain.labels import jdatetime
from bot.engine.actions import ActionList

# This module's actions; bot.domain.build_domain registers them (ACTION_MODULES).
ACTIONS = ActionList()
register_action = ACTIONS.register

# ---- childcare ---------------------------------------------------------------------------


def _entry(ctx: Any) -> date:
    return date.fromisoformat(ctx.slots["entry"])


@register_action("childcare_from_message", returns=("month", "child"))
def from_message(ctx: Any) -> dict[str, bool]:
    """What this message already says (「来年1月から入れる保育園ありますか」「4歳の子」):
    it becomes the answer to the month / child question, which is then not asked. Only
    clear forms count: a month the child would start in (4月から, 1月入所) — not 10月生まれ
    or 3月に引っ越す — and an age with 歳 or a birth date — not a bare 「3」 (a menu pick)."""
    text = ctx.turn.text or ""
    start = entry_month_in(text)
    month = parse_month(start, ctx.today) if start else None
    child = has_written_age(text) or parse_birth(text) is not None
    if month is not None and not ctx.slots.get("month_text"):
        ctx.slots["month_text"] = start
    if child and not ctx.slots.get("child_text"):
        ctx.slots["child_text"] = text
    return {"month": month is not None, "child": child}


@register_action("childcare_month", returns=("entry", "label"))
def entry_month(ctx: Any) -> dict[str, Any] | None:
    """The entry month from `month_text` (「2027年1月」「1月」) → slot `entry`."""
    found = parse_month(str(ctx.slots.get("month_text") or ""), ctx.today)
    if found is None or found <= ctx.today.replace(day=1):
        return None
    ctx.slots["entry"] = found.isoformat()
    return {"entry": found.isoformat(), "label": f"{found.year}年{found.month}月"}


@register_action("childcare_age", returns=("age", "status", "other", "by_birth"))
def child_age(ctx: Any) -> dict[str, Any] | None:
    """The child's 年齢 for the entry month (the age on 4月1日 of that school year), from a
    birth date or an age (`child_text`).

    An age alone is the child's age today; on 4月1日 the child may be that age or one year
    younger (or older, for next school year). Status:
    - "ok" with `age`; `other` is the other possible class when the birthday would decide
      it (the answer is given for `age`, and says so);
    - "too_young" / "too_old";
    - "need_birth": one possible class is eligible and the other is not, so the birth
      date decides (asked once; an age again is not an answer then)."""
    entry = _entry(ctx)
    text = str(ctx.slots.get("child_text") or "")
    born = parse_birth(text)
    if born is not None:
        if born > ctx.today:
            return None
        status = childcare.eligibility(born, entry)
        age = childcare.school_year_age(born, entry)
        ctx.slots["age"] = age
        return {"age": age, "status": status, "other": None, "by_birth": True}
    given = parse_age(text)
    if given is None or given > 20:
        return None
    limit = childcare.max_age()
    classes = childcare.class_ages_for_current_age(given, ctx.today, entry)
    eligible = [a for a in classes if a <= limit]
    if not eligible:
        return {"age": given, "status": "too_old", "other": None, "by_birth": False}
    if len(eligible) < len(classes):
        if ctx.slots.get("birth_asked"):
            return None
        ctx.slots["birth_asked"] = True
        return {"age": eligible[-1], "status": "need_birth", "other": None, "by_birth": False}
    age = given if given in eligible else eligible[-1]
    other = next((a for a in eligible if a != age), None)
    ctx.slots["age"] = age
    return {"age": age, "status": "ok", "other": other, "by_birth": False}


@register_action("childcare_vacancies", returns=("published", "month", "latest", "list"))
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


@register_action("childcare_deadline", returns=("kind", "rounds", "by", "open"))
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


@register_action("childcare_documents", returns=("label", "documents", "note"))
def documents(ctx: Any) -> dict[str, Any] | None:
    reason = childcare.match_reason(str(ctx.slots.get("reason_text") or ""))
    if reason is None:
        return None
    return {"label": reason.label, "documents": childcare.documents(reason.id), "note": reason.note}


# ---- 児童手当 -----------------------------------------------------------------------------

_KANJI = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_COUNT = re.compile(r"(\d+|[一二三四五六七八九十]|ひと|ふた|み|よ)\s*(人|名|り)")
_BIRTH = re.compile(r"(令和|平成)?\d{1,4}[年/.\-]\d{1,2}[月/.\-]\d{1,2}日?")
_MONTHS_OLD = re.compile(r"\d+\s*(か月|ヶ月|ヵ月|カ月|ケ月)")
_AGE_UNIT = re.compile(r"(\d+)\s*(歳|才|さい)")
_NUMBER = re.compile(r"\d+")
_KANA_COUNT = {"ひと": 1, "ふた": 2, "み": 3, "よ": 4}


def read_children(text: str, today: date) -> tuple[int | None, list[int]]:
    """(count, ages) from an answer: 「2人」 is a count, not an age; 「1人、3歳」 is one
    child aged 3; birth dates become today's age, 「生後3か月」 is 0. Bare numbers with no
    unit (「10 3 0」) are ages."""
    text = unicodedata.normalize("NFKC", text)
    count = None
    if match := _COUNT.search(text):
        raw = match.group(1)
        if raw.isdigit():
            count = int(raw)
        elif raw in _KANJI:
            count = _KANJI[raw]
        elif match.group(2) == "り" and raw in ("ひと", "ふた"):
            count = _KANA_COUNT[raw]
        elif match.group(2) != "り" and raw in _KANA_COUNT:
            count = None  # 「み人」 is not how anyone writes it
        if count is not None:
            text = text[: match.start()] + " " + text[match.end() :]
    ages: list[int] = []
    for match in list(_BIRTH.finditer(text)):
        born = parse_birth(match.group(0))
        if born is not None and born <= today:
            years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            ages.append(years)
        text = text.replace(match.group(0), " ", 1)
    for match in list(_MONTHS_OLD.finditer(text)):
        ages.append(0)
        text = text.replace(match.group(0), " ", 1)
    with_unit = [int(m.group(1)) for m in _AGE_UNIT.finditer(text)]
    ages += with_unit
    if not with_unit:
        ages += [int(n) for n in _NUMBER.findall(text)]
    return count, ages


@register_action(
    "allowance_estimate",
    returns=("kind", "count", "children", "monthly", "per_payment", "next_payment"),
)
def allowance_estimate(ctx: Any) -> dict[str, Any] | None:
    """Ages typed as 「10歳と3歳と0歳」, 「10 3 0」 or birth dates → the monthly amount per
    child (`kind` "ok"). A number of children (「2人」) is kept in `child_count` and the
    ages are asked for (`kind` "count"); ages that do not match the count given are not an
    answer (None), nor is anything without ages."""
    count, ages = read_children(str(ctx.slots.get("ages_text") or ""), ctx.today)
    if count is not None and count > 0:
        ctx.slots["child_count"] = count
    expected = ctx.slots.get("child_count")
    if any(age > 40 for age in ages) or (count is not None and count <= 0):
        return None
    if not ages:
        return {"kind": "count", "count": expected} if count else None
    if expected and len(ages) != expected:
        return None
    children = allowance.per_child(ages)
    return {
        "kind": "ok",
        "children": [{"age": c.age, "order": c.order, "monthly": c.monthly} for c in children],
        "monthly": sum(c.monthly for c in children),
        "per_payment": allowance.per_payment(ages),
        "next_payment": allowance.next_payment_month(ctx.today).isoformat(),
    }


# ---- re-asking ------------------------------------------------------------------------------


@register_action("count_miss")
def count_miss(ctx: Any, question: str) -> int:
    """One more answer to `question` that could not be used: 1, 2, 3… (save it as a slot
    and word the re-ask by it; escalate after the last). For questions whose answer is
    free text checked by an action, where the engine's own retry ladder cannot count."""
    counts = dict(ctx.slots.get("_misses") or {})
    counts[question] = int(counts.get(question, 0)) + 1
    ctx.slots["_misses"] = counts
    return counts[question]


@register_action("clear_misses")
def clear_misses(ctx: Any, question: str) -> int:
    """The question was answered: its next miss counts from 1 again."""
    counts = dict(ctx.slots.get("_misses") or {})
    counts.pop(question, None)
    ctx.slots["_misses"] = counts
    return 0


# ---- people and notices ----------------------------------------------------------------------


@register_action("office_status", returns=("open", "back"))
def office_status(ctx: Any) -> dict[str, Any]:
    office = OfficeCalendar.load()
    return {
        "open": office.staff_available(ctx.now),
        "back": jdatetime(office.next_staff_available(ctx.now)),
    }


# The pipeline's name for the timer that ends a handoff (bot/pipeline/processor.py).
HANDOFF_EXPIRY = "handoff_expire"


@register_action("handoff_to_staff")
def handoff(ctx: Any) -> None:
    ctx.update_resident(handoff=True)
    ctx.note_for_staff("担当者との会話を希望しています。")
    # Staff leave at closing time: then the resident is told when they are back, and the
    # bot answers again meanwhile (the message stays in the staff console).
    office = OfficeCalendar.load()
    local = ctx.now.astimezone(TOKYO)
    closing = datetime.combine(local.date(), office.staff_close, tzinfo=TOKYO)
    if closing > local:
        back = jdatetime(office.next_staff_available(closing))
        ctx.timer(HANDOFF_EXPIRY, closing, {"back": back})


# A yes or no longer than this is a message that starts with one (「はい、明日電話ください」).
LEAVE_ANSWER_MAX = 12


@register_action("leave_message")
def leave_message(ctx: Any) -> None:
    ctx.note_for_staff(f"伝言: {ctx.slots.get('message')}")


@register_action("read_leave_reply")
def read_leave_reply(ctx: Any) -> str:
    """The reply to 「伝言を残しますか？」: "yes", "no", or "message" when the resident
    wrote the message itself instead (kept as `message`, whatever it says)."""
    said = ctx.said
    reply = str(ctx.slots.get("leave_reply") or "")
    if said is not None and said.yes_no is None and said.choice in (1, 2):
        return "yes" if said.choice == 1 else "no"  # SMS: 1. はい 2. いいえ
    if said is not None and said.yes_no is not None and len(said.key) <= LEAVE_ANSWER_MAX:
        return str(said.yes_no)
    ctx.slots["message"] = reply
    return "message"


@register_action("set_notices")
def set_notices(ctx: Any, enabled: bool) -> None:
    """Every notice on or off (a city's own flows may use it; ours use notice_stop and
    notice_resume, which also stop or resume a single topic). The time is kept."""
    ctx.update_resident(notices_enabled=bool(enabled))
    action = "resume" if enabled else "stop"
    ctx.services.notices.consent(ctx.turn.resident, None, action, ctx.channel or "sms", ctx.now)
