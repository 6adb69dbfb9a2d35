"""Fake Twilio: the Messages REST API, plus helpers that sign webhooks as Twilio does."""

from __future__ import annotations

import base64
import hashlib
import itertools
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.channels import twilio as adapter

from .base import FakeProvider, Received

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM = "+815012345678"


class FakeTwilio(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.opted_out: set[str] = set()
        self.ids = itertools.count(1)
        self.app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create)

    async def create(self, request: web.Request) -> web.Response:
        expected = aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)
        form = dict(await request.post())
        item = self.record(request, {k: str(v) for k, v in form.items()})
        if request.headers.get("Authorization") != expected:
            item.answered = 401
            return web.json_response({"code": 20003, "status": 401}, status=401)
        scripted = self.next_scripted()
        if scripted is not None:
            item.answered = scripted.status
            return self.answer(scripted)
        if form.get("To") in self.opted_out:
            item.answered = 400
            body = {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
            return web.json_response({**body, "status": 400}, status=400)
        if not form.get("Body") or not form.get("To"):
            item.answered = 400
            return web.json_response({"code": 21602, "status": 400}, status=400)
        item.answered = 201
        sid = f"SM{next(self.ids):032x}"
        return web.json_response({"sid": sid, "status": "queued", "to": form["To"]}, status=201)

    def delivered(self) -> list[Received]:
        return [r for r in self.received if r.answered == 201]


def sign_form(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> tuple[bytes, str]:
    """The body and X-Twilio-Signature Twilio would send for these form parameters."""
    return urlencode(params).encode(), adapter.signature(url, list(params.items()), token)


def sign_json(url: str, body: bytes, token: str = AUTH_TOKEN) -> tuple[str, str]:
    """For JSON webhooks: the URL with bodySHA256 appended and its signature."""
    digest = hashlib.sha256(body).hexdigest()
    joiner = "&" if "?" in url else "?"
    signed_url = f"{url}{joiner}bodySHA256={digest}"
    return signed_url, adapter.signature(signed_url, [], token)


def inbound_params(sid: str, sender: str, text: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": FROM,
        "Body": text,
        "NumMedia": "0",
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
