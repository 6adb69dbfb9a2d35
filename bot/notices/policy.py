"""The city's notice rules as typed values, read from flows/data/notices.yaml (checked by
bot.domain.notice_check; a changed file is used only once it passes, see bot.domain.data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.clock import TOKYO
from bot.domain import data

FILE = "notices"
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    amount, unit = int(text[:-1]), text[-1]
    return timedelta(**{UNITS[unit]: amount})


def _hhmm(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    audience: str  # subscribers | subscribers_and_known
    quiet_hours: bool
    approval: str  # second_person | approver
    expiry_after: timedelta
    expiry_from: str  # approval | send
    priority: int
    opt_out_line: bool
    weekly_cap: int | None


@dataclass(frozen=True)
class PersonalRule:
    pattern: re.Pattern[str]
    reason: str


@dataclass(frozen=True)
class NoticePolicy:
    topics: tuple[Topic, ...]
    categories: dict[str, Category]
    emergency_topic: str
    quiet_from: time
    quiet_until: time
    prefix: str
    opt_out_line: str
    max_chars: int
    max_segments: int
    segment_cost_yen: int
    allowed_domains: frozenset[str]
    shorteners: frozenset[str]
    personal: tuple[PersonalRule, ...]
    max_buttons: int
    max_title: int
    max_description: int
    max_label: int
    image_max_bytes: int
    max_choices: int
    answer_hours: int
    max_choice_chars: int
    reply_answered: str
    reply_handoff: str

    @classmethod
    def from_data(cls, doc: dict[str, Any]) -> NoticePolicy:
        text, links, rich, ask = doc["text"], doc["links"], doc["rich"], doc["ask"]
        return cls(
            topics=tuple(Topic(t["id"], t["label"], tuple(t["words"])) for t in doc["topics"]),
            categories={
                name: Category(
                    id=name,
                    label=row["label"],
                    audience=row["audience"],
                    quiet_hours=row["quiet_hours"],
                    approval=row["approval"],
                    expiry_after=duration(row["expiry"]["after"].strip()),
                    expiry_from=row["expiry"]["from"],
                    priority=row["priority"],
                    opt_out_line=row["opt_out_line"],
                    weekly_cap=row.get("weekly_cap"),
                )
                for name, row in doc["categories"].items()
            },
            emergency_topic=doc["emergency_topic"],
            quiet_from=_hhmm(doc["quiet_hours"]["from"]),
            quiet_until=_hhmm(doc["quiet_hours"]["until"]),
            prefix=text["prefix"],
            opt_out_line=text["opt_out_line"],
            max_chars=text["max_chars"],
            max_segments=text["max_segments"],
            segment_cost_yen=text["segment_cost_yen"],
            allowed_domains=frozenset(links["allowed_domains"]),
            shorteners=frozenset(links.get("shorteners") or ()),
            personal=tuple(
                PersonalRule(re.compile(row["pattern"]), row["reason"])
                for row in doc.get("personal") or ()
            ),
            max_buttons=rich["max_buttons"],
            max_title=rich["max_title"],
            max_description=rich["max_description"],
            max_label=rich["max_label"],
            image_max_bytes=rich["image_max_bytes"],
            max_choices=ask["max_choices"],
            answer_hours=ask["answer_hours"],
            max_choice_chars=ask["max_choice_chars"],
            reply_answered=doc["replies"]["answered"],
            reply_handoff=doc["replies"]["handoff"],
        )

    # ---- questions the rules answer --------------------------------------------------

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def is_quiet(self, now: datetime) -> bool:
        """Inside quiet hours (Asia/Tokyo)?"""
        local = now.astimezone(TOKYO).time()
        start, end = self.quiet_from, self.quiet_until
        if start <= end:
            return start <= local < end
        return local >= start or local < end

    def quiet_ends(self, now: datetime) -> datetime:
        local = now.astimezone(TOKYO)
        end = datetime.combine(local.date(), self.quiet_until, TOKYO)
        if end <= local:
            end += timedelta(days=1)
        return end

    def held(self, category: str, now: datetime) -> bool:
        """Would a notice of this category wait now?"""
        return self.categories[category].quiet_hours and self.is_quiet(now)

    def expires(self, category: str, approved_at: datetime, send_at: datetime | None) -> datetime:
        """The default expiry of a notice approved at `approved_at` (sent at `send_at`)."""
        rule = self.categories[category]
        start = approved_at if rule.expiry_from == "approval" else (send_at or approved_at)
        return start + rule.expiry_after

    def held_priorities(self, now: datetime) -> frozenset[int]:
        """The priorities of the categories that wait now (the delivery claim skips them)."""
        if not self.is_quiet(now):
            return frozenset()
        return frozenset(c.priority for c in self.categories.values() if c.quiet_hours)


def load_policy(flows_dir: Path | str) -> NoticePolicy:
    """The rules of the city in `flows_dir` (its data/notices.yaml), as checked and cached
    by bot.domain.data (a file refused by its check keeps the previous version serving)."""
    return NoticePolicy.from_data(data.load(FILE, Path(flows_dir) / "data"))
