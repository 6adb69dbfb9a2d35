"""One machine per flow version, and never residents' models piling up on it."""

from datetime import datetime, timedelta
from pathlib import Path

from bot.city import build_responder
from bot.clock import TOKYO, FrozenClock
from bot.local import LocalBot

ROOT = Path(__file__).resolve().parents[2]


def test_fifty_residents_leave_only_the_cursor_attached(tmp_path):
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))
    responder = build_responder(ROOT / "flows", clock)
    bot = LocalBot(responder, clock, ROOT / "flows", tmp_path / "bot.db")
    machine = responder.flowset.flows["bulky_waste"].machine
    try:
        for n in range(50):
            sender = f"+8190555{n:05d}"
            bot.send(sender, "ソファー2つ捨てたい")
            bot.send(sender, "1")
            clock.advance(timedelta(seconds=1))
        assert bot.conversation("+819055500049")["flow"] == "bulky_waste"
    finally:
        bot.close()
    # The same machine served all fifty; only its own cursor model is attached to it.
    assert responder.flowset.flows["bulky_waste"].machine is machine
    assert machine.models == [machine.bot_cursor]
    assert machine.bot_cursor.names is None  # unbound between events
