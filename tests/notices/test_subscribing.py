"""Subscribing by text keeps what the domain spec allows and nothing more: the topics, the
地区 and 町名 (never the address), and the time and channel of each consent and each stop
(evidence of consent), never the message's text."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

from bot.city import build_responder
from bot.clock import TOKYO, FrozenClock
from bot.local import LocalBot
from tests.notices.helpers import FLOWS

NUMBER = "+819012349876"


@pytest.fixture(scope="module")
def responder_clock():
    clock = FrozenClock(datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO))
    return build_responder(FLOWS, clock), clock


def test_consents_and_place_are_kept_not_the_texts(tmp_path, responder_clock) -> None:
    responder, clock = responder_clock
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO))
    bot = LocalBot(responder, clock, FLOWS, tmp_path / "bot.db")
    try:
        bot.send(NUMBER, "お知らせ登録")
        bot.send(NUMBER, "1と2")
        sent = bot.send(NUMBER, "さくら市桜台3丁目5-2です")
        assert "地区：桜台地区（桜台）" in sent[0]["text"]
        clock.advance(timedelta(hours=1))
        bot.send(NUMBER, "ごみのお知らせを停止")
        clock.advance(timedelta(hours=1))
        bot.send(NUMBER, "停止")
        clock.advance(timedelta(hours=1))
        bot.send(NUMBER, "再開")
    finally:
        bot.close()
    db = sqlite3.connect(tmp_path / "bot.db")
    try:
        rid = bot.vault.resident_id(NUMBER)
        assert db.execute(
            "SELECT district, town FROM residents WHERE id = ?", [rid]
        ).fetchall() == [("桜台", "桜台")]
        consents = db.execute(
            "SELECT topic, action, via, at FROM notice_consents WHERE resident_id = ? ORDER BY id",
            [rid],
        ).fetchall()
        assert [c[:3] for c in consents] == [
            ("bousai", "subscribe", "sms"),
            ("gomi", "subscribe", "sms"),
            ("gomi", "stop", "sms"),
            (None, "stop", "sms"),
            (None, "resume", "sms"),
        ]
        times = [datetime.fromisoformat(c[3]).astimezone(TOKYO).hour for c in consents]
        assert times == [10, 10, 11, 12, 13]
        topics = db.execute(
            "SELECT topic, active FROM notice_subscriptions WHERE resident_id = ? ORDER BY topic",
            [rid],
        ).fetchall()
        assert topics == [("bousai", 1), ("gomi", 0)]
        # Only the 地区 and 町名: the house number is in no table but the resident's own
        # message (kept as messages are, for BOT_RETENTION_DAYS).
        for table in ("residents", "notice_subscriptions", "notice_consents"):
            dump = "".join(str(row) for row in db.execute(f"SELECT * FROM {table}"))
            assert "3丁目" not in dump and "5-2" not in dump
    finally:
        db.close()
