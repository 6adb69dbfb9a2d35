"""HTTP helpers shared by the adapters: checked fields and JSON in, provider responses out.

Everything a provider sends is checked here before it can reach the store: identifiers
(strict, printable, no lone surrogates), senders (E.164 and, for +81, the numbering plan),
texts (lone surrogates replaced, never refused) and JSON (depth-limited).
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot import numbering
from bot.channels.base import SendResult
from bot.metrics import Refusal

E164 = numbering.E164
MAX_JSON_DEPTH = 32  # providers' webhooks nest 4-5 levels; json.loads recurses per level


class MalformedRequest(ValueError):
    """The provider's request does not have the documented shape (→ 400)."""

    reason = Refusal.MALFORMED


class InvalidIdentifier(MalformedRequest):
    """A message id, postback or similar that cannot be one (→ 400)."""

    reason = Refusal.INVALID_ID


class InvalidSender(MalformedRequest):
    """A sender that is not a number we can answer (→ 400)."""

    reason = Refusal.INVALID_NUMBER


SEND_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
MAX_RETRY_AFTER = 3600.0

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def identifier(value: object, name: str, limit: int = 200) -> str:
    """A provider's id: 1..limit visible ASCII characters (no spaces, controls, surrogates)."""
    if not isinstance(value, str) or not value:
        raise InvalidIdentifier(f"{name} missing")
    if len(value) > limit or not _VISIBLE_ASCII.fullmatch(value):
        raise InvalidIdentifier(f"{name} must be 1-{limit} printable ASCII characters")
    return value


def opaque(value: object, name: str, limit: int) -> str:
    """Free text that identifies something (an RCS postback): any script, but no control
    characters or lone surrogates, and at most `limit` characters."""
    if not isinstance(value, str):
        raise InvalidIdentifier(f"{name} must be a string")
    if len(value) > limit or _SURROGATE.search(value) or _CONTROL.search(value):
        raise InvalidIdentifier(f"{name} has invalid characters or is too long")
    return value


def sender(value: object, name: str, domestic: bool = False) -> str:
    """The resident's number in E.164: any country's E.164 shape, and the Japanese numbering
    plan for +81. `domestic`: also take a Japanese number as dialled ("090-1234-5678")."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidSender(f"{name} must be a phone number, e.g. +819012345678")
    try:
        if domestic and not value.startswith("+"):
            return numbering.parse(value).e164
        return numbering.check_e164(value)
    except numbering.InvalidNumber as exc:
        raise InvalidSender(f"{name}: {exc}") from None


def resident_text(value: str) -> str:
    """A resident's text as we can store it: a lone surrogate (an emoji cut in half by a
    provider) becomes U+FFFD and NULs go; the message itself is never refused for them."""
    return _SURROGATE.sub("\ufffd", value).replace("\x00", "")


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_NESTING = re.compile(rb"[\[\]{}]")


def _too_deep(raw: bytes, limit: int) -> bool:
    depth = 0
    for match in _JSON_NESTING.finditer(_JSON_STRING.sub(b'""', raw)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The one place a request body becomes JSON: invalid UTF-8, invalid JSON and nesting
    deeper than `max_depth` are MalformedRequest (400), never a RecursionError (503)."""
    if _too_deep(raw, max_depth):
        raise MalformedRequest(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedRequest("body is not valid UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest("body is not valid JSON") from exc


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


async def json_or_empty(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def transient(error_code: str, retry_after: float | None = None) -> SendResult:
    return SendResult(ok=False, error_code=error_code, retry_after=retry_after)


def permanent(
    error_code: str, fallback_to_sms: bool = False, opted_out: bool = False
) -> SendResult:
    return SendResult(
        ok=False,
        permanent=True,
        error_code=error_code,
        fallback_to_sms=fallback_to_sms,
        opted_out=opted_out,
    )


async def guarded_send(call: Callable[[], Awaitable[SendResult]]) -> SendResult:
    """Network trouble and timeouts are transient: the outbox retries with backoff. Unless
    the connection was never made, the request may have arrived: the send is ambiguous, and
    the retry looks for it at the provider first."""
    try:
        return await call()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        result = transient(f"network:{type(exc).__name__}")
        result.ambiguous = not isinstance(exc, aiohttp.ClientConnectorError)
        return result
