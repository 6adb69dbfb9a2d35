"""The check of flows/data/notices.yaml (the city's notice rules, read by bot.notices.policy).

Kept apart from bot.domain.validate (which calls it) and from the loader: the check takes
the validator's Checker as it is given, so this module imports neither of them.
"""

from __future__ import annotations

import re
from typing import Any

CATEGORIES = ("emergency", "important", "regular")  # ids are a public contract
AUDIENCES = ("subscribers", "subscribers_and_known")
APPROVALS = ("second_person", "approver")
EXPIRY_FROM = ("approval", "send")
DURATION = re.compile(r"^(\d+)([mhd])$")
TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]*$")
DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
TOP_KEYS = (
    "topics",
    "categories",
    "emergency_topic",
    "quiet_hours",
    "text",
    "links",
    "personal",
    "rich",
    "ask",
    "replies",
)
CATEGORY_KEYS = (
    "label",
    "audience",
    "quiet_hours",
    "approval",
    "expiry",
    "priority",
    "opt_out_line",
    "weekly_cap",
)


def check_notices(doc: Any, c: Any) -> None:
    """`c`: a bot.domain.validate.Checker for the file."""
    if not isinstance(doc, dict):
        c.error(1, "notices.yaml: expected a mapping at the top")
        return
    c.keys(doc, TOP_KEYS, "notices.yaml")
    topics = _topics(doc, c)
    _categories(doc, c)
    emergency = c.text(doc, "emergency_topic", "emergency_topic")
    if emergency is not None and topics and emergency not in topics:
        c.error(c.line(doc, "emergency_topic"), f"emergency_topic: `{emergency}` is not a topic id")
    quiet = c.mapping(doc, "quiet_hours", "quiet_hours")
    if quiet is not None:
        c.keys(quiet, ("from", "until"), "quiet_hours")
        c.hhmm(quiet, "from", "quiet_hours.from")
        c.hhmm(quiet, "until", "quiet_hours.until")
    _text_rules(doc, c)
    _links(doc, c)
    _personal(doc, c)
    rich = c.mapping(doc, "rich", "rich")
    if rich is not None:
        keys = ("max_buttons", "max_title", "max_description", "max_label", "image_max_bytes")
        c.keys(rich, keys, "rich")
        c.integer(rich, "max_buttons", "rich.max_buttons", low=1, high=4)
        for key in keys[1:]:
            c.integer(rich, key, f"rich.{key}", low=1)
    ask = c.mapping(doc, "ask", "ask")
    if ask is not None:
        c.keys(ask, ("max_choices", "answer_hours", "max_choice_chars"), "ask")
        c.integer(ask, "max_choices", "ask.max_choices", low=2, high=9)
        c.integer(ask, "answer_hours", "ask.answer_hours", low=1)
        c.integer(ask, "max_choice_chars", "ask.max_choice_chars", low=1, high=25)
    replies = c.mapping(doc, "replies", "replies")
    if replies is not None:
        c.keys(replies, ("answered", "handoff"), "replies")
        c.text(replies, "answered", "replies.answered")
        c.text(replies, "handoff", "replies.handoff")


def _topics(doc: Any, c: Any) -> set[str]:
    seen: set[str] = set()
    for i, topic in c.records(doc, "topics", "topics"):
        where = f"topics[{i + 1}]"
        c.keys(topic, ("id", "label", "words"), where)
        topic_id = c.text(topic, "id", f"{where}.id")
        c.text(topic, "label", f"{where}.label")
        c.texts(topic, "words", f"{where}.words", required=True, nonempty=True)
        if topic_id is None:
            continue
        if not TOPIC_ID.match(topic_id):
            c.error(c.line(topic, "id"), f"{where}.id: lower-case letters, digits and _ only")
        if topic_id in seen:
            c.error(c.line(topic, "id"), f"{where}.id: `{topic_id}` is listed twice")
        seen.add(topic_id)
    return seen


def _categories(doc: Any, c: Any) -> None:
    categories = c.mapping(doc, "categories", "categories")
    if categories is None:
        return
    for name in categories:
        if name not in CATEGORIES:
            c.error(
                c.line(categories, name),
                f"categories: `{name}` is not a category (one of {', '.join(CATEGORIES)})",
            )
    for name in CATEGORIES:
        row = c.mapping(categories, name, f"categories.{name}")
        if row is None:
            continue
        where = f"categories.{name}"
        c.keys(row, CATEGORY_KEYS, where)
        c.text(row, "label", f"{where}.label")
        for key, allowed in (("audience", AUDIENCES), ("approval", APPROVALS)):
            value = c.text(row, key, f"{where}.{key}")
            if value is not None and value not in allowed:
                c.error(c.line(row, key), f"{where}.{key}: one of {', '.join(allowed)}")
        c.boolean(row, "quiet_hours", f"{where}.quiet_hours")
        c.boolean(row, "opt_out_line", f"{where}.opt_out_line")
        c.integer(row, "priority", f"{where}.priority", low=1, high=9)
        c.integer(row, "weekly_cap", f"{where}.weekly_cap", required=False, low=1)
        expiry = c.mapping(row, "expiry", f"{where}.expiry")
        if expiry is not None:
            c.keys(expiry, ("after", "from"), f"{where}.expiry")
            after = c.text(expiry, "after", f"{where}.expiry.after")
            if after is not None and not DURATION.match(after.strip()):
                c.error(
                    c.line(expiry, "after"),
                    f"{where}.expiry.after: a duration like 30m, 6h or 7d, not `{after}`",
                )
            start = c.text(expiry, "from", f"{where}.expiry.from")
            if start is not None and start not in EXPIRY_FROM:
                c.error(c.line(expiry, "from"), f"{where}.expiry.from: approval or send")


def _text_rules(doc: Any, c: Any) -> None:
    text = c.mapping(doc, "text", "text")
    if text is None:
        return
    keys = ("prefix", "opt_out_line", "max_chars", "max_segments", "segment_cost_yen")
    c.keys(text, keys, "text")
    c.text(text, "prefix", "text.prefix")
    c.text(text, "opt_out_line", "text.opt_out_line")
    c.integer(text, "max_chars", "text.max_chars", low=70)
    c.integer(text, "max_segments", "text.max_segments", low=1, high=10)
    c.integer(text, "segment_cost_yen", "text.segment_cost_yen", low=0)


def _links(doc: Any, c: Any) -> None:
    links = c.mapping(doc, "links", "links")
    if links is None:
        return
    c.keys(links, ("allowed_domains", "shorteners"), "links")
    for key in ("allowed_domains", "shorteners"):
        items = c.seq(links, key, f"links.{key}", required=key == "allowed_domains")
        for i in range(len(items or [])):
            name = c.text(items, i, f"links.{key}[{i + 1}]")
            if name is not None and not DOMAIN.match(name):
                c.error(
                    c.line(items, i),
                    f"links.{key}[{i + 1}]: a host name in lower case, like "
                    f"www.city.example.jp (no https://, no path), not `{name}`",
                )


def _personal(doc: Any, c: Any) -> None:
    for i, row in c.records(doc, "personal", "personal", required=False):
        where = f"personal[{i + 1}]"
        c.keys(row, ("pattern", "reason"), where)
        pattern = c.text(row, "pattern", f"{where}.pattern")
        c.text(row, "reason", f"{where}.reason")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                c.error(
                    c.line(row, "pattern"), f"{where}.pattern: not a regular expression ({exc})"
                )
