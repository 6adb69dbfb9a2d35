"""What both backends do the same with a staff notice's rows once the SQL has read them:
the states, a report's counts from the outbox statuses, and an outbox row filled with its
notice's text, choices and card (rows carry no text: a million copies of it would be a
million copies). The SQL is each backend's (bot/store/sqlite/notice*.py,
bot/store/postgres/notice*.py)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.store.records import (
    NewNotice,
    Notice,
    NoticeContent,
    NoticeCounts,
    NoticeRendering,
    OutboxItem,
    SentMessage,
)

ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
LIVE = ("approved", "scheduled", "sending")
OPEN = ("draft", *LIVE)  # may still be cancelled
DONE = ("sent", "cancelled", "expired")
# Outbox statuses of a notice row, as the report counts them.
SENT = ("sent", "delivered", "read", "failed", "undelivered", "queued")
FAILED = ("failed", "undelivered")


# A notice's own columns, in the order notice_fields gives their values (both backends).
NOTICE_COLUMNS = (
    "title, category, topic, audience, audience_rule, content, sms_text, rcs_text, "
    "suggestions, segments, priority, weekly_cap"
)


def notice_fields(new: NewNotice, audience_rule: str, priority: int, cap: int | None) -> list[Any]:
    """The values of NOTICE_COLUMNS for a draft as written or edited."""
    content = new.content
    return [
        content.title,
        content.category,
        content.topic,
        content.audience_mode,
        audience_rule,
        json.dumps(content.to_json(), ensure_ascii=False),
        new.rendering.sms_text,
        new.rendering.rcs_text,
        json.dumps(list(new.rendering.suggestions), ensure_ascii=False),
        new.rendering.segments,
        priority,
        cap,
    ]


def candidate_id() -> str:
    """A notice id to try (the caller checks it is free)."""
    return "N" + "".join(secrets.choice(ID_ALPHABET) for _ in range(7))


def notice_from_row(row: Mapping[str, Any], when: Callable[[Any], datetime]) -> Notice:
    """A `notices` row (with `has_image`) as a Notice; `when` reads a stored time."""

    def maybe(value: Any) -> datetime | None:
        return when(value) if value is not None else None

    return Notice(
        id=row["id"],
        content=NoticeContent.from_json(json.loads(row["content"])),
        rendering=NoticeRendering(
            sms_text=row["sms_text"],
            rcs_text=row["rcs_text"],
            suggestions=tuple(json.loads(row["suggestions"])),
            segments=row["segments"],
        ),
        state=row["state"],
        created_by=row["created_by"],
        created_at=when(row["created_at"]),
        updated_by=row["updated_by"],
        updated_at=when(row["updated_at"]),
        approved_by=row["approved_by"],
        approved_at=maybe(row["approved_at"]),
        send_at=maybe(row["send_at"]),
        expires_at=maybe(row["expires_at"]),
        cancelled_by=row["cancelled_by"],
        finished_at=maybe(row["finished_at"]),
        fanout_done=bool(row["fanout_done"]),
        list_count=row["list_count"],
        has_image=bool(row["has_image"]),
        queued_total=row["queued_total"],
        skipped_stopped=row["skipped_stopped"],
        skipped_cap=row["skipped_cap"],
    )


def counts_from(by_status: Mapping[str, int]) -> NoticeCounts:
    """A notice's report from how many of its rows have each outbox status."""
    return NoticeCounts(
        queued=by_status.get("pending", 0) + by_status.get("sending", 0),
        sent=sum(by_status.get(s, 0) for s in SENT),
        delivered=by_status.get("delivered", 0) + by_status.get("read", 0),
        read=by_status.get("read", 0),
        failed=sum(by_status.get(s, 0) for s in FAILED),
        suppressed=by_status.get("suppressed", 0),
        expired=by_status.get("expired", 0),
        cancelled=by_status.get("cancelled", 0),
    )


@dataclass(frozen=True)
class Card:
    """What a notice's rows are filled from (one query per claim, not per row)."""

    id: str
    state: str
    audience: str
    audience_rule: str
    topic: str
    sms_text: str
    rcs_text: str
    suggestions: list[str]
    content: NoticeContent
    expires_at: datetime | None
    has_image: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any], expires_at: datetime | None) -> Card:
        return cls(
            id=row["id"],
            state=row["state"],
            audience=row["audience"],
            audience_rule=row["audience_rule"],
            topic=row["topic"],
            sms_text=row["sms_text"],
            rcs_text=row["rcs_text"],
            suggestions=json.loads(row["suggestions"]),
            content=NoticeContent.from_json(json.loads(row["content"])),
            expires_at=expires_at,
            has_image=bool(row["has_image"]),
        )


def why_dropped(
    item: OutboxItem, card: Card, stopped: set[tuple[str, str]], now: datetime
) -> str | None:
    """The status a notice row gets instead of being sent (None: send it): its notice was
    cancelled or has expired, or the resident stopped the notice's topic meanwhile."""
    if item.kind != "notice":
        return None  # a staff test send
    if card.state == "cancelled":
        return "cancelled"
    if card.state == "expired" or (card.expires_at is not None and card.expires_at <= now):
        return "expired"
    if (
        card.audience == "category"
        and card.audience_rule == "subscribers"
        and (item.resident_id, card.topic) in stopped
    ):
        return "suppressed"
    return None


def drop_error(why: str) -> str:
    return "topic_stopped" if why == "suppressed" else f"notice_{why}"


def with_notice(item: OutboxItem, card: Card) -> OutboxItem:
    """The row as it is sent: the notice's text for its channel, choices and card."""
    rich = item.channel == "rcs"
    content = card.content
    rich_card = None
    if rich and content.card is not None:
        rich_card = {
            "notice_id": card.id,
            "title": content.card.title,
            "description": content.card.description,
            "image": card.has_image,
            "buttons": [
                {k: v for k, v in vars(b).items() if v is not None} for b in content.card.buttons
            ],
        }
    return replace(
        item,
        text=card.rcs_text if rich else card.sms_text,
        suggestions=list(card.suggestions) if rich else [],
        sms_text=card.sms_text,
        card=rich_card,
        expires_at=card.expires_at,
    )


def sent_with_notice(messages: list[SentMessage], cards: Mapping[str, Card]) -> list[SentMessage]:
    """What a resident was sent, notices with their text (as their channel showed it)."""
    out = []
    for message in messages:
        card = cards.get(message.notice_id or "")
        if card is None or message.text:
            out.append(message)
            continue
        rich = message.channel == "rcs"
        out.append(
            replace(
                message,
                text=card.rcs_text if rich else card.sms_text,
                suggestions=list(card.suggestions) if rich else [],
            )
        )
    return out
