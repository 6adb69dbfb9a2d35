"""The simulator channel: POST /sim/messages (contract) and a phone in the browser at /sim/."""

from __future__ import annotations

import json
import re
import uuid
from importlib import resources

from aiohttp import web

from bot.channels.base import Inbound
from bot.channels.sms_choices import render_choices
from bot.config import Settings
from bot.pipeline.service import Pipeline
from bot.store.records import SentMessage


def json_response(data: object, status: int = 200) -> web.Response:
    """JSON with Japanese left readable."""
    return web.json_response(
        data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False)
    )


NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")
CHANNELS = {"sms", "rcs"}


def _bad(message: str) -> web.Response:
    return json_response({"error": message}, status=400)


async def read_json_object(request: web.Request) -> dict | web.Response:
    raw = await request.read()  # aiohttp enforces client_max_size (413) here
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _bad("body is not valid UTF-8")
    try:
        body = json.loads(text)
    except ValueError:
        return _bad("body is not valid JSON")
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    return body


def parse_sim_message(body: dict) -> Inbound | str:
    """Validate the contract's fields; a string is the error to report."""
    sender, text = body.get("from"), body.get("text")
    channel = body.get("channel", "sms")
    if not isinstance(sender, str) or not NUMBER.match(sender):
        return "'from' must be a phone number in E.164 form, e.g. +819012345678"
    if channel not in CHANNELS:
        return "'channel' must be 'sms' or 'rcs'"
    postback = body.get("postback")
    if postback is not None and not isinstance(postback, str):
        return "'postback' must be a string"
    if not isinstance(text, str):
        return "'text' is required and must be a string"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "'text' contains invalid characters (an unpaired surrogate)"
    if not text.strip() and not postback:
        return "'text' must not be empty"
    message_id = body.get("id", str(uuid.uuid4()))
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 128:
        return "'id' must be a string of 1-128 characters"
    return Inbound(
        provider="sim",
        channel=channel,
        provider_message_id=message_id,
        sender=sender,
        text=text,
        postback=postback,
    )


def as_seen(message: SentMessage, full: bool = True) -> dict:
    """A message as the resident sees it: on SMS the suggestions arrive as numbered lines in
    the text (the same rendering the SMS delivery uses); the labels stay in `suggestions`.
    `full`: with its id, kind and inbox id (the page's polling needs them)."""
    seen = message.as_dict()
    del seen["channel"]
    if not full:
        seen = {"text": seen["text"], "suggestions": seen["suggestions"]}
    if message.channel == "sms" and message.suggestions:
        seen["text"] = f"{message.text}\n{render_choices(message.suggestions)}"
    return seen


def add_simulator_routes(app: web.Application, pipeline: Pipeline, settings: Settings) -> None:
    async def post_message(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        if isinstance(body, web.Response):
            return body
        inbound = parse_sim_message(body)
        if isinstance(inbound, str):
            return _bad(inbound)
        stored = await pipeline.ingest(inbound)
        if not await pipeline.wait_processed(stored.inbox_id, settings.sim_wait_seconds):
            return json_response(
                {"replies": [], "status": "processing", "duplicate": stored.duplicate}, status=202
            )
        replies = [as_seen(r, full=False) for r in await pipeline.replies_for(stored.inbox_id)]
        return json_response({"replies": replies, "duplicate": stored.duplicate})

    async def get_messages(request: web.Request) -> web.Response:
        """Everything sent to a simulated number after an id (the page polls for reminders)."""
        sender = request.query.get("from", "")
        if not NUMBER.match(sender):
            return _bad("'from' must be a phone number in E.164 form")
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return _bad("'after' must be a number")
        messages = await pipeline.messages_for(sender, after)
        return json_response({"messages": [as_seen(message) for message in messages]})

    async def page(request: web.Request) -> web.Response:
        html = resources.files("bot.static").joinpath("sim.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sim/")

    app.router.add_post("/sim/messages", post_message)
    app.router.add_get("/sim/messages", get_messages)
    app.router.add_get("/sim/", page)
    app.router.add_get("/sim", redirect)
