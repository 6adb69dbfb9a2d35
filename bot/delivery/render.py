"""An outbox row → the provider messages that carry it (segmented SMS or one rich message)."""

from __future__ import annotations

import hashlib
from datetime import UTC
from typing import Any

from bot.channels.base import Outbound
from bot.channels.rich import MAX_SUGGESTIONS, fallback_text
from bot.channels.segment import MAX_PARTS, split_message
from bot.channels.sms_choices import render_choices
from bot.store.records import OutboxItem


def idempotency_key(row: OutboxItem) -> str:
    """Stable for the row across retries and restarts, unique across databases."""
    created = row.created_at.astimezone(UTC).isoformat(timespec="microseconds")
    salt = hashlib.sha256(f"{row.resident_id}|{created}".encode()).hexdigest()[:10]
    return f"ob-{row.idempotency_key}-{salt}"


def sms_texts(text: str, suggestions: list[str], max_length: int = 1600) -> list[str]:
    """Numbered choices appended; one concatenated SMS up to 10 parts, else numbered messages."""
    tail = render_choices(suggestions) if suggestions else ""
    parts = split_message(text, MAX_PARTS, tail=tail)
    return [part[:max_length] for part in parts]


def as_sms(row: OutboxItem, to: str, max_length: int = 1600, key: str = "") -> list[Outbound]:
    base = key or idempotency_key(row)
    if row.sms_text is not None:  # a staff notice: the SMS exactly as staff approved it
        texts = sms_texts(row.sms_text, [], max_length)
    else:
        texts = sms_texts(row.text, list(row.suggestions), max_length)
    return [
        Outbound(
            outbox_id=row.id,
            idempotency_key=base if len(texts) == 1 else f"{base}-p{i + 1}",
            to=to,
            channel="sms",
            text=text,
            kind=row.kind,
        )
        for i, text in enumerate(texts)
    ]


def as_rich(row: OutboxItem, to: str, max_length: int = 3072, public_url: str = "") -> Outbound:
    suggestions = list(row.suggestions)
    text = row.text
    if len(text) > max_length:  # rare: keep it whole by sending it as plain numbered text
        text = fallback_text(text, suggestions)[:max_length]
        suggestions = []
    return Outbound(
        outbox_id=row.id,
        idempotency_key=idempotency_key(row),
        to=to,
        channel="rcs",
        text=text,
        suggestions=suggestions[:MAX_SUGGESTIONS],
        kind=row.kind,
        card=card_for(row, public_url),
        fallback=row.sms_text,
    )


def card_for(row: OutboxItem, public_url: str) -> dict[str, Any] | None:
    """A staff notice's card as the provider needs it: the image as a URL the bot serves
    (GET /notices/{id}/image), the whole text in the description."""
    card = row.card
    if card is None:
        return None
    description = f"{card['description']}\n\n{row.text}" if card.get("description") else row.text
    image = f"{public_url}/notices/{card['notice_id']}/image" if card.get("image") else None
    return {
        "title": card["title"],
        "description": description,
        "image_url": image,
        "buttons": card.get("buttons", []),
    }
