"""create_app(settings): the one place that wires the store, the NLU, the engine and the HTTP routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.audit import AuditChain
from bot.channels.guards import SharedLimits
from bot.channels.webhooks import add_channel_routes
from bot.city import build_responder
from bot.clock import Clock, OffsetClock, parse_instant
from bot.config import Settings
from bot.delivery.worker import DeliveryDeps, run_delivery
from bot.edge import EdgeLimits, install_edge, json_response
from bot.identity import NumberVault
from bot.metrics import METRICS, Metrics
from bot.notices.answers import notice_answers
from bot.notices.setup import notice_parts
from bot.pipeline.service import Pipeline
from bot.simulator import add_simulator_routes
from bot.staff import add_staff_routes
from bot.store import Store, open_store
from bot.system_texts import SystemTexts

log = logging.getLogger("bot.app")


@runtime_checkable
class Reloads(Protocol):
    """A responder that picks up staff's edits (bot.engine.FlowResponder)."""

    def maybe_reload(self) -> object: ...


SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
PIPELINE = web.AppKey("pipeline", Pipeline)


def make_clock(settings: Settings) -> Clock:
    if settings.clock_start:
        return OffsetClock(parse_instant(settings.clock_start))
    # In development the simulator's clock control may move time on; production's is real.
    return Clock() if settings.production else OffsetClock(Clock().now())


def edge_limits(settings: Settings) -> EdgeLimits:
    return EdgeLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        max_connections=settings.max_connections,
    )


async def healthz(request: web.Request) -> web.Response:
    """200 only when the store takes writes and the NLU is loaded; otherwise 503 with what
    is wrong (`problem`: deleted, replaced, corrupt, unreadable, unwritable, disk_full, …,
    and `detail`: one line for the operator)."""
    pipeline = request.app[PIPELINE]
    body: dict[str, object] = {
        "status": "starting",
        "store": False,
        "nlu": pipeline.responder is not None,
        "time": request.app[CLOCK].now().isoformat(timespec="seconds"),
    }
    if pipeline.ready:
        health = await pipeline.check_health()
        body["store"] = health.ok
        body["status"] = "ok" if health.ok else "unhealthy"
        if not health.ok:
            body["problem"], body["detail"] = health.problem, health.detail
    return json_response(body, status=200 if body["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes)
    clock = clock or make_clock(settings)
    metrics_ = Metrics()
    install_edge(app, metrics_, edge_limits(settings))
    texts = SystemTexts.load(Path(settings.flows_dir))
    audit_chain = AuditChain.from_secret(settings.secret_key)
    vault = NumberVault(settings.secret_key)
    store = open_store(settings.database, vault.texts, audit=audit_chain)
    pipeline = Pipeline(
        store=store,
        clock=clock,
        vault=vault,
        responder_factory=lambda: build_responder(
            Path(settings.flows_dir), clock, dictionaries=settings.dictionaries_dir
        ),
        texts=texts,
        metrics=metrics_,
        max_chars=settings.max_text_chars,
        first_look=notice_answers(Path(settings.flows_dir)),
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[PIPELINE] = pipeline

    async def run_pipeline(app: web.Application) -> AsyncIterator[None]:
        await pipeline.start()
        metrics_.ready.set(1)
        stop = asyncio.Event()
        reload_now = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # `kill -HUP` reloads flows at once (besides the poll every few seconds).
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_now.set)
        background = [
            asyncio.create_task(run_delivery(delivery, stop), name="bot-delivery"),
            asyncio.create_task(_reload_flows(pipeline, stop, reload_now), name="bot-reload"),
            asyncio.create_task(
                _purge_old_texts(store, clock, settings.retention_days, stop), name="bot-retention"
            ),
            asyncio.create_task(notices.dispatcher.run(stop), name="bot-notices"),
        ]
        yield
        stop.set()
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await pipeline.stop()

    app.cleanup_ctx.append(run_pipeline)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if settings.simulator:
        if settings.production:  # anyone reaching /sim/ can text as any number
            log.warning(
                "the simulator is on in production (BOT_SIMULATOR): anyone who reaches "
                "/sim/ can text as any number and read the replies; keep it off the public side"
            )
        add_simulator_routes(app, pipeline, settings)
    channel_settings = add_channel_routes(
        app, settings, pipeline, shared_limits=SharedLimits(store, vault.resident_id)
    )
    notices = notice_parts(
        store,
        Path(settings.flows_dir),
        clock,
        vault,
        pipeline.outbox_wake,
        channel_settings,
        settings.simulator,
        settings.env_vars,
    )
    delivery = DeliveryDeps(
        store.delivery,
        vault,
        clock,
        channel_settings,
        pipeline.outbox_wake,
        metrics=metrics_,
        held=notices.held,
    )
    router = add_staff_routes(
        app,
        settings,
        console=store.console,
        chain=audit_chain,
        clock=clock,
        vault=vault,
        texts=texts,
        outbox_wake=pipeline.outbox_wake,
        registry=metrics_.registry,
    )
    notices.add_routes(app, router)
    return app


async def _purge_old_texts(store: Store, clock: Clock, days: float, stop: asyncio.Event) -> None:
    """Residents' messages are kept only as long as the city needs them (BOT_RETENTION_DAYS)."""
    while not stop.is_set():
        before = clock.now() - timedelta(days=days)
        counts = await store.purge_old(before)
        if any(counts.values()):
            log.info("old texts erased", extra={"counts": counts})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=6 * 3600)


async def _reload_flows(
    pipeline: Pipeline, stop: asyncio.Event, now: asyncio.Event, every: float = 2.0
) -> None:
    """Pick up staff's edits while serving; the engine swaps only flows that pass the check."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(now.wait(), timeout=every)
        now.clear()
        responder = pipeline.responder
        if isinstance(responder, Reloads):
            await pipeline.between_batches(responder.maybe_reload)
