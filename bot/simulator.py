"""The simulator channel: POST /sim/messages (contract) and a phone in the browser at /sim/."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from importlib import resources

from aiohttp import web

from bot.channels.base import Inbound
from bot.channels.http import (
    MalformedRequest,
    identifier,
    opaque,
    parse_json,
    resident_text,
    sender,
)
from bot.channels.rich import MAX_POSTBACK_BYTES
from bot.channels.sms_choices import render_choices
from bot.clock import TOKYO, Adjustable
from bot.config import Settings
from bot.edge import json_response, limit_body, refuse
from bot.errors import BotError
from bot.metrics import Refusal
from bot.pipeline.service import Pipeline
from bot.replay.runner import describe_conversation
from bot.replay.spec import parse_wait
from bot.store.base import StoreUnavailable
from bot.store.records import SentMessage

log = logging.getLogger("bot.simulator")

__all__ = ["add_simulator_routes", "json_response", "parse_sim_message", "read_json_object"]

CHANNELS = {"sms", "rcs"}
# Texts are stored truncated past 2,000 characters; a 20,000-character one (120 KB as
# \uXXXX-escaped JSON) is still answered with the truncation note rather than refused.
MAX_BODY_BYTES = 128 * 1024
MAX_ADVANCE = timedelta(days=366)  # the clock control moves time on by at most a year


async def read_json_object(request: web.Request) -> dict | web.Response:
    """The body as a JSON object, or the 400 to answer (counted at the edge)."""
    try:
        body = parse_json(await request.read())
    except MalformedRequest as exc:
        return refuse(request, exc.reason, 400, str(exc))
    if not isinstance(body, dict):
        return refuse(request, Refusal.MALFORMED, 400, "body must be a JSON object")
    return body


def parse_sim_message(body: dict) -> Inbound:
    """Validate the contract's fields (MalformedRequest names what is wrong)."""
    text = body.get("text")
    number = sender(body.get("from"), "'from'")
    channel = body.get("channel", "sms")
    if channel not in CHANNELS:
        raise MalformedRequest("'channel' must be 'sms' or 'rcs'")
    postback = body.get("postback")
    if postback is not None:
        postback = opaque(postback, "'postback'", MAX_POSTBACK_BYTES)
    if not isinstance(text, str):
        raise MalformedRequest("'text' is required and must be a string")
    if not text.strip() and not postback:
        raise MalformedRequest("'text' must not be empty")
    message_id = identifier(body.get("id", str(uuid.uuid4())), "'id'", 128)
    return Inbound(
        provider="sim",
        channel=channel,
        provider_message_id=message_id,
        sender=number,
        text=resident_text(text),
        postback=postback,
    )


def as_seen(message: SentMessage, full: bool = True) -> dict:
    """A message as the resident sees it: on SMS the suggestions arrive as numbered lines in
    the text (the same rendering the SMS delivery uses); the labels stay in `suggestions`.
    `full`: with its kind (reply or notice), its time `at` (ISO 8601, JST) and its id and
    inbox id (the page's polling needs them)."""
    seen = message.as_dict()
    del seen["channel"]
    if full:
        seen["at"] = (
            message.at.astimezone(TOKYO).isoformat(timespec="seconds") if message.at else None
        )
    else:
        seen = {"text": seen["text"], "suggestions": seen["suggestions"]}
    if message.channel == "sms" and message.suggestions:
        seen["text"] = f"{message.text}\n{render_choices(message.suggestions)}"
    return seen


def add_simulator_routes(app: web.Application, pipeline: Pipeline, settings: Settings) -> None:
    async def post_message(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            inbound = parse_sim_message(body)
        except MalformedRequest as exc:
            return refuse(request, exc.reason, 400, str(exc))
        try:
            stored = await pipeline.ingest(inbound)
        except (StoreUnavailable, RuntimeError):  # not stored: say so, as the webhooks do
            log.warning("simulator message not stored")
            return refuse(request, Refusal.NOT_STORED, 503, "not stored; try again")
        if not await pipeline.wait_processed(stored.inbox_id, settings.sim_wait_seconds):
            return json_response(
                {"replies": [], "status": "processing", "duplicate": stored.duplicate}, status=202
            )
        replies = [as_seen(r, full=False) for r in await pipeline.replies_for(stored.inbox_id)]
        return json_response({"replies": replies, "duplicate": stored.duplicate})

    async def get_messages(request: web.Request) -> web.Response:
        """Everything sent to a simulated number after an id (the page polls for reminders)."""
        try:
            number = sender(request.query.get("from"), "'from'")
        except MalformedRequest as exc:
            return refuse(request, exc.reason, 400, str(exc))
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return refuse(request, Refusal.MALFORMED, 400, "'after' must be a number")
        messages = await pipeline.messages_for(number, after)
        return json_response({"messages": [as_seen(message) for message in messages]})

    async def get_clock(request: web.Request) -> web.Response:
        """The bot's time, and whether this is development (the page's staff panel)."""
        return json_response(
            {
                "now": pipeline.clock.now().isoformat(timespec="seconds"),
                "development": not settings.production,
                "adjustable": not settings.production and isinstance(pipeline.clock, Adjustable),
            }
        )

    async def move_clock(request: web.Request) -> web.Response:
        """Development: move the bot's clock on (`{"advance": "25h"}`), firing due timers."""
        body = await read_json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            delta = parse_wait("advance", 1, body.get("advance", ""))
        except BotError:
            return refuse(
                request, Refusal.MALFORMED, 400, "'advance' must look like 30s, 10m, 25h or 2d"
            )
        if delta > MAX_ADVANCE or delta <= timedelta():
            return refuse(request, Refusal.MALFORMED, 400, "'advance' must be up to 366d")
        turns = await pipeline.advance_clock(delta)
        now = pipeline.clock.now().isoformat(timespec="seconds")
        return json_response({"now": now, "turns": turns})

    async def get_state(request: web.Request) -> web.Response:
        """Development: a simulated resident's flow, state and slots."""
        try:
            number = sender(request.query.get("from"), "'from'")
        except MalformedRequest as exc:
            return refuse(request, exc.reason, 400, str(exc))
        flow, state, slots = describe_conversation(await pipeline.simulated_conversation(number))
        return json_response({"flow": flow, "state": state, "slots": slots})

    async def page(request: web.Request) -> web.Response:
        html = resources.files("bot.static").joinpath("sim.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sim/")

    app.router.add_post("/sim/messages", post_message)
    limit_body(app, "/sim/messages", MAX_BODY_BYTES)
    app.router.add_get("/sim/messages", get_messages)
    app.router.add_get("/sim/clock", get_clock)
    if not settings.production and isinstance(pipeline.clock, Adjustable):
        app.router.add_post("/sim/clock", move_clock)
    if not settings.production:
        app.router.add_get("/sim/state", get_state)
    app.router.add_get("/sim/", page)
    app.router.add_get("/sim", redirect)
