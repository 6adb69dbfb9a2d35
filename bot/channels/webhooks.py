"""Provider webhooks → pipeline: verify (403), parse (400), limit, ingest, acknowledge.

The edge (`bot.edge`) has read the body under the route's cap (413) and deadline (408)
before a handler runs. Nothing is written before the signature is checked; the provider
gets its 200 only after `pipeline.ingest` has committed the message (a duplicate id is
acknowledged and ignored), and every message acknowledged is processed: flood limits only
decide how it is answered. Every refusal is JSON and counted in /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, Protocol

from aiohttp import web

from bot.channels import gateway, rcs, twilio
from bot.channels.base import Inbound, StatusEvent
from bot.channels.guards import (
    InboundLimiter,
    SenderLimiter,
    SharedLimits,
    is_allowed_number,
)
from bot.channels.http import MalformedRequest
from bot.channels.settings import ChannelSettings, channel_settings_from_env
from bot.edge import EDGE_LIMITS, limit_body, refuse
from bot.metrics import Refusal
from bot.store.base import RowNotStored, StoreUnavailable
from bot.store.records import COUNTRY, FloodLimits

log = logging.getLogger("bot.channels")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
CHANNEL_SETTINGS = web.AppKey("channel_settings", ChannelSettings)
LIMITER = web.AppKey("inbound_limiter", SenderLimiter)


class PipelineLike(Protocol):
    async def ingest(self, inbound: Inbound, limited: str | None = None) -> Any: ...

    async def record_status(self, event: StatusEvent) -> Any: ...


Verifier = Callable[[web.Request, bytes], bool]
Parser = Callable[[bytes], list[Inbound | StatusEvent]]


def public_url(settings: ChannelSettings, request: web.Request) -> str:
    """The URL the provider signed: BOT_PUBLIC_URL + path + query (as sent, still encoded)."""
    base = settings.public_url or str(request.url.origin())
    return base + request.raw_path


class _Handler:
    """One provider endpoint; the steps are the same for every provider, in this order."""

    def __init__(
        self,
        settings: ChannelSettings,
        pipeline: PipelineLike,
        limiter: SenderLimiter,
        verify: Verifier,
        parse: Parser,
        ok: Callable[[], web.Response],
        name: str,
        preflight: Callable[[bytes], web.Response | None] | None = None,
    ) -> None:
        self.preflight = preflight
        self.settings = settings
        self.pipeline = pipeline
        self.limiter = limiter
        self.verify = verify
        self.parse = parse
        self.ok = ok
        self.name = name

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # already read by the edge, within the route's cap
        if self.preflight is not None and (early := self.preflight(body)) is not None:
            return early
        if not self.verify(request, body):
            log.warning("webhook signature refused", extra={"provider": self.name})
            return refuse(request, Refusal.SIGNATURE, 403, "signature invalid")
        try:
            items = self.parse(body)
        except MalformedRequest as exc:
            log.warning(
                "webhook refused", extra={"provider": self.name, "reason": exc.reason.value}
            )
            return refuse(request, exc.reason, 400, f"malformed request: {exc}")
        try:
            for item in items:
                if isinstance(item, StatusEvent):
                    await _with_retries(partial(self.pipeline.record_status, item))
                    continue
                limited = await self._limit(item)
                await _with_retries(partial(self.pipeline.ingest, item, limited))
        except (RuntimeError, StoreUnavailable) as exc:  # the provider retries
            log.warning(
                "webhook not stored", extra={"provider": self.name, "error": type(exc).__name__}
            )
            return refuse(request, Refusal.NOT_STORED, 503, "not stored; try again")
        return self.ok()

    async def _limit(self, inbound: Inbound) -> str | None:
        """How the message will be answered (InboundRow.limited; None: as usual). It is
        stored and processed either way: floods are held back in what we send, never by
        dropping what the provider was told we have."""
        if not is_allowed_number(inbound.sender, self.settings.allowed_country_codes):
            log.warning("inbound from a country not served", extra={"provider": self.name})
            return COUNTRY
        verdict = await self.limiter.verdict(inbound.sender)
        if verdict.first:
            log.warning(
                "inbound flood limit", extra={"provider": self.name, "reason": verdict.reason}
            )
        return verdict.limited


async def _with_retries(call: Callable[[], Awaitable[Any]], attempts: int = 4) -> Any:
    """The store may refuse a write for a moment (locked, a connection being replaced);
    a short retry is enough."""
    for attempt in range(attempts):
        try:
            return await call()
        except RowNotStored:
            raise  # the row's own values were refused: at once again would fail again
        except StoreUnavailable:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01 * 2**attempt)
    return None


def _twiml() -> web.Response:
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


def _json_ok() -> web.Response:
    return web.json_response({"ok": True})


def _add_twilio(app: web.Application, cs: ChannelSettings, pipeline: PipelineLike, lim) -> None:
    assert cs.twilio is not None
    token = cs.twilio.auth_token
    # The form parsed for the signature check is handed to the parser: _Handler calls
    # check then parse on the same body with no await between (the body's identity says
    # it is the same request).
    parsed: list[Any] = [None, None]  # [body, form_pairs(body)]

    def check(request: web.Request, body: bytes) -> bool:
        url = public_url(cs, request)
        content_type = request.headers.get("Content-Type", "")
        pairs = None
        if not twilio.is_json_variant(url, content_type):
            pairs = twilio.form_pairs(body)
            parsed[0], parsed[1] = body, pairs
        return twilio.verify(
            url, body, request.headers.get("X-Twilio-Signature"), token, content_type, pairs
        )

    def pairs_of(body: bytes) -> list[tuple[str, str]] | None:
        pairs = parsed[1] if parsed[0] is body else None
        parsed[0] = parsed[1] = None
        return pairs

    def inbound(body: bytes) -> list[Inbound | StatusEvent]:
        return [twilio.parse_inbound(body, pairs_of(body))]

    def status(body: bytes) -> list[Inbound | StatusEvent]:
        return [twilio.parse_status(body, pairs_of(body))]

    app.router.add_post(
        twilio.SMS_PATH, _Handler(cs, pipeline, lim, check, inbound, _twiml, "twilio").handle
    )
    app.router.add_post(
        twilio.STATUS_PATH, _Handler(cs, pipeline, lim, check, status, _twiml, "twilio").handle
    )
    for path in (twilio.SMS_PATH, twilio.STATUS_PATH):
        limit_body(app, path, min(twilio.MAX_BODY_BYTES, cs.max_body_bytes))


def _add_rcs(app: web.Application, cs: ChannelSettings, pipeline: PipelineLike, lim) -> None:
    assert cs.rcs is not None
    secret = cs.rcs.webhook_secret

    def check(request: web.Request, body: bytes) -> bool:
        return rcs.verify(body, request.headers.get("X-Goog-Signature"), secret)

    def console_check(body: bytes) -> web.Response | None:
        # The console's one-off webhook check {"clientToken", "secret"}: echo the secret.
        answer = rcs.verification_secret(body, secret) if len(body) <= 4096 else None
        return web.Response(text=answer) if answer is not None else None

    app.router.add_post(
        rcs.PATH,
        _Handler(
            cs, pipeline, lim, check, rcs.parse, _json_ok, "rcs", preflight=console_check
        ).handle,
    )
    limit_body(app, rcs.PATH, min(rcs.MAX_BODY_BYTES, cs.max_body_bytes))


def _add_gateway(app: web.Application, cs: ChannelSettings, pipeline: PipelineLike, lim) -> None:
    gs = cs.gateway
    assert gs is not None

    def check(request: web.Request, body: bytes) -> bool:
        return gateway.verify(
            body,
            request.headers.get(gs.signature_header),
            request.headers.get(gs.timestamp_header),
            gs.secret,
            now=time.time(),
            window=gs.replay_window,
        )

    def parse(body: bytes) -> list[Inbound | StatusEvent]:
        return gateway.parse(body, gs)

    handler = _Handler(cs, pipeline, lim, check, parse, _json_ok, "gateway").handle
    app.router.add_post(gateway.PATH, handler)
    limit_body(app, gateway.PATH, cs.max_body_bytes)


def add_channel_routes(
    app: web.Application,
    settings: Any,
    pipeline: PipelineLike,
    channel_settings: ChannelSettings | None = None,
    shared_limits: SharedLimits | None = None,
) -> ChannelSettings:
    """Register the webhooks of every configured provider; returns the settings used.

    `settings` is the app's Settings (its env_vars are read); tests may pass
    `channel_settings` directly. `shared_limits`: the store that keeps the flood limits
    when several processes share it (else this process counts them). The app must have
    the edge (`bot.edge.install_edge`).
    """
    if EDGE_LIMITS not in app:
        raise RuntimeError("webhooks need the edge: call bot.edge.install_edge(app, ...) first")
    cs = channel_settings or channel_settings_from_env(getattr(settings, "env_vars", {}) or {})
    max_body = getattr(settings, "max_body_bytes", None)
    if channel_settings is None and isinstance(max_body, int):
        cs = replace(cs, max_body_bytes=max_body)
    limits = FloodLimits(cs.inbound_per_minute, cs.inbound_per_hour)
    limiter: SenderLimiter = (
        shared_limits.limiter(limits)
        if shared_limits is not None
        else InboundLimiter(limits.per_minute, limits.per_hour)
    )
    app[CHANNEL_SETTINGS] = cs
    app[LIMITER] = limiter
    adders: list[tuple[object, Callable[..., None]]] = [
        (cs.twilio, _add_twilio),
        (cs.rcs, _add_rcs),
        (cs.gateway, _add_gateway),
    ]
    for configured, add in adders:
        if configured is not None:
            add(app, cs, pipeline, limiter)
    return cs
