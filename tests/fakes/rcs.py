"""Fake RCS Business Messaging: agentMessages create/revoke; helpers that sign push envelopes."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from bot.channels import rcs as adapter

from .base import FakeProvider

AGENT_ID = "city_agent"
TOKEN = "rbm-bearer-token"
CLIENT_TOKEN = "SJENCPGJESMGUFPY"


class FakeRcs(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.capable: set[str] = set()  # numbers that can receive RCS; others get 404
        self.message_ids: set[str] = set()
        self.delivered_ids: set[str] = set()
        self.revoked: list[str] = []
        self.app.router.add_post("/v1/phones/{phone}/agentMessages", self.create)
        self.app.router.add_delete("/v1/phones/{phone}/agentMessages/{mid}", self.revoke)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        item = self.record(
            request, {"phone": request.match_info["phone"], **dict(request.query), "body": body}
        )
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            item.answered = 401
            return web.json_response({"error": {"code": 401}}, status=401)
        scripted = self.next_scripted()
        if scripted is not None:
            item.answered = scripted.status
            return self.answer(scripted)
        if request.match_info["phone"] not in self.capable:
            item.answered = 404
            error = {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
            }
            return web.json_response({"error": error}, status=404)
        mid = request.query["messageId"]
        if mid in self.message_ids:
            item.answered = 409
            return web.json_response(
                {"error": {"code": 409, "status": "ALREADY_EXISTS"}}, status=409
            )
        self.message_ids.add(mid)
        item.answered = 200
        name = f"phones/{request.match_info['phone']}/agentMessages/{mid}"
        return web.json_response({"name": name, "contentMessage": body["contentMessage"]})

    async def revoke(self, request: web.Request) -> web.Response:
        mid = request.match_info["mid"]
        if mid in self.delivered_ids or mid not in self.message_ids:
            return web.json_response({"error": {"code": 404}}, status=404)
        self.revoked.append(mid)
        return web.json_response({})

    def accepted(self) -> list[dict[str, Any]]:
        return [r.data for r in self.received if r.answered == 200]


def envelope(event: dict[str, Any], client_token: str = CLIENT_TOKEN) -> tuple[bytes, str]:
    """A push envelope as RBM posts it, and its X-Goog-Signature."""
    try:
        data = json.dumps(event, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: JSON can carry it escaped (\ud800)
        data = json.dumps(event).encode()
    body = json.dumps(
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": "pubsub-1",
                "publishTime": "2026-11-24T01:00:00Z",
            },
            "subscription": "projects/rbm/subscriptions/agent",
        }
    ).encode()
    return body, adapter.sign(data, client_token)


def text_event(sender: str, message_id: str, text: str) -> dict[str, Any]:
    return {
        "agentId": AGENT_ID,
        "senderPhoneNumber": sender,
        "messageId": message_id,
        "sendTime": "2026-11-24T01:00:00Z",
        "text": text,
    }


def tap_event(sender: str, message_id: str, postback: str, text: str) -> dict[str, Any]:
    return {
        "agentId": AGENT_ID,
        "senderPhoneNumber": sender,
        "messageId": message_id,
        "sendTime": "2026-11-24T01:00:00Z",
        "suggestionResponse": {"postbackData": postback, "text": text, "type": "REPLY"},
    }


def receipt_event(sender: str, message_id: str, kind: str) -> dict[str, Any]:
    return {
        "agentId": AGENT_ID,
        "senderPhoneNumber": sender,
        "eventType": kind,
        "eventId": f"ev-{message_id}-{kind}",
        "messageId": message_id,
        "sendTime": "2026-11-24T01:00:05Z",
    }
