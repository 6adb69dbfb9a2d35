"""Every /staff route is registered here with who may use it, and guarded accordingly:
the Host/Origin check, a live session of the right stage, the role's permission, and the
CSRF token on every state-changing request. A /staff route added any other way answers
404 (StaffRouter.middleware), and tests/staff walk `STAFF_ROUTES` against every role."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from bot.audit import Audit, AuditChain
from bot.channels.http import MalformedRequest, parse_json
from bot.clock import Clock
from bot.config import Settings
from bot.identity import NumberVault
from bot.simulator import json_response
from bot.staff import sessions
from bot.staff.accounts import (
    STAGE_CHANGE_PASSWORD,
    STAGE_ENROL_TOTP,
    STAGE_READY,
    STAGE_TOTP,
    Credentials,
)
from bot.staff.config import StaffConfig
from bot.staff.login import UnknownNames
from bot.staff.roles import Permission, may
from bot.store.base import Console
from bot.store.console import ConsoleWork
from bot.store.records import StaffAccount, StaffSession
from bot.system_texts import SystemTexts

log = logging.getLogger("bot.staff")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 16 * 1024  # staff requests are small; replies are at most 1,000 characters


class StaffMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "bot_staff_refused",
            "Staff console requests refused (host, origin, unauthenticated, stage, forbidden,"
            " csrf, locked)",
            ["reason"],
            registry=registry,
        )
        self.login_failures = Counter(
            "bot_staff_login_failures",
            "Failed staff sign-ins by factor (password, totp)",
            ["factor"],
            registry=registry,
        )
        self.lockouts = Counter(
            "bot_staff_lockouts",
            "Staff sign-in locks by scope (account, client)",
            ["scope"],
            registry=registry,
        )


@dataclass(frozen=True)
class Access:
    """Who may use a route: `public`, or a signed-in account whose session is at one of
    `stages` (a login still in progress may only finish itself) and whose role grants
    `permission` (None: any role)."""

    permission: Permission | None = None
    stages: frozenset[str] = frozenset({STAGE_READY})
    public: bool = False


PUBLIC = Access(public=True)
SIGNED_IN = Access()
ANY_STAGE = Access(
    stages=frozenset({STAGE_TOTP, STAGE_CHANGE_PASSWORD, STAGE_ENROL_TOTP, STAGE_READY})
)


def needs(permission: Permission) -> Access:
    return Access(permission=permission)


def during(*stages: str) -> Access:
    return Access(stages=frozenset(stages))


@dataclass
class StaffDeps:
    """What the console's handlers use, built once by add_staff_routes from what
    create_app hands it (the store's console, the clock, the vault, ...)."""

    console: Console
    clock: Clock
    settings: Settings
    config: StaffConfig
    creds: Credentials
    chain: AuditChain
    metrics: StaffMetrics
    texts: SystemTexts
    vault: NumberVault
    flows_dir: Path
    outbox_wake: asyncio.Event  # set when a reply is queued: the delivery worker sends it
    unknown_names: UnknownNames = field(default_factory=UnknownNames)

    def now(self) -> datetime:
        return self.clock.now()

    async def in_store(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(work, *args) in one write transaction of the store (its audit entries too)."""
        return await self.console.write(lambda work: fn(work, *args))

    async def reading(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(work, *args) for work that only reads (nothing audited)."""
        return await self.console.read(lambda work: fn(work, *args))

    def audit(self, work: ConsoleWork, now: datetime) -> Audit:
        return Audit(work.audit, now)


@dataclass(frozen=True)
class Staff:
    """The signed-in person making this request (request[STAFF])."""

    account: StaffAccount
    session: StaffSession
    csrf: str

    @property
    def name(self) -> str:
        return self.account.name


STAFF = web.RequestKey("staff", Staff)


def staff_of(request: web.Request) -> Staff:
    return request[STAFF]


def problem(status: int, error: str, message: str, **extra: Any) -> web.Response:
    """A refusal: `error` for programs (English), `message` for staff (Japanese)."""
    return json_response({"error": error, "message": message, **extra}, status=status)


async def read_body(request: web.Request) -> dict[str, Any] | web.Response:
    """A small JSON object, or a 400/413 saying what is wrong with it. The edge middleware
    has already read the body under its route's cap and deadline: request.read() returns it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return problem(413, "request body too large", "送信内容が大きすぎます。")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        return problem(413, "request body too large", "送信内容が大きすぎます。")
    if not raw.strip():
        return {}
    try:
        body = parse_json(raw)
    except (MalformedRequest, UnicodeDecodeError, ValueError):
        return problem(400, "body must be a JSON object", "送信内容を読み取れませんでした。")
    if not isinstance(body, dict):
        return problem(400, "body must be a JSON object", "送信内容を読み取れませんでした。")
    return body


@dataclass
class StaffRouter:
    app: web.Application
    deps: StaffDeps
    routes: dict[tuple[str, str], Access] = field(default_factory=dict)

    def add(self, method: str, path: str, handler: Handler, access: Access) -> None:
        self.routes[(method, path)] = access
        self.app.router.add_route(method, path, self._guarded(handler, access))

    def _guarded(self, handler: Handler, access: Access) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            response = await self._check(request, access) or await handler(request)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        guarded.__name__ = getattr(handler, "__name__", "staff_handler")
        guarded.__doc__ = handler.__doc__
        return guarded

    def _refuse(self, reason: str, response: web.Response) -> web.Response:
        self.deps.metrics.refused.labels(reason).inc()
        return response

    async def _check(self, request: web.Request, access: Access) -> web.Response | None:
        """None when the request may go on; otherwise the refusal."""
        deps = self.deps
        config = deps.config
        if not sessions.host_allowed(request, config):
            log.warning("staff request for a foreign host refused")
            return self._refuse(
                "host",
                problem(
                    421,
                    "this server does not answer to that host name",
                    "このアドレスではご利用いただけません。",
                ),
            )
        if not sessions.origin_allowed(request, config):
            return self._refuse(
                "origin",
                problem(
                    403, "cross-origin request refused", "別のサイトからの操作は受け付けません。"
                ),
            )
        if access.public:
            return None
        session_id = sessions.session_id_of(request, config)
        loaded = await deps.in_store(sessions.load, config, session_id, deps.now())
        if loaded.session is None:
            message = (
                "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"
                if loaded.expired
                else "ログインしてください。"
            )
            return self._refuse("unauthenticated", problem(401, "sign in first", message))
        session = loaded.session
        if request.method not in sessions.SAFE_METHODS and not sessions.csrf_ok(
            request, config, session.id_hash
        ):
            return self._refuse(
                "csrf",
                problem(
                    403,
                    "missing or wrong CSRF token",
                    "画面が古くなっています。再読み込みしてください。",
                ),
            )
        if session.stage not in access.stages:
            return self._refuse(
                "stage",
                problem(
                    403,
                    "finish signing in first",
                    "ログインの手続きを完了してください。",
                    stage=session.stage,
                ),
            )
        account = session.account
        if access.permission is not None and not may(account.role, access.permission):
            route = request.match_info.route.resource
            path = route.canonical if route is not None else request.path

            def record(work: ConsoleWork) -> None:
                deps.audit(work, deps.now()).record(
                    account.name,
                    "access.denied",
                    detail={"method": request.method, "route": path},
                )

            await deps.in_store(record)
            log.warning("staff request refused by role", extra={"route": path})
            return self._refuse(
                "forbidden",
                problem(403, "your role does not allow this", "この操作を行う権限がありません。"),
            )
        request[STAFF] = Staff(account, session, sessions.csrf_token(config, session.id_hash))
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Any /staff URL that is not a route registered here does not exist."""
        if request.path == "/staff" or request.path.startswith("/staff/"):
            resource = request.match_info.route.resource
            canonical = resource.canonical if resource is not None else None
            if (request.method, canonical) not in self.routes and not (
                request.method == "HEAD" and ("GET", canonical) in self.routes
            ):
                raise web.HTTPNotFound()
        return await handler(request)
