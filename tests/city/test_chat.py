"""`bot chat` (issue 16): on the database `bot serve` uses unless told otherwise, so a handoff
started in chat is the staff's to see, and staff's replies come back; /help, /now and /wait
are answered locally, and /wait prints the new time."""

from __future__ import annotations

import asyncio
import builtins
import re
from collections.abc import Callable
from pathlib import Path

from bot.cli import CHAT_NUMBER, main
from bot.clock import parse_instant
from tests.foundation.helpers import ROOT

TUESDAY_10 = "2026-11-24T10:00:00+09:00"


def scripted(monkeypatch, lines: list[str | Callable[[], None]]) -> None:
    """input() answers these lines in turn (EOF after); a callable runs between lines."""
    queue = list(lines)

    def fake_input(prompt: str = "") -> str:
        print(prompt, end="")
        while queue and callable(queue[0]):
            queue.pop(0)()  # type: ignore[operator]
        if not queue:
            raise EOFError
        line = queue.pop(0)
        print(line)
        return line  # type: ignore[return-value]

    monkeypatch.setattr(builtins, "input", fake_input)


def _staff_reply(db: Path, text: str) -> None:
    """What the console does when staff answer (bot.staff.casework.reply): a reply through
    the store's handoffs, in the console's write transaction, on the case `bot handoff list`
    shows."""
    from bot.config import load_settings
    from bot.handoff import list_handoffs
    from bot.identity import TextVault
    from bot.pipeline.turns import LOCAL_PROVIDERS
    from bot.store import open_store

    texts = TextVault(load_settings(db_path=db).secret_key)  # the server's key: texts sealed

    async def reply() -> None:
        store = open_store(db, texts, single_lane=True)
        await store.open()
        try:
            (case,) = await list_handoffs(store.staff)
            resident = case["resident_id"]
            now = parse_instant(TUESDAY_10)
            await store.console.write(
                lambda work: work.handoffs.staff_reply(resident, text, now, True, LOCAL_PROVIDERS)
            )
        finally:
            await store.close()

    asyncio.run(reply())


def test_a_handoff_started_in_chat_is_on_the_serve_database(empty, monkeypatch, capsys) -> None:
    flows = str(ROOT / "flows")
    db = empty / "var" / "bot.db"
    scripted(
        monkeypatch,
        [
            "/help",
            "/now",
            "担当者と話したい",
            "書類の件で相談です",
            lambda: _staff_reply(db, "市民課の佐藤です。どの書類でしょうか。"),
            "",  # Enter on an empty line: what arrived meanwhile
            "/wait 25h",
            "/nonsense",
        ],
    )
    assert main(["chat", "--flows", flows, "--clock", TUESDAY_10]) == 0
    out = capsys.readouterr().out

    # /help lists the local commands; none of them reached the bot.
    for command in ("/help", "/now", "/wait 25h", "/quit"):
        assert command in out
    assert "/nonsense は使えません" in out
    # /now prints the bot's time; /wait prints the new one, 25 hours on.
    times = [parse_instant(t) for t in re.findall(r"時刻: (\S+)", out)]
    assert len(times) == 3, out  # the banner, /now, after /wait
    assert abs((times[1] - parse_instant(TUESDAY_10)).total_seconds()) < 60
    assert 25 * 3600 <= (times[2] - times[1]).total_seconds() < 25 * 3600 + 60
    # The staff's reply arrived in the chat on the empty line.
    assert "市民課の佐藤です。どの書類でしょうか。" in out

    # The default database is serve's: ./var/bot.db, with the same key (var/secret.key).
    assert db.exists() and (empty / "var" / "secret.key").exists()
    assert main(["handoff", "list"]) == 0
    listed = capsys.readouterr().out
    assert "書類の件で相談です" in listed
    assert CHAT_NUMBER[3:] not in listed  # never the number


def test_chat_numbers_are_simulated_residents_never_real_ones(empty, monkeypatch) -> None:
    """On the production database too: chat's +81… is not the real resident's +81…."""
    from bot.identity import NumberVault
    from bot.pipeline.intake import identity_of

    vault = NumberVault(b"k" * 32)
    number = "+819012345678"
    assert vault.resident_id(identity_of("chat", number)) != vault.resident_id(number)
    assert identity_of("chat", number) == identity_of("sim", number)


def test_memory_database_leaves_nothing_behind(empty, monkeypatch, capsys) -> None:
    scripted(monkeypatch, ["こんにちは"])
    code = main(["chat", "--flows", str(ROOT / "flows"), "--db", ":memory:"])
    assert code == 0
    assert "さくら市> " in capsys.readouterr().out
    assert list(empty.iterdir()) == []


def test_chat_outside_a_city_is_one_line(empty, monkeypatch, capsys) -> None:
    scripted(monkeypatch, [])
    assert main(["chat"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("bot: no city at ./flows")
    assert list(empty.iterdir()) == []
