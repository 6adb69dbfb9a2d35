"""Fake domestic JSON SMS gateway: POST /messages; helper that signs webhooks."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from aiohttp import web

from bot.channels import gateway as adapter

from .base import FakeProvider

SECRET = "gateway-shared-secret"
TOKEN = "gateway-token"


class FakeGateway(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)
        self.keys: dict[str, str] = {}
        self.app.router.add_post("/messages", self.create)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        item = self.record(request, body)
        scripted = self.next_scripted()
        if scripted is not None:
            item.answered = scripted.status
            return self.answer(scripted)
        key = request.headers.get("Idempotency-Key", "")
        if key not in self.keys:  # the gateway honours Idempotency-Key
            self.keys[key] = f"gw-{next(self.ids)}"
        item.answered = 202
        return web.json_response({"message_id": self.keys[key]}, status=202)


def signed(
    payload: Any, secret: str = SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    stamp = str(int(time.time() if at is None else at))
    headers = {
        "X-Timestamp": stamp,
        "X-Signature": adapter.sign(body, stamp, secret),
        "Content-Type": "application/json",
    }
    return body, headers
