"""Named actions for residents' notice settings (お知らせの登録・設定・停止・再開).

The topics and the words residents name them by are the city's (data/notices.yaml). What is
kept: the topics chosen, the 地区 and 町名 (never an address), and the time and channel of
each consent and each stop (evidence of consent) — never the message's text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.domain import data
from bot.domain.districts import find_place
from bot.domain.text import fold
from bot.engine.actions import ActionList

ACTIONS = ActionList()
register_action = ACTIONS.register

_NUMBER = re.compile(r"[0-9]+")
_ALL = ("すべて", "全て", "全部", "ぜんぶ", "全部の", "全部お願いします", "全て受け取る")


def _topics() -> list[dict[str, Any]]:
    return list(data.load("notices")["topics"])


def _labels(ids: list[str]) -> str:
    names = {t["id"]: t["label"] for t in _topics()}
    return "、".join(names[i] for i in ids if i in names)


def topics_named(text: str) -> list[str]:
    """The topics a text names by their words or labels (「ごみのお知らせを停止」→ gomi)."""
    folded = fold(text)
    found = []
    for topic in _topics():
        words = [topic["label"], *topic["words"]]
        if any(fold(word) and fold(word) in folded for word in words):
            found.append(topic["id"])
    return found


def picked_topics(text: str, postback: str | None = None) -> list[str]:
    """「1と3」「1,3」「１・３」「防災とごみ」「すべて」 (or a tapped chip) → topic ids, in menu order."""
    topics = _topics()
    chosen = (postback or "").removeprefix("choice:") or text
    flat = unicodedata.normalize("NFKC", chosen).strip()
    if any(word in flat for word in _ALL):
        return [t["id"] for t in topics]
    ids: set[str] = set()
    for number in _NUMBER.findall(flat):
        index = int(number) - 1
        if not 0 <= index < len(topics):
            return []  # a number that is no topic: ask again rather than guess
        ids.add(topics[index]["id"])
    ids.update(topics_named(flat))
    return [t["id"] for t in topics if t["id"] in ids]


def _via(ctx: Any) -> str:
    return str(ctx.channel or "sms")


@register_action(
    "notice_settings", returns=("subscribed", "enabled", "topics", "labels", "place", "has_place")
)
def settings(ctx: Any) -> dict[str, Any]:
    """The resident's current choice."""
    active = [s.topic for s in ctx.services.notices.subscriptions(ctx.turn.resident) if s.active]
    order = [t["id"] for t in _topics()]
    active.sort(key=lambda t: order.index(t) if t in order else len(order))
    district = getattr(ctx.resident, "district", None)
    town = getattr(ctx.resident, "town", None)
    place = ""
    if district:
        place = f"{district}地区" + (f"（{town}）" if town else "")
    return {
        "subscribed": bool(active),
        "enabled": bool(ctx.resident.notices_enabled),
        "topics": active,
        "labels": _labels(active) or "なし",
        "place": place,
        "has_place": bool(district),
    }


@register_action("notice_topic_menu")
def topic_menu(ctx: Any, lead: str = "") -> None:
    """The topics as numbered choices (chips on +メッセージ); several may be picked."""
    topics = _topics()
    lines = [f"{i}. {t['label']}" for i, t in enumerate(topics, 1)]
    text = "受け取るお知らせを番号でお選びください。いくつでも選べます（例：「1と3」「すべて」）。"
    body = "\n".join(lines)
    if ctx.channel == "rcs":
        ctx.say(f"{lead}{text}", suggestions=[*(t["label"] for t in topics), "すべて"])
    else:
        ctx.say(f"{lead}{text}\n{body}")


@register_action("notice_pick_topics", returns=("ok", "topics", "labels"))
def pick_topics(ctx: Any) -> dict[str, Any]:
    chosen = picked_topics(str(ctx.slots.get("topics_text") or ""), ctx.turn.postback)
    if not chosen:
        return {"ok": False, "topics": [], "labels": ""}
    ctx.slots["topics"] = chosen
    return {"ok": True, "topics": chosen, "labels": _labels(chosen)}


@register_action("notice_place", returns=("ok", "district", "town", "label"))
def place(ctx: Any) -> dict[str, Any]:
    """The 地区 (and 町名, when given) from the answer; kept on the resident's row."""
    found = find_place(ctx.turn.text or "")
    district = found.district if found else ctx.slots.get("district")
    if not district:
        return {"ok": False, "district": None, "town": None, "label": ""}
    town = found.town if found else None
    ctx.slots["district"] = district
    ctx.update_resident(district=district, town=town)
    label = f"{district}地区" + (f"（{town}）" if town else "")
    return {"ok": True, "district": district, "town": town, "label": label}


@register_action("notice_subscribe", returns=("labels", "resumed"))
def subscribe(ctx: Any) -> dict[str, Any]:
    """Subscribe to the topics picked and stop the others (the resident's new choice);
    an explicit subscription also ends a total stop."""
    chosen = list(ctx.slots.get("topics") or [])
    notices = ctx.services.notices
    rid, now = ctx.turn.resident, ctx.now
    others = [t["id"] for t in _topics() if t["id"] not in chosen]
    notices.set_topics(rid, chosen, True, _via(ctx), now)
    notices.set_topics(rid, others, False, _via(ctx), now)
    resumed = not ctx.resident.notices_enabled
    if resumed:
        ctx.update_resident(notices_enabled=True)
        notices.consent(rid, None, "resume", _via(ctx), now)
    return {"labels": _labels(chosen), "resumed": resumed}


@register_action("notice_stop", returns=("topic", "label"))
def stop(ctx: Any) -> dict[str, Any]:
    """「ごみのお知らせを停止」 stops that topic; 「停止」 alone stops every notice (the
    resident can still use the bot)."""
    named = topics_named(ctx.turn.text or "")
    notices = ctx.services.notices
    if len(named) == 1:
        notices.set_topics(ctx.turn.resident, named, False, _via(ctx), ctx.now)
        return {"topic": named[0], "label": _labels(named)}
    ctx.update_resident(notices_enabled=False)
    notices.consent(ctx.turn.resident, None, "stop", _via(ctx), ctx.now)
    return {"topic": None, "label": ""}


@register_action("notice_resume", returns=("topic", "label", "labels"))
def resume(ctx: Any) -> dict[str, Any]:
    """「再開」 resumes every notice; 「ごみのお知らせを再開」 that topic."""
    named = topics_named(ctx.turn.text or "")
    notices = ctx.services.notices
    rid = ctx.turn.resident
    if len(named) == 1:
        notices.set_topics(rid, named, True, _via(ctx), ctx.now)
        if not ctx.resident.notices_enabled:
            ctx.update_resident(notices_enabled=True)
            notices.consent(rid, None, "resume", _via(ctx), ctx.now)
        return {"topic": named[0], "label": _labels(named), "labels": ""}
    ctx.update_resident(notices_enabled=True)
    notices.consent(rid, None, "resume", _via(ctx), ctx.now)
    active = [s.topic for s in notices.subscriptions(rid) if s.active]
    return {"topic": None, "label": "", "labels": _labels(active)}
