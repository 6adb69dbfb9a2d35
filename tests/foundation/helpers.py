"""Shared pieces for foundation tests: a recording responder and settings for a tmp DB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.config import Settings
from bot.turn import Reply, ResidentContext, TimerRequest, Turn, TurnResult

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"test-secret-key-with-enough-length-0123456789"


class RecordingResponder:
    """A stand-in for the flow engine that echoes and records every turn it is given.
    `remind` schedules a notice timer; `boom` raises, to exercise failure handling;
    `poison` stores a conversation that makes every later message raise; a timer named
    `explode` raises."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []

    def respond(self, turn: Turn, conversation, resident: ResidentContext, services) -> TurnResult:
        self.turns.append(turn)
        count = (conversation or {}).get("count", 0) + 1
        state = {"count": count}
        if turn.kind == "timer":
            if turn.timer == "explode":
                raise RuntimeError("timer failure")
            return TurnResult(state, [Reply(f"reminder {turn.timer}", kind="notice")])
        if turn.text == "boom" or (conversation or {}).get("poison"):
            raise RuntimeError("responder failure")
        if turn.text == "poison":
            return TurnResult({**state, "poison": True}, [Reply(f"echo {count}: poison")])
        timers = []
        if turn.text == "remind":
            timers.append(TimerRequest("nudge", turn.received_at + timedelta(hours=1)))
        return TurnResult(state, [Reply(f"echo {count}: {turn.text}")], timers=timers)


def settings_for(tmp_path: Path, **changes) -> Settings:
    base = Settings(
        db_path=tmp_path / "bot.db",
        flows_dir=ROOT / "flows",
        secret_key=SECRET,
        simulator=True,
        sim_wait_seconds=5.0,
    )
    return base.with_overrides(**changes)


class StoreHarness:
    """A store (SQLite file or PostgreSQL URL) and the turn runner, driven synchronously (as
    LocalBot drives them), with `sql` for the tests' own reads and writes beside it
    (tests.support.db: the same SQL on either backend)."""

    def __init__(self, location, responder, clock) -> None:
        import asyncio

        from bot.audit import AuditChain
        from bot.identity import TextVault
        from bot.pipeline.turns import TurnRunner
        from bot.store import open_store
        from bot.system_texts import SystemTexts
        from tests.support.db import Peek

        self.clock = clock
        self.location = location
        self.runner = TurnRunner(responder, clock, SystemTexts.load(ROOT / "flows"))
        self.store = open_store(
            location, TextVault(SECRET), single_lane=True, audit=AuditChain.from_secret(SECRET)
        )
        self.loop = asyncio.Runner()
        self.loop.run(self.store.open(serve=True))
        self.sql = Peek(location)

    def run(self, coroutine):
        return self.loop.run(coroutine)

    def ingest(self, rows):
        return self.loop.run(self.store.ingest(rows, self.clock.now()))

    def process_batch(self, limit: int = 32):
        return self.loop.run(self.store.process_batch(self.runner, limit))

    def process_all(self, limit: int = 32) -> list[int]:
        done: list[int] = []
        while batch := self.process_batch(limit).inbox_ids:
            done += batch
        return done

    def sent_to(self, resident_id: str):
        return self.loop.run(self.store.sent_to(resident_id))

    def close(self) -> None:
        self.sql.close()
        self.loop.run(self.store.close())
        self.loop.close()
