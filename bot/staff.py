"""The staff console: city staff answer residents whose conversation was handed to a person.

    GET  /staff/                                   the page (bot/static/staff.html)
    GET  /staff/api/conversations                  open conversations and their transcripts
    POST /staff/api/conversations/{ref}/reply      {"text"}: a message from staff
    POST /staff/api/conversations/{ref}/return     {"text"?}: hand back to the bot

Access (BOT_STAFF_TOKEN, read from settings.env_vars):
- token set: every API request needs `Authorization: Bearer <token>` (401 otherwise). The
  page itself holds no data; its login form keeps the token in sessionStorage.
- no token, production: the console does not exist (404).
- no token, development: loopback clients only, not through a proxy (403 for anyone else).

All storage work goes through the store's staff desk (bot.store.base.StaffDesk). Logs
never carry texts, numbers or tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

from bot import handoff
from bot.config import Settings
from bot.pipeline.service import Pipeline
from bot.simulator import json_response, read_json_object

log = logging.getLogger("bot.staff")

TOKEN_VAR = "BOT_STAFF_TOKEN"
MAX_REPLY_CHARS = 1000

OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND = 200, 401, 403, 404

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def is_loopback(remote: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for anything else."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def client_address(request: web.Request) -> str | None:
    """The peer address, or None when the request came through a proxy: a proxy on this
    machine would make everyone look like loopback."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return None
    return request.remote


def access(token: str, production: bool, remote: str | None, authorization: str | None) -> int:
    """The HTTP status a console API request gets before its handler runs (200 = allowed).
    remote: the client's address (None when unknown or proxied)."""
    if token:
        given = bearer_token(authorization)
        # Digests of equal length: the comparison time tells nothing, not even the length.
        if given is None or not hmac.compare_digest(_digest(given), _digest(token)):
            return UNAUTHORIZED
        return OK
    if production:
        return NOT_FOUND
    return OK if is_loopback(remote) else FORBIDDEN


def same_origin(request: web.Request) -> bool:
    """A browser sends Origin with cross-site requests: another site's page must not be able
    to post replies through a staff member's browser (no token in development)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


def page_access(token: str, production: bool, remote: str | None) -> int:
    """The page is a login form without data: served wherever the API could be used."""
    if token:
        return OK
    return access(token, production, remote, None)


def staff_token(settings: Settings) -> str:
    return (settings.env_vars.get(TOKEN_VAR) or "").strip()


FORBIDDEN_ORIGIN = 4031  # a 403 with its own explanation

_DENIED = {
    FORBIDDEN_ORIGIN: ("cross-origin request refused", "別のサイトからの操作は受け付けません。"),
    UNAUTHORIZED: ("staff token required", "アクセスキーが正しくありません。"),
    FORBIDDEN: (
        "the staff console without BOT_STAFF_TOKEN is open to this computer only",
        "このコンソールは、このコンピューターからのみ利用できます。",
    ),
}


def _error(status: int, error: str, message: str) -> web.Response:
    response = json_response({"error": error, "message": message}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _denied(status: int) -> web.StreamResponse:
    if status == NOT_FOUND:
        raise web.HTTPNotFound()
    error, message = _DENIED[status]
    response = _error(FORBIDDEN if status == FORBIDDEN_ORIGIN else status, error, message)
    if status == UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="staff"'
    return response


def _not_found() -> web.Response:
    return _error(
        NOT_FOUND,
        "no open conversation with this reference (unknown, ambiguous or handed back)",
        "この会話は見つかりません。すでにボットに戻された可能性があります。",
    )


def _check_text(text: object, required: bool) -> str | web.Response | None:
    """The text to send, None for no text (only when not required), or a 400."""
    if text is None and not required:
        return None
    if not isinstance(text, str):
        return _error(400, "'text' is required and must be a string", "返信を入力してください。")
    text = text.strip()
    if not text:
        if not required:
            return None
        return _error(400, "'text' must not be empty", "返信を入力してください。")
    if len(text) > MAX_REPLY_CHARS:
        return _error(
            400,
            f"'text' must be at most {MAX_REPLY_CHARS} characters",
            f"返信は{MAX_REPLY_CHARS}文字以内でお願いします。",
        )
    return text


def add_staff_routes(app: web.Application, pipeline: Pipeline, settings: Settings) -> None:
    token = staff_token(settings)
    production = settings.production
    desk = pipeline.store.staff
    if production and not token:
        log.info("staff console disabled: BOT_STAFF_TOKEN is not set")
        return  # no routes: every /staff URL is a plain 404

    def allowed(request: web.Request) -> int:
        if not same_origin(request):
            return FORBIDDEN_ORIGIN
        return access(
            token, production, client_address(request), request.headers.get("Authorization")
        )

    async def page(request: web.Request) -> web.StreamResponse:
        status = page_access(token, production, client_address(request))
        if status != OK:
            return _denied(status)
        html = resources.files("bot.static").joinpath("staff.html").read_text(encoding="utf-8")
        return web.Response(
            text=html, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
        )

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/staff/")

    async def conversations(request: web.Request) -> web.StreamResponse:
        status = allowed(request)
        if status != OK:
            return _denied(status)
        rows = await handoff.open_conversations(desk)
        response = json_response({"conversations": rows, "token_required": bool(token)})
        response.headers["Cache-Control"] = "no-store"
        return response

    async def reply(request: web.Request) -> web.StreamResponse:
        status = allowed(request)
        if status != OK:
            return _denied(status)
        body = await read_json_object(request)
        if isinstance(body, web.Response):
            return body
        text = _check_text(body.get("text"), required=True)
        if isinstance(text, web.Response):
            return text
        message: str = text or ""  # required=True: never None
        ref = request.match_info["ref"]

        resident_id = await handoff.find_open(desk, ref)
        if resident_id is None:
            return _not_found()
        outbox_id = await handoff.queue_staff_reply(
            desk, resident_id, message, pipeline.clock.now()
        )
        pipeline.outbox_wake.set()
        log.info("staff reply queued", extra={"outbox": outbox_id})
        return json_response({"ok": True, "outbox_id": outbox_id})

    async def give_back(request: web.Request) -> web.StreamResponse:
        status = allowed(request)
        if status != OK:
            return _denied(status)
        body: dict | web.Response = {}
        if await request.read():
            body = await read_json_object(request)
            if isinstance(body, web.Response):
                return body
        text = _check_text(body.get("text"), required=False)
        if isinstance(text, web.Response):
            return text
        ref = request.match_info["ref"]

        resident_id = await handoff.find_open(desk, ref)
        if resident_id is None:
            return _not_found()
        closing = text
        if not closing and await desk.in_handoff(resident_id):
            # The resident was waiting for a person: tell them the bot is back.
            closing = pipeline.texts.get("handoff_returned")
        outbox_id = await handoff.hand_back(desk, resident_id, closing, pipeline.clock.now())
        if outbox_id is not None:
            pipeline.outbox_wake.set()
        log.info("conversation returned to the bot", extra={"outbox": outbox_id})
        return json_response({"ok": True, "outbox_id": outbox_id})

    app.router.add_get("/staff/", page)
    app.router.add_get("/staff", redirect)
    app.router.add_get("/staff/api/conversations", conversations)
    app.router.add_post("/staff/api/conversations/{ref}/reply", reply)
    app.router.add_post("/staff/api/conversations/{ref}/return", give_back)
