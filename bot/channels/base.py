"""The channel protocol: what every provider adapter provides and what it hands the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass
class Inbound:
    """One message a resident sent, as the provider reported it."""

    provider: str  # "sim" | "twilio" | "rcs" | "gateway" | ...
    channel: str  # "sms" | "rcs": what the resident can receive back
    provider_message_id: str  # unique per provider; a retried webhook repeats it
    sender: str  # E.164 number; the store hashes and encrypts it, never keeps it plain
    text: str
    postback: str | None = None  # RCS suggestion postbackData
    received_at: datetime | None = None


@dataclass
class StatusEvent:
    """A delivery receipt for a message we sent (delivered, read, failed, ...)."""

    provider: str
    provider_message_id: str
    status: str  # queued | sent | delivered | read | failed | undelivered
    error_code: str | None = None


@dataclass
class Outbound:
    """One outbox row ready to go to a provider (the number decrypted just before sending)."""

    outbox_id: int
    idempotency_key: str
    to: str
    channel: str  # "sms" | "rcs"
    text: str
    suggestions: list[str] = field(default_factory=list)
    kind: str = "reply"  # "reply" | "notice"
    # A staff notice on +メッセージ: a card {title, description, image_url, buttons} and the
    # SMS text to show where the phone cannot render it (RCS "fallback").
    card: dict[str, Any] | None = None
    fallback: str | None = None


@dataclass
class SendResult:
    ok: bool
    provider_message_id: str | None = None
    retry_after: float | None = None  # seconds, when the provider asked us to wait
    permanent: bool = False  # a final failure: do not retry
    error_code: str | None = None
    fallback_to_sms: bool = False  # rich delivery impossible: send the same content by SMS
    opted_out: bool = False  # the provider says the resident opted out (e.g. Twilio 21610)


@dataclass(frozen=True)
class Capabilities:
    rich: bool  # suggestions / chips
    max_length: int  # characters the provider accepts in one send


class Channel(Protocol):
    name: str  # provider name, stored with each inbox/outbox row
    capabilities: Capabilities

    async def send(self, message: Outbound) -> SendResult: ...
