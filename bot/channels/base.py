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
    # No answer came (a timeout, a dropped connection): the provider may have it anyway.
    ambiguous: bool = False


@dataclass(frozen=True)
class Reconciled:
    """A provider's answer to "did this message reach you?" for a send in doubt (a crash or
    a timeout between our request and its answer)."""

    # "resend": the provider recognises a repeat by its idempotency key, so sending again
    #   shows once (nothing to look up);
    # "found": messages matching it exist (their ids; some may be other rows' sends);
    # "absent": none does, so it never arrived: send it;
    # "unknown": the provider could not be asked now: try again later.
    outcome: str
    provider_message_ids: tuple[str, ...] = ()


RESEND = Reconciled("resend")
ABSENT = Reconciled("absent")
UNKNOWN = Reconciled("unknown")


@dataclass(frozen=True)
class Capabilities:
    rich: bool  # suggestions / chips
    max_length: int  # characters the provider accepts in one send


class Channel(Protocol):
    name: str  # provider name, stored with each inbox/outbox row
    capabilities: Capabilities

    async def send(self, message: Outbound) -> SendResult: ...

    async def reconcile(self, message: Outbound, since: datetime) -> Reconciled:
        """Whether `message` (same recipient, text and idempotency key) reached the provider
        at or after `since`, asked before it is sent again (bot.delivery.worker): each
        provider says how it finds a send — by its key, or by looking it up."""
        ...
