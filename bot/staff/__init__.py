"""The staff console: per-person accounts, roles, an audit trail, and the screens staff
run the service from (docs/staff-console.md).

    GET /staff/                       the page (bot/static/staff.html, staff.js, staff.css)
    /staff/api/session…, password, totp…     bot/staff/auth_routes.py
    /staff/api/conversations, residents…     bot/staff/console_routes.py
    /staff/api/accounts…, audit…             bot/staff/admin_routes.py

Every route is registered through StaffRouter with who may use it (bot/staff/guard.py).
All storage work runs in units of the store's console (bot.store.base.Console): what a
request changes and the audit entries that record it commit together. Logs never carry
residents' texts or numbers, passwords, codes or session ids."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from bot.audit import AuditChain
from bot.clock import Clock
from bot.config import Settings
from bot.identity import NumberVault
from bot.staff import accounts
from bot.staff.admin_routes import add_admin_routes
from bot.staff.auth_routes import add_auth_routes
from bot.staff.config import RETIRED_TOKEN_VAR, StaffConfig
from bot.staff.console_routes import add_console_routes
from bot.staff.guard import PUBLIC, Access, StaffDeps, StaffMetrics, StaffRouter
from bot.store.base import Console
from bot.system_texts import SystemTexts

log = logging.getLogger("bot.staff")

STAFF_ROUTER = web.AppKey("staff_router", StaffRouter)

PAGE_HEADERS = {
    # The page's script and styles are files of their own: no inline script may run, so a
    # resident's text shown on it can never become code.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
ASSETS = {
    "/staff/": ("staff.html", "text/html"),
    "/staff/staff.js": ("staff.js", "text/javascript"),
    "/staff/notices.js": ("notices.js", "text/javascript"),
    "/staff/staff.css": ("staff.css", "text/css"),
}


def add_staff_routes(
    app: web.Application,
    settings: Settings,
    *,
    console: Console,
    chain: AuditChain,
    clock: Clock,
    vault: NumberVault,
    texts: SystemTexts,
    outbox_wake: asyncio.Event,
    registry: CollectorRegistry | None = None,
) -> StaffRouter:
    """The console's routes over the store's `console`; `chain` is the audit chain the
    store was opened with (verification uses it too)."""
    config = StaffConfig.from_settings(settings)
    if settings.env_vars.get(RETIRED_TOKEN_VAR):
        # Retired: a shared key cannot say who read or did what (docs/staff-console.md).
        log.warning(
            "BOT_STAFF_TOKEN is no longer used: staff sign in with their own accounts "
            "(bot staff add NAME --role admin); remove it from the environment"
        )
    deps = StaffDeps(
        console=console,
        clock=clock,
        settings=settings,
        config=config,
        creds=accounts.Credentials(config.totp_key),
        chain=chain,
        metrics=StaffMetrics(registry or CollectorRegistry()),
        texts=texts,
        vault=vault,
        flows_dir=Path(settings.flows_dir),
        outbox_wake=outbox_wake,
    )
    router = StaffRouter(app, deps)
    app[STAFF_ROUTER] = router  # its table of routes is what tests walk
    app.middlewares.append(router.middleware)
    _add_page_routes(router)
    add_auth_routes(router)
    add_console_routes(router)
    add_admin_routes(router)
    return router


def _add_page_routes(router: StaffRouter) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/staff/")

    for path, (name, content_type) in ASSETS.items():

        async def asset(
            request: web.Request, name: str = name, content_type: str = content_type
        ) -> web.StreamResponse:
            text = resources.files("bot.static").joinpath(name).read_text(encoding="utf-8")
            return web.Response(
                text=text, content_type=content_type, charset="utf-8", headers=PAGE_HEADERS
            )

        router.add("GET", path, asset, PUBLIC)
    router.add("GET", "/staff", redirect, PUBLIC)


__all__ = ["STAFF_ROUTER", "Access", "StaffRouter", "add_staff_routes"]
