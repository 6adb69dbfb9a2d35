"""Fake Twilio: the Messages REST API (create, and the list with its filters and paging, as
Twilio documents them), plus helpers that sign webhooks as Twilio does."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import itertools
import time
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.channels import twilio as adapter

from .base import FakeProvider, Received

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM = "+815012345678"


LIST_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def _rfc2822(at: datetime) -> str:
    return email.utils.format_datetime(at.astimezone(UTC).replace(microsecond=0), usegmt=False)


class FakeTwilio(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.opted_out: set[str] = set()
        self.ids = itertools.count(1)
        # Message resources in the order they were created (the list serves newest first).
        self.messages: list[dict[str, Any]] = []
        self._created: dict[str, float] = {}  # sid → time.monotonic() of creation
        # A new message stays "queued" (no date_sent) this long, then is "sent".
        self.sent_after = 0.2
        self.list_requests = 0
        # Sends whose Body is in `held` get no answer until `release` is set (a slow send).
        self.held: set[str] = set()
        self.release = asyncio.Event()
        # Once this many messages exist, each further send is accepted (created, in the
        # list) but answered only when `release` is set: a send the provider has and the
        # bot has not recorded, as when the bot dies while waiting for the answer.
        self.answer_held_after: int | None = None
        self.list_script: list[int] = []  # statuses to answer the next list requests with
        self.app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create)
        self.app.router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", self.list)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == aiohttp.encode_basic_auth(
            ACCOUNT_SID, AUTH_TOKEN
        )

    def _resource(self, sid: str, form: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        sender = str(form.get("From") or "")
        return {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": str(form["Body"]),
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"{LIST_PATH[:-5]}/{sid}/Media.json",
                "feedback": f"{LIST_PATH[:-5]}/{sid}/Feedback.json",
            },
            "to": str(form["To"]),
            "uri": f"{LIST_PATH[:-5]}/{sid}.json",
        }

    def _as_now(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as Twilio would show it now: sent (with date_sent) once sent_after
        has passed since it was created."""
        if time.monotonic() - self._created[message["sid"]] < self.sent_after:
            return message
        return {**message, "status": "sent", "date_sent": message["date_created"]}

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
        if form.get("Body") in self.held:
            await self.release.wait()
        item.answered = 201
        sid = f"SM{next(self.ids):032x}"
        resource = self._resource(sid, form)
        self.messages.append(resource)
        self._created[sid] = time.monotonic()
        if self.answer_held_after is not None and len(self.messages) > self.answer_held_after:
            await self.release.wait()
        return web.json_response(resource, status=201)

    async def list(self, request: web.Request) -> web.Response:
        """GET Messages.json: To, From, DateSent / DateSent< / DateSent> (a GMT date; only
        messages that have a date_sent match), PageSize (default 50, at most 1000), Page
        and PageToken; newest first; Twilio's paging fields."""
        self.list_requests += 1
        if not self._authorised(request):
            return web.json_response({"code": 20003, "status": 401}, status=401)
        if self.list_script:
            status = self.list_script.pop(0)
            return web.json_response({"code": 20500, "status": status}, status=status)
        query = request.query
        try:
            size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            page = max(int(query.get("Page", "0")), 0)
            start = int(query["PageToken"][2:]) if "PageToken" in query else page * size
            dates = {
                op: date.fromisoformat(query[key])
                for op, key in (("=", "DateSent"), ("<=", "DateSent<"), (">=", "DateSent>"))
                if key in query
            }
        except (ValueError, KeyError):
            return web.json_response({"code": 20001, "status": 400}, status=400)

        def keep(message: dict[str, Any]) -> bool:
            if "To" in query and message["to"] != query["To"]:
                return False
            if "From" in query and message["from"] != query["From"]:
                return False
            if dates:
                if not message["date_sent"]:
                    return False
                day = email.utils.parsedate_to_datetime(message["date_sent"]).date()
                checks = {"=": day.__eq__, "<=": day.__le__, ">=": day.__ge__}
                if not all(checks[op](value) for op, value in dates.items()):
                    return False
            return True

        shown = [self._as_now(m) for m in reversed(self.messages)]
        matching = [m for m in shown if keep(m)]
        items = matching[start : start + size]
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken", "PageSize")}

        def uri(page_no: int, offset: int) -> str:
            params = {**base, "PageSize": str(size), "Page": str(page_no)}
            if offset:
                params["PageToken"] = f"PA{offset}"
            return f"{LIST_PATH}?{urlencode(params)}"

        page_no = start // size
        more = start + size < len(matching)
        return web.json_response(
            {
                "messages": items,
                "page": page_no,
                "page_size": size,
                "start": start,
                "end": start + max(len(items) - 1, 0),
                "uri": uri(page_no, start),
                "first_page_uri": uri(0, 0),
                "next_page_uri": uri(page_no + 1, start + size) if more else None,
                "previous_page_uri": uri(page_no - 1, max(start - size, 0)) if start else None,
            }
        )

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
