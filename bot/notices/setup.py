"""The notice parts of the server, built once by create_app: the desk (CLI and console
share it), the dispatcher (a background task), the routes, and what the delivery worker
asks (which priorities wait now, for quiet hours)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web

from bot.channels.settings import ChannelSettings
from bot.clock import Clock
from bot.errors import ConfigError
from bot.identity import NumberVault
from bot.notices.desk import NoticeDesk
from bot.notices.dispatch import BATCH, RATE, Dispatcher
from bot.notices.policy import load_policy
from bot.notices.routes import add_notice_routes
from bot.notices.routing import default_route
from bot.pipeline.turns import LOCAL_PROVIDERS
from bot.staff.guard import StaffRouter
from bot.store.base import Store

log = logging.getLogger("bot.notices")


@dataclass
class NoticeParts:
    desk: NoticeDesk
    dispatcher: Dispatcher

    def held(self, now: datetime) -> frozenset[int]:
        """The priorities of notices that wait now (quiet hours). A notices.yaml that cannot
        be read holds every category that waits at night (better late than at 3 a.m.)."""
        try:
            return self.desk.policy.held_priorities(now)
        except Exception:
            log.exception("notices.yaml unreadable: holding the categories that may wait")
            return frozenset(range(2, 10))

    def add_routes(self, app: web.Application, router: StaffRouter) -> None:
        d = self.dispatcher
        add_notice_routes(app, router, self.desk, d.kick, d.route, d.local)


def notice_parts(
    store: Store,
    flows_dir: Path,
    clock: Clock,
    vault: NumberVault,
    outbox_wake: asyncio.Event,
    channels: ChannelSettings,
    simulator: bool,
    env: Mapping[str, str],
) -> NoticeParts:
    desk = NoticeDesk(store, flows_dir, vault)
    dispatcher = Dispatcher(
        store.notices,
        lambda: load_policy(flows_dir),
        clock,
        default_route(channels, simulator),
        LOCAL_PROVIDERS,
        outbox_wake,
        batch=fanout_batch(env),
        rate=fanout_rate(env),
    )
    return NoticeParts(desk, dispatcher)


def fanout_batch(env: Mapping[str, str]) -> int:
    """BOT_NOTICE_BATCH: residents per fan-out transaction (default 500: a few ms each)."""
    raw = env.get("BOT_NOTICE_BATCH", "").strip()
    if not raw:
        return BATCH
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise ConfigError(f"BOT_NOTICE_BATCH must be a number from 1 to 100000, not {raw!r}")
    return int(raw)


def fanout_rate(env: Mapping[str, str]) -> float:
    """BOT_NOTICE_FANOUT_RATE: residents queued per second at most (default 25000: a million
    in 40 s, the disk left room for webhooks' fsyncs; 0: as fast as the store goes)."""
    raw = env.get("BOT_NOTICE_FANOUT_RATE", "").strip()
    if not raw:
        return RATE
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 10_000_000:
        raise ConfigError(
            f"BOT_NOTICE_FANOUT_RATE must be a number from 0 to 10000000, not {raw!r}"
        )
    return rate
