"""A generic JSON SMS gateway (domestic providers): configurable field names, HMAC-SHA256 webhooks.

Webhook: `X-Timestamp: <unix seconds>` and `X-Signature: <hex HMAC-SHA256(secret,
"<timestamp>.<raw body>")>` (an optional "sha256=" prefix is accepted); a timestamp more than
the replay window (300 s) away from now is refused. The body is one JSON object or a list:
a message has the id, sender and text fields; a receipt has the id and status fields.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime
from typing import Any

import aiohttp

from bot.channels.base import (
    RESEND,
    Capabilities,
    Inbound,
    Outbound,
    Reconciled,
    SendResult,
    StatusEvent,
)
from bot.channels.http import (
    SEND_TIMEOUT,
    MalformedRequest,
    guarded_send,
    identifier,
    json_or_empty,
    parse_json,
    parse_retry_after,
    permanent,
    resident_text,
    sender,
    transient,
)
from bot.channels.settings import GatewaySettings

PATH = "/webhooks/gateway"
MAX_BATCH = 100  # a batch of long messages needs the full BOT_MAX_BODY_BYTES
STATUSES = {"queued", "sent", "delivered", "read", "failed", "undelivered"}
OPTED_OUT = {"opted_out", "unsubscribed", "stopped"}


def sign(body: bytes, timestamp: str, secret: str) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    now: float,
    window: float,
) -> bool:
    if not signature or not timestamp or len(timestamp) > 20:
        return False
    try:
        sent_at = float(timestamp)
        timestamp.encode("ascii")
    except (ValueError, UnicodeEncodeError):
        return False
    if not math.isfinite(sent_at) or abs(now - sent_at) > window:
        return False
    given = signature.strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    return hmac.compare_digest(
        sign(body, timestamp, secret).encode(), given.lower().encode("utf-8", "replace")
    )


def _field(item: dict[str, Any], name: str, limit: int) -> str:
    value = item.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # some gateways number their messages
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MalformedRequest(f"{name} missing or malformed")
    return value


def parse(body: bytes, settings: GatewaySettings) -> list[Inbound | StatusEvent]:
    payload = parse_json(body)
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > MAX_BATCH:
        raise MalformedRequest("expected 1 to 100 items")
    result: list[Inbound | StatusEvent] = []
    for item in items:
        if not isinstance(item, dict):
            raise MalformedRequest("each item must be an object")
        message_id = identifier(
            _field(item, settings.field_message_id, 200), settings.field_message_id
        )
        if settings.field_text in item:
            # A domestic gateway may send the number as dialled in Japan (090…).
            number = sender(item.get(settings.field_sender), settings.field_sender, domestic=True)
            text = item[settings.field_text]
            if not isinstance(text, str):
                raise MalformedRequest(f"{settings.field_text} must be a string")
            result.append(Inbound("gateway", "sms", message_id, number, resident_text(text)))
        elif settings.field_status in item:
            status = _field(item, settings.field_status, 40).lower()
            if status not in STATUSES:
                raise MalformedRequest(f"unknown status {status[:20]!r}")
            code = item.get("error_code")
            result.append(
                StatusEvent("gateway", message_id, status, str(code) if code is not None else None)
            )
        else:
            raise MalformedRequest(f"neither {settings.field_text} nor {settings.field_status}")
    return result


class GatewayChannel:
    name = "gateway"
    capabilities = Capabilities(rich=False, max_length=1600)

    def __init__(self, settings: GatewaySettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session

    async def send(self, message: Outbound) -> SendResult:
        return await guarded_send(lambda: self._send(message))

    async def reconcile(self, message: Outbound, since: datetime) -> Reconciled:
        """The gateway honours Idempotency-Key (and client_ref): a repeat is answered with
        the first send's id and not delivered twice, so sending again reconciles."""
        return RESEND

    async def _send(self, message: Outbound) -> SendResult:
        s = self.settings
        headers = {"Idempotency-Key": message.idempotency_key}
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        body = {"to": message.to, "text": message.text, "client_ref": message.idempotency_key}
        if s.from_number:
            body["from"] = s.from_number
        async with self.session.post(
            f"{s.api_base}/messages", json=body, headers=headers, timeout=SEND_TIMEOUT
        ) as response:
            payload = await json_or_empty(response)
            if 200 <= response.status < 300:
                sent_id = payload.get(s.field_message_id) or payload.get("id")
                sent = str(sent_id or message.idempotency_key)
                return SendResult(ok=True, provider_message_id=sent)
            code = str(payload.get("error") or payload.get("code") or response.status)
            if response.status == 429 or response.status >= 500:
                return transient(code, parse_retry_after(response.headers.get("Retry-After")))
            return permanent(code, opted_out=code.lower() in OPTED_OUT)
