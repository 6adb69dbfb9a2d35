"""`bot chat`: a resident's conversation in the terminal, on the database `bot serve` uses
(unless `--db` says otherwise), so a handoff started here is in the staff console and staff's
replies arrive here. The clock is the bot's: it runs in real time from `--clock`, and
`/wait` moves it on, firing every timer that falls due on the way."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.city import build_responder
from bot.clock import Clock, FrozenClock
from bot.config import Settings
from bot.local import LocalBot
from bot.replay.runner import render_sent
from bot.replay.spec import parse_wait


class Chat:
    def __init__(
        self, settings: Settings, sender: str, channel: str, start: datetime | None = None
    ) -> None:
        self.sender = sender
        self.channel = channel
        self._real = Clock()
        self._offset = (start - self._real.now()) if start else timedelta()
        self.clock = FrozenClock(self._real.now() + self._offset)
        flows = settings.flows_dir
        shared = str(settings.db_path) != ":memory:"
        if shared:
            settings.db_path.parent.mkdir(parents=True, exist_ok=True)
        responder = build_responder(flows, self.clock, dictionaries=settings.dictionaries_dir)
        self.bot = LocalBot(
            responder,
            self.clock,
            flows,
            settings.db_path,
            provider="chat",
            secret_key=settings.secret_key,
            shared=shared,
        )
        self.bot.new_messages(sender)  # what was sent before this session is not shown again

    def _tick(self) -> None:
        self.clock.set(self._real.now() + self._offset)

    def now(self) -> str:
        self._tick()
        return self.clock.now().isoformat(timespec="seconds")

    def say(self, text: str) -> list[dict[str, Any]]:
        self._tick()
        return self.bot.send(self.sender, text, self.channel)

    def wait(self, amount: str) -> list[dict[str, Any]]:
        """Move the clock on (30s, 10m, 25h, 2d): due timers fire in order."""
        delta = parse_wait("chat", 1, amount)
        self._tick()
        self._offset += delta
        return self.bot.advance(self.sender, delta)

    def notice(self, path: Path) -> list[dict[str, Any]]:
        """A staff notice file delivered to this resident now (a rehearsal of its `ask`)."""
        self._tick()
        return self.bot.notice(self.sender, path, self.channel)

    def check(self) -> list[dict[str, Any]]:
        """Anything sent since (staff's replies from the console)."""
        return self.bot.new_messages(self.sender)

    def render(self, sent: list[dict[str, Any]]) -> str:
        text = render_sent(sent, self.channel)
        lines = [f"さくら市> {text}" if text else "（返信なし）"]
        if self.channel == "rcs":
            chips = [s for m in sent for s in m.get("suggestions", [])]
            if chips:
                lines.append("  [" + "] [".join(chips) + "]")
        return "\n".join(lines)

    def close(self) -> None:
        self.bot.close()
