"""The whole bot in-process, without HTTP: used by `bot replay` and `bot chat`.

Messages go through the same store and turn runner as the server (a real SQLite file,
the same transactions); only the transport differs. The calls are synchronous: the
store's coroutines run on a private event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.audit import AuditChain
from bot.channels.base import Inbound
from bot.clock import Clock, FrozenClock
from bot.identity import NumberVault
from bot.notices.answers import notice_answers
from bot.notices.rehearsal import rehearse
from bot.pipeline.intake import identity_of, prepare_inbound
from bot.pipeline.turns import TurnRunner
from bot.store import open_store
from bot.store.records import Route
from bot.system_texts import SystemTexts
from bot.turn import Responder


class LocalBot:
    def __init__(
        self,
        responder: Responder,
        clock: Clock,
        flows_dir: Path,
        db_path: Path | str = ":memory:",
        provider: str = "replay",
        secret_key: bytes | None = None,
        shared: bool = False,
    ) -> None:
        """`secret_key`: the server's, to share its residents (`bot chat`); default a key of
        its own. `shared`: a database a running `bot serve` may use at the same time, so
        this process neither resets its deliveries nor assumes it processes every row."""
        self.clock = clock
        self.provider = provider
        self.shared = shared
        self.flows_dir = flows_dir
        secret = secret_key or secrets.token_bytes(32)
        self.vault = NumberVault(secret)
        self.runner = TurnRunner(
            responder, clock, SystemTexts.load(flows_dir), first_look=notice_answers(flows_dir)
        )
        self.db_path = db_path
        # The server's key links audit entries into the server's chain (a shared database).
        self.store = open_store(
            db_path, self.vault.texts, single_lane=True, audit=AuditChain.from_secret(secret)
        )
        self._loop = asyncio.Runner()
        self._loop.run(self.store.open(serve=not shared))
        self._ids = itertools.count(1)
        # Unique per instance: a second LocalBot on the same database must not look like a
        # provider retrying the first one's messages.
        self._run = secrets.token_hex(4)
        self._last_outbox: dict[str, int] = {}
        self.failures: list[BaseException | None] = []  # processing errors, for replay

    def close(self) -> None:
        try:
            self._loop.run(self.store.close())
        finally:
            self._loop.close()

    def send(
        self, sender: str, text: str, channel: str = "sms", postback: str | None = None
    ) -> list[dict[str, Any]]:
        """One message from a resident; returns everything the bot sent in reply."""
        inbound = Inbound(
            provider=self.provider,
            channel=channel,
            provider_message_id=f"local-{self._run}-{next(self._ids)}",
            sender=sender,
            text=text,
            postback=postback,
        )
        now = self.clock.now()
        stored = self._loop.run(self.store.ingest([prepare_inbound(inbound, self.vault, now)], now))
        self._process()
        if self.shared:  # a server on the same database may have taken the message
            self._loop.run(self._until_processed(stored[0].inbox_id))
        return self.new_messages(sender)

    def notice(self, sender: str, path: Path, channel: str = "sms") -> list[dict[str, Any]]:
        """A staff notice (a notice file) delivered to this resident now; what they got."""
        route = Route(self.provider, channel)
        now = self.clock.now()
        self._loop.run(
            rehearse(
                self.store,
                self.vault,
                self.flows_dir,
                path,
                sender,
                identity_of(self.provider, sender),
                route,
                now,
            )
        )
        return self.new_messages(sender)

    async def _until_processed(self, inbox_id: int, timeout: float = 10.0) -> None:
        waited = 0.0
        while await self.store.inbox_status(inbox_id) not in {"done", "failed"}:
            if waited >= timeout:
                return  # shown later: `bot chat` checks for new messages on every line
            await asyncio.sleep(0.05)
            waited += 0.05
            await self._drain()

    def _process(self) -> None:
        """Process until nothing is pending."""
        self._loop.run(self._drain())

    async def _drain(self) -> None:
        while (batch := await self.store.process_batch(self.runner, 32)).inbox_ids:
            if batch.failed:
                self.failures.append(self.runner.last_error)

    def advance(self, sender: str, delta: timedelta) -> list[dict[str, Any]]:
        """Move a frozen clock on, firing every timer that falls due on the way, in order."""
        if not isinstance(self.clock, FrozenClock):
            raise TypeError("advance needs a FrozenClock")
        target = self.clock.now() + delta
        while True:
            due = self._loop.run(self.store.next_timer_due())
            if due is None or due > target:
                break
            if due > self.clock.now():
                self.clock.set(due)
            self._process()
        self.clock.set(target)
        self._process()
        return self.new_messages(sender)

    def new_messages(self, sender: str) -> list[dict[str, Any]]:
        resident_id = self._resident(sender)
        after = self._last_outbox.get(resident_id, 0)
        rows = self._loop.run(self.store.sent_to(resident_id, after))
        if rows:
            self._last_outbox[resident_id] = rows[-1].id
        return [row.as_dict() for row in rows]

    def conversation(self, sender: str) -> dict[str, Any] | None:
        return self._loop.run(self.store.conversation(self._resident(sender)))

    def _resident(self, sender: str) -> str:
        return self.vault.resident_id(identity_of(self.provider, sender))
