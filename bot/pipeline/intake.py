"""Turn a provider's Inbound into the row we store: hashed, encrypted, redacted, capped."""

from __future__ import annotations

from datetime import datetime

from bot.channels.base import Inbound
from bot.identity import NumberVault
from bot.redact import redact
from bot.store.records import InboundRow

# Sudachi refuses input over ~49 KB of UTF-8; we cap far below it, in characters.
DEFAULT_MAX_CHARS = 2000


# The simulator and `bot chat` are test channels: their numbers are a namespace of their
# own (shared by both), so typing a real resident's number into either can never reach that
# resident's bookings or replies, even on the production database.
SIMULATED = {"sim", "chat"}


def identity_of(provider: str, number: str) -> str:
    return f"sim:{number}" if provider in SIMULATED else number


def prepare_inbound(
    inbound: Inbound,
    vault: NumberVault,
    now: datetime,
    max_chars: int = DEFAULT_MAX_CHARS,
    limited: str | None = None,
) -> InboundRow:
    # NULs and lone surrogates (possible in JSON) cannot be stored as UTF-8 text.
    text = inbound.text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    text, redactions = redact(text)
    return InboundRow(
        provider=inbound.provider,
        provider_message_id=inbound.provider_message_id,
        resident_id=vault.resident_id(identity_of(inbound.provider, inbound.sender)),
        phone_enc=vault.encrypt(inbound.sender),
        channel=inbound.channel,
        received_at=inbound.received_at or now,
        text=text,
        postback=inbound.postback,
        redactions=redactions,
        truncated=truncated,
        limited=limited,
    )
