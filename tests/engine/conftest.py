"""Fixtures for engine tests: a tiny fake NLU, test actions and a chat helper."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from bot.clock import FrozenClock, parse_instant
from bot.engine import FlowResponder
from bot.nlu.understanding import ItemMention, Understanding
from bot.store.services import TurnServices
from bot.turn import ResidentContext, Turn, TurnResult
from tests.engine.city import flow_responder, register_action

FLOWS = Path(__file__).parent / "flows"
# The engine tests' flows call no action that stores anything.
NO_STORAGE = cast(TurnServices, None)
INTENTS = {
    "やめる": "cancel",
    "ヘルプ": "help",
    "担当者": "operator",
    "最初から": "restart",
    "粗大ごみ": "bulky_waste",
    "保育園": "childcare_vacancy",
}


class FakeNlu:
    """Just enough understanding for the test flows (the engine's typed input, filled by
    fixed rules instead of Sudachi)."""

    def key(self, text: str) -> str:
        return text.strip().lower()

    def understand(
        self, text: str, now: datetime, context: str | None = None, recent: str | None = None
    ) -> Understanding:
        intent = None
        for word, name in INTENTS.items():
            if word in text:
                intent = name
        m = re.search(r"(\d+)/(\d+)/(\d+)", text)
        items = [ItemMention(name) for name in ("ソファー", "椅子", "机", "箪笥") if name in text]
        if "テレビ" in text:
            items.append(ItemMention("テレビ", kind="not_accepted"))
        return Understanding(
            text=text,
            key=self.key(text),
            intent=intent,
            yes_no="yes"
            if text in ("はい", "うん")
            else "no"
            if text in ("いいえ", "いや")
            else None,
            choice=int(text) if re.fullmatch(r"\d", text) else None,
            numbers=tuple(int(n) for n in re.findall(r"\d+", text)),
            dates=(date(int(m[1]), int(m[2]), int(m[3])),) if m else (),
            items=tuple(items),
            district="桜台" if "桜台" in text else None,
            standalone=text.strip() in INTENTS,  # the intent word and nothing else
        )


@register_action("test_find_days")
def _find_days(ctx: Any, *, limit: int) -> list[str]:
    if ctx.slots.get("district") == "桜台":
        return [(ctx.today + timedelta(days=d)).isoformat() for d in (3, 10, 17)][:limit]
    return []


@register_action("test_total")
def _total(ctx: Any) -> int:
    fees = ctx.data["fees"]["fees"]
    return sum(fees.get(i["name"], 500) for i in ctx.slots["items"])


@register_action("test_quote", returns=("total", "count"))
def _quote(ctx: Any) -> dict[str, int]:
    return {"total": 1000, "count": 2}


@register_action("test_book")
def _book(ctx: Any) -> str:
    ctx.note_for_staff("booked")
    ctx.timer("reminder", ctx.now + timedelta(days=1), {"n": 1})
    return "ABCD2345"


class Chat:
    def __init__(self, responder: FlowResponder, clock: FrozenClock, channel: str = "sms") -> None:
        self.responder = responder
        self.clock = clock
        self.channel = channel
        self.conversation: dict[str, Any] | None = None
        self.last: TurnResult | None = None
        self.timers: dict[str, Any] = {}

    def _run(self, turn: Turn) -> list[str]:
        result = self.responder.respond(turn, self.conversation, ResidentContext("r1"), NO_STORAGE)
        self.conversation = result.conversation
        self.last = result
        self.timers.update({t.name: t for t in result.timers})
        return [r.text for r in result.replies]

    def say(self, text: str) -> str:
        turn = Turn("message", "r1", self.channel, self.clock.now(), text=text)
        return "\n".join(self._run(turn))

    def timer(self, name: str) -> str:
        timer = self.timers[name]
        self.clock.set(timer.due_at)
        turn = Turn(
            "timer", "r1", self.channel, self.clock.now(), timer=name, payload=timer.payload
        )
        return "\n".join(self._run(turn))

    @property
    def flow(self) -> str | None:
        return self.conversation["flow"] if self.conversation else None

    @property
    def state(self) -> str | None:
        return self.conversation["state"] if self.conversation else None

    @property
    def slots(self) -> dict[str, Any]:
        return self.conversation["slots"] if self.conversation else {}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(parse_instant("2026-11-24T10:00:00+09:00"))


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(FLOWS, target)
    return target


@pytest.fixture
def responder(flows_dir: Path, clock: FrozenClock) -> FlowResponder:
    return flow_responder(flows_dir, FakeNlu(), clock)


@pytest.fixture
def chat(responder: FlowResponder, clock: FrozenClock) -> Chat:
    return Chat(responder, clock)
