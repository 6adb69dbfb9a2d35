"""HTTP helpers shared by the adapters: capped body reads and provider responses → SendResult."""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import SendResult

E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class MalformedRequest(ValueError):
    """The provider's request does not have the documented shape (→ 400)."""


SEND_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
MAX_RETRY_AFTER = 3600.0


class BodyTooLarge(Exception):
    pass


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes before reading it all."""
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


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
    """Network trouble and timeouts are transient: the outbox retries with backoff."""
    try:
        return await call()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return transient(f"network:{type(exc).__name__}")
