"""A fake provider: an aiohttp app on 127.0.0.1 that records requests and replays scripts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Scripted:
    """One canned answer for the next matching request."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    at: float  # time.monotonic()
    path: str
    data: dict[str, Any]
    headers: dict[str, str]
    answered: int = 0


class FakeProvider:
    def __init__(self) -> None:
        self.app = web.Application()
        self.received: list[Received] = []
        self.script: list[Scripted | None] = []  # None: answer that request as usual
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> FakeProvider:
        self.server = TestServer(self.app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def record(self, request: web.Request, data: dict[str, Any]) -> Received:
        item = Received(time.monotonic(), request.path, data, dict(request.headers))
        self.received.append(item)
        return item

    def next_scripted(self) -> Scripted | None:
        return self.script.pop(0) if self.script else None

    @staticmethod
    def answer(scripted: Scripted) -> web.Response:
        return web.json_response(scripted.body, status=scripted.status, headers=scripted.headers)
