"""RCS Business Messaging (Google's documented shape): signed webhooks in, agentMessages out."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot import numbering
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
    opaque,
    parse_json,
    parse_retry_after,
    permanent,
    resident_text,
    sender,
    transient,
)
from bot.channels.rich import (
    MAX_POSTBACK_BYTES,
    chips,
    choice_from_postback,
    fallback_text,
    shorten,
)
from bot.channels.settings import RcsSettings

PATH = "/webhooks/rcs"
EVENT_STATUS = {"DELIVERED": "delivered", "READ": "read"}
MAX_ID = 200
# RBM caps a text at 3,072 characters: ~25 KB as escaped JSON in base64, plus the envelope.
MAX_BODY_BYTES = 64 * 1024


def sign(data: bytes, client_token: str) -> str:
    """X-Goog-Signature: base64 HMAC-SHA512 of the decoded message data, keyed by clientToken."""
    digest = hmac.new(client_token.encode(), data, hashlib.sha512).digest()
    return base64.b64encode(digest).decode("ascii")


def _envelope_data(body: bytes) -> bytes | None:
    """The decoded `message.data` of a push envelope, or None when it has no such shape."""
    try:
        envelope = parse_json(body)
        data = envelope["message"]["data"]
        if not isinstance(data, str):
            return None
        return base64.b64decode(data, validate=True)
    except (MalformedRequest, KeyError, TypeError, binascii.Error):
        return None


def verify(body: bytes, header: str | None, client_token: str) -> bool:
    data = _envelope_data(body)
    if data is None or not header:
        return False
    return hmac.compare_digest(sign(data, client_token).encode(), header.encode("utf-8", "replace"))


def verification_secret(body: bytes, client_token: str) -> str | None:
    """The console's webhook check: {"clientToken", "secret"} → echo the secret if ours."""
    try:
        payload = parse_json(body)
    except MalformedRequest:
        return None
    if not isinstance(payload, dict) or set(payload) != {"clientToken", "secret"}:
        return None
    token, secret = payload["clientToken"], payload["secret"]
    if not isinstance(token, str) or not isinstance(secret, str):
        return None
    if not hmac.compare_digest(token.encode(), client_token.encode()):
        return None
    return secret


def parse(body: bytes) -> list[Inbound | StatusEvent]:
    """A verified webhook → Inbound (text or tapped suggestion) or StatusEvent (DELIVERED/READ)."""
    data = _envelope_data(body)
    if data is None:
        raise MalformedRequest("not an RBM push envelope")
    event = parse_json(data)
    if not isinstance(event, dict):
        raise MalformedRequest("message.data is not an object")
    number = sender(event.get("senderPhoneNumber"), "senderPhoneNumber")
    message_id = identifier(event.get("messageId"), "messageId", MAX_ID)
    if "eventType" in event:
        kind = event["eventType"]
        if not isinstance(kind, str):
            raise MalformedRequest("eventType malformed")
        if kind in EVENT_STATUS:
            return [StatusEvent("rcs", message_id, EVENT_STATUS[kind])]
        return []  # IS_TYPING and the like: nothing to store
    postback: str | None = None
    if "suggestionResponse" in event:
        response = event["suggestionResponse"]
        if not isinstance(response, dict):
            raise MalformedRequest("suggestionResponse malformed")
        shown = response.get("text", "")
        if not isinstance(shown, str):
            raise MalformedRequest("suggestionResponse needs postbackData and text")
        postback = opaque(response.get("postbackData"), "postbackData", MAX_POSTBACK_BYTES)
        text = choice_from_postback(postback, resident_text(shown))
    elif "text" in event:
        if not isinstance(event["text"], str):
            raise MalformedRequest("text malformed")
        text = resident_text(event["text"])
    elif "userFile" in event or "location" in event:
        text = ""  # files and locations: the flow answers that it reads text only
    else:
        raise MalformedRequest("no text, suggestionResponse or event")
    return [Inbound("rcs", "rcs", message_id, number, text, postback=postback)]


def rich_card(card: dict[str, Any]) -> dict[str, Any]:
    """A staff notice's card as an RBM standalone card: buttons open a URL, dial a number or
    reply with a choice (the same postback a chip has)."""
    actions = []
    for button in card.get("buttons", []):
        label = shorten(button["label"])
        if button.get("url"):
            actions.append(
                {
                    "action": {
                        "text": label,
                        "postbackData": "open_url",
                        "openUrlAction": {"url": button["url"]},
                    }
                }
            )
        elif button.get("dial"):
            actions.append(
                {
                    "action": {
                        "text": label,
                        "postbackData": "dial",
                        "dialAction": {"phoneNumber": dial_number(button["dial"])},
                    }
                }
            )
        elif button.get("reply"):
            chip = chips([button["reply"]])[0]
            actions.append({"reply": {"text": label, "postbackData": chip.postback}})
    body: dict[str, Any] = {"title": card["title"], "description": card["description"]}
    if card.get("image_url"):
        body["media"] = {"height": "MEDIUM", "contentInfo": {"fileUrl": card["image_url"]}}
    if actions:
        body["suggestions"] = actions
    return {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": body}}


def dial_number(text: str) -> str:
    """E.164 for RBM's dialAction (the checker made sure it is a number)."""
    try:
        return numbering.parse(text).e164
    except numbering.InvalidNumber:
        return text


class RcsChannel:
    name = "rcs"
    capabilities = Capabilities(rich=True, max_length=3072)

    def __init__(self, settings: RcsSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session

    def _url(self, to: str, message_id: str | None = None) -> str:
        base = f"{self.settings.api_base}/v1/phones/{quote(to, safe='+')}/agentMessages"
        return f"{base}/{quote(message_id, safe='')}" if message_id else base

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.token}"}

    async def send(self, message: Outbound) -> SendResult:
        return await guarded_send(lambda: self._send(message))

    async def _send(self, message: Outbound) -> SendResult:
        content: dict[str, Any] = {
            "text": message.text,
            "fallback": message.fallback or fallback_text(message.text, message.suggestions),
        }
        if message.card is not None:
            del content["text"]
            content["richCard"] = rich_card(message.card)
        if message.suggestions:
            content["suggestions"] = [
                {"reply": {"text": chip.label, "postbackData": chip.postback}}
                for chip in chips(message.suggestions)
            ]
        # The client-chosen messageId is the idempotency key: a repeat is 409 ALREADY_EXISTS.
        params = {"messageId": message.idempotency_key, "agentId": self.settings.agent_id}
        async with self.session.post(
            self._url(message.to),
            params=params,
            json={"contentMessage": content},
            headers=self._headers(),
            timeout=SEND_TIMEOUT,
        ) as response:
            payload = await json_or_empty(response)
            if response.status in (200, 409):
                return SendResult(ok=True, provider_message_id=message.idempotency_key)
            code = str((payload.get("error") or {}).get("status") or response.status)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if response.status == 404:  # the number cannot receive RCS: send it by SMS
                return permanent(code, fallback_to_sms=True)
            if response.status == 429 or response.status >= 500:
                return transient(code, retry_after)
            return permanent(code)

    async def reconcile(self, message: Outbound, since: datetime) -> Reconciled:
        """RBM takes our messageId (the idempotency key) and answers a repeat with 409
        ALREADY_EXISTS, which `send` counts as sent: sending again is the reconciliation."""
        return RESEND

    async def revoke(self, to: str, provider_message_id: str) -> bool:
        """Withdraw an undelivered message; True when it was withdrawn (safe to send by SMS)."""
        try:
            async with self.session.delete(
                self._url(to, provider_message_id),
                params={"agentId": self.settings.agent_id},
                headers=self._headers(),
                timeout=SEND_TIMEOUT,
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False
