"""The whole bot in-process, without HTTP: used by `bot replay` and `bot chat`.

Messages go through the same intake and processor as the server (real SQLite file,
same transactions); only the transport differs.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import timedelta
from pathlib import Path

from bot.channels.base import Inbound
from bot.clock import Clock, FrozenClock
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.pipeline.processor import Processor
from bot.store import migrate, open_database
from bot.store import queries as q
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
    ) -> None:
        self.clock = clock
        self.provider = provider
        self.vault = NumberVault(secrets.token_bytes(32))
        self.db = open_database(db_path)
        migrate(self.db)
        self.texts = SystemTexts.load(flows_dir)
        self.processor = Processor(self.db, responder, clock, self.texts)
        self._ids = itertools.count(1)
        # Unique per instance: a second LocalBot on the same database must not look like a
        # provider retrying the first one's messages.
        self._run = secrets.token_hex(4)
        self._last_outbox: dict[str, int] = {}
        self.failures: list[BaseException | None] = []  # processing errors, for replay

    def close(self) -> None:
        self.db.close()

    def send(
        self, sender: str, text: str, channel: str = "sms", postback: str | None = None
    ) -> list[dict]:
        """One message from a resident; returns everything the bot sent in reply."""
        inbound = Inbound(
            provider=self.provider,
            channel=channel,
            provider_message_id=f"local-{self._run}-{next(self._ids)}",
            sender=sender,
            text=text,
            postback=postback,
        )
        self.processor.ingest([prepare_inbound(inbound, self.vault, self.clock.now())])
        self._process()
        return self.new_messages(sender)

    def _process(self) -> None:
        result = self.processor.process_all()
        if result.failed:
            self.failures.append(self.processor.last_error)

    def advance(self, sender: str, delta: timedelta) -> list[dict]:
        """Move a frozen clock on, firing every timer that falls due on the way, in order."""
        if not isinstance(self.clock, FrozenClock):
            raise TypeError("advance needs a FrozenClock")
        target = self.clock.now() + delta
        while True:
            due = q.next_timer_due(self.db)
            if due is None or due > target:
                break
            if due > self.clock.now():
                self.clock.set(due)
            self._process()
        self.clock.set(target)
        self._process()
        return self.new_messages(sender)

    def new_messages(self, sender: str) -> list[dict]:
        resident_id = self.vault.resident_id(sender)
        rows = q.outbox_for_resident(self.db, resident_id, self._last_outbox.get(resident_id, 0))
        if rows:
            self._last_outbox[resident_id] = rows[-1]["id"]
        return rows

    def conversation(self, sender: str) -> dict | None:
        return q.load_conversation(self.db, self.vault.resident_id(sender))
