"""Micro-benchmark: engine cost per message (python -m bot.bench.engine). Reports; never asserts."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, cast

from bot.clock import FrozenClock, parse_instant
from bot.domain import build_domain
from bot.engine import FlowResponder
from bot.store.services import TurnServices
from bot.turn import ResidentContext, Turn


class _Und:
    def __init__(self, text: str, **kw: Any) -> None:
        self.text, self.key, self.intent = text, text, None
        self.dates: list[Any] = []
        self.items: list[Any] = []
        self.numbers: list[int] = []
        self.yes_no = self.district = self.town = self.choice = self.rule = None
        self.__dict__.update(kw)


class _PreparsedNlu:
    """Returns canned understandings so only the engine is timed (not Sudachi)."""

    def key(self, text: str) -> str:
        return text

    def understand(self, text: str, now: Any, context: Any = None) -> _Und:
        if text in ("ヘルプ", "メニュー"):
            return _Und(text, intent="help")
        if text.isdigit():
            return _Und(text, choice=int(text))
        return _Und(text)


def main(argv: list[str]) -> int:
    flows = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "flows"
    clock = FrozenClock(parse_instant("2026-11-24T10:00:00+09:00"))
    responder = FlowResponder(flows, _PreparsedNlu(), clock, build_domain(flows))
    no_storage = cast(TurnServices, None)  # the scripted turns call no storing action
    resident = ResidentContext("bench")
    # a cycle of turns through the shipped menus: start fallback, miss, go to help, exit
    script = ["こんにちは", "メニュー", "ヘルプ", "やめる"]
    n = 5000
    conv = None
    start = time.perf_counter()
    for i in range(n):
        text = script[i % len(script)]
        turn = Turn("message", "bench", "sms", clock.now(), text=text)
        conv = responder.respond(turn, conv, resident, no_storage).conversation
    elapsed = time.perf_counter() - start
    print(f"{elapsed / n * 1e6:.1f} µs per message ({n} messages, engine only, canned NLU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
