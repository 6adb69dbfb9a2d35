"""Twilio Programmable Messaging: signed webhooks in, the Messages REST API out."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import aiohttp

from bot.channels.base import (
    ABSENT,
    UNKNOWN,
    Capabilities,
    Inbound,
    Outbound,
    Reconciled,
    SendResult,
    StatusEvent,
)
from bot.channels.http import (
    SEND_TIMEOUT,
    InvalidIdentifier,
    MalformedRequest,
    guarded_send,
    json_or_empty,
    parse_retry_after,
    permanent,
    resident_text,
    sender,
    transient,
)
from bot.channels.settings import TwilioSettings

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
OPTED_OUT = {"21610"}  # "Attempt to send to unsubscribed recipient"
# A message SID is exactly SM (SMS) or MM (MMS) and 32 hex digits. Anything longer is not a
# new message: the signature covers names and values run together, so a request whose
# `MessageSid=SM…&NumMedia=0` was spliced into `MessageSid=SM…NumMedia0` still verifies.
_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_SID_FIELDS = ("MessageSid", "SmsSid", "SmsMessageSid")  # Twilio sends all three, equal
# Reconciling a send in doubt: Twilio's clock may differ from ours by this much, and no
# more than this many list pages (PageSize 50, newest first) are read for one message.
CLOCK_SLACK = timedelta(seconds=120)
RECONCILE_PAGES = 10
# 1600 characters of Japanese percent-encoded are ~15 KB; the other fields add ~1 KB.
MAX_BODY_BYTES = 64 * 1024
STATUSES = {
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered",
    "failed", "read", "canceled", "receiving", "received",
}  # fmt: skip


# --- signatures --------------------------------------------------------------------------


def signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 over the URL then each name+value sorted by name."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _same(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def form_pairs(body: bytes) -> list[tuple[str, str]] | None:
    """The body's fields when it is a well-formed form (strict parsing), else None.

    For a well-formed form the lenient parse the signature check uses gives the same
    pairs, so one parse can serve both the check and parse_inbound/parse_status."""
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        return None


def verify_form(
    url: str,
    body: bytes,
    header: str | None,
    auth_token: str,
    pairs: list[tuple[str, str]] | None = None,
) -> bool:
    """Check a form-encoded webhook; `url` is the full public URL including the query.
    `pairs`: form_pairs(body) when already parsed."""
    if pairs is None:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return False
    return _same(signature(url, pairs, auth_token), header)


def verify_json(url: str, body: bytes, header: str | None, auth_token: str) -> bool:
    """The bodySHA256 variant: the URL (with its bodySHA256 query) is signed alone."""
    values = parse_qs(urlsplit(url).query).get("bodySHA256", [])
    if len(values) != 1:
        return False
    digest = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(digest.encode(), values[0].lower().encode("utf-8", "replace")):
        return False
    return _same(signature(url, [], auth_token), header)


def is_json_variant(url: str, content_type: str) -> bool:
    return "bodySHA256=" in url and not content_type.startswith("application/x-www-form-urlencoded")


def verify(
    url: str,
    body: bytes,
    header: str | None,
    auth_token: str,
    content_type: str,
    pairs: list[tuple[str, str]] | None = None,
) -> bool:
    if is_json_variant(url, content_type):
        return verify_json(url, body, header, auth_token)
    return verify_form(url, body, header, auth_token, pairs)


# --- parsing -------------------------------------------------------------------------------


def _form(body: bytes, pairs: list[tuple[str, str]] | None = None) -> dict[str, str]:
    if pairs is None:
        pairs = form_pairs(body)
        if pairs is None:
            raise MalformedRequest("not a form-encoded body")
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise MalformedRequest(f"{name} given twice")
        form[name] = value
    return form


def _message_sid(form: dict[str, str]) -> str:
    sids = {form[name] for name in _SID_FIELDS if name in form}
    if not sids:
        raise InvalidIdentifier("MessageSid missing")
    if len(sids) > 1:
        raise InvalidIdentifier("MessageSid and SmsSid differ")
    (sid,) = sids
    if not _SID.fullmatch(sid):
        raise InvalidIdentifier("MessageSid must be SM or MM and 32 hex digits")
    return sid


def parse_inbound(body: bytes, pairs: list[tuple[str, str]] | None = None) -> Inbound:
    """An inbound SMS webhook → Inbound; MalformedRequest when fields are missing.
    `pairs`: form_pairs(body) when already parsed (and not None)."""
    form = _form(body, pairs)
    if "Body" not in form:
        raise MalformedRequest("Body missing")
    return Inbound(
        provider="twilio",
        channel="sms",
        provider_message_id=_message_sid(form),
        sender=sender(form.get("From"), "From"),
        text=resident_text(form["Body"]),
    )


def parse_status(body: bytes, pairs: list[tuple[str, str]] | None = None) -> StatusEvent:
    form = _form(body, pairs)
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if status not in STATUSES:
        raise MalformedRequest("MessageStatus missing or unknown")
    code = form.get("ErrorCode") or None
    return StatusEvent("twilio", _message_sid(form), status, code)


# --- sending -------------------------------------------------------------------------------


class TwilioChannel:
    name = "twilio"
    capabilities = Capabilities(rich=False, max_length=1600)

    def __init__(
        self, settings: TwilioSettings, session: aiohttp.ClientSession, public_url: str = ""
    ) -> None:
        self.settings = settings
        self.session = session
        self.status_callback = public_url.rstrip("/") + STATUS_PATH if public_url else ""
        # What every send repeats is built once: the URL, the auth header, the sender.
        s = settings
        self._url = f"{s.api_base}/2010-04-01/Accounts/{s.account_sid}/Messages.json"
        self._sender_key = "MessagingServiceSid" if s.from_number.startswith("MG") else "From"
        self._auth = aiohttp.encode_basic_auth(s.account_sid, s.auth_token)

    async def send(self, message: Outbound) -> SendResult:
        return await guarded_send(lambda: self._send(message))

    async def _send(self, message: Outbound) -> SendResult:
        data = {"To": message.to, self._sender_key: self.settings.from_number, "Body": message.text}
        if self.status_callback:
            data["StatusCallback"] = self.status_callback
        headers = {
            "Authorization": self._auth,
            "I-Twilio-Idempotency-Token": message.idempotency_key,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        # The form encoded here (as aiohttp's FormData would: UTF-8, quote_plus) skips
        # FormData's per-request machinery.
        body = urlencode(data).encode("utf-8")
        async with self.session.post(
            self._url, data=body, headers=headers, timeout=SEND_TIMEOUT
        ) as response:
            payload = await json_or_empty(response)
            if response.status in (200, 201):
                sid = payload.get("sid")
                if not isinstance(sid, str) or not sid:
                    return transient("twilio:no-sid")
                return SendResult(ok=True, provider_message_id=sid)
            code = str(payload.get("code") or response.status)
            if response.status == 429:
                return transient(code, parse_retry_after(response.headers.get("Retry-After")))
            if response.status >= 500:
                return transient(code, parse_retry_after(response.headers.get("Retry-After")))
            return permanent(code, opted_out=code in OPTED_OUT)

    async def reconcile(self, message: Outbound, since: datetime) -> Reconciled:
        """Twilio's Messages API honours no idempotency key (I-Twilio-Idempotency-Token is a
        header Twilio puts on *its* webhooks), so a send in doubt is looked up: the Messages
        list filtered by recipient (`To`, and `From` unless a Messaging Service sends), read
        newest first until `date_created` is before `since` (less the clock slack), for an
        outbound message with the same body. Not `DateSent>=`: a message Twilio has only
        queued has no date_sent yet and would be missed."""
        params = {"To": message.to, "PageSize": "50"}
        if self._sender_key == "From":
            params["From"] = self.settings.from_number
        url: str | None = f"{self._url}?{urlencode(params)}"
        floor = since - CLOCK_SLACK
        found: list[str] = []
        for _ in range(RECONCILE_PAGES):
            if url is None:
                break
            page = await self._list_page(url)
            if page is None:
                return UNKNOWN
            messages = page.get("messages")
            if not isinstance(messages, list):
                return UNKNOWN
            for item in messages:
                created = _rfc2822(item.get("date_created"))
                if created is not None and created < floor:
                    url = None  # newest first: the rest are older still
                    break
                if _same_send(item, message):
                    found.append(str(item["sid"]))
            else:
                next_uri = page.get("next_page_uri")
                url = f"{self.settings.api_base}{next_uri}" if isinstance(next_uri, str) else None
        return Reconciled("found", tuple(found)) if found else ABSENT

    async def _list_page(self, url: str) -> dict[str, Any] | None:
        try:
            async with self.session.get(
                url, headers={"Authorization": self._auth}, timeout=SEND_TIMEOUT
            ) as response:
                if response.status != 200:
                    return None
                return await json_or_empty(response)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None


def _rfc2822(value: object) -> datetime | None:
    """Twilio's dates ("Thu, 03 Dec 2026 15:41:49 +0000"); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _same_send(item: dict[str, Any], message: Outbound) -> bool:
    direction = str(item.get("direction") or "")
    return (
        direction.startswith("outbound")
        and item.get("to") == message.to
        and item.get("body") == message.text
        and isinstance(item.get("sid"), str)
        and item.get("status") not in ("failed", "undelivered", "canceled")
    )
