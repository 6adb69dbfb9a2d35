"""The store contract, notices as a turn sees them, on every backend: subscriptions and the
consents kept as evidence commit with the turn (or not at all), an urgent case opened from a
turn, no open question where no notice was sent, and a staff notice kept (tests/notices
run the whole of staff notices on both backends)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.channels.base import Inbound
from bot.clock import TOKYO, FrozenClock
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.store.records import NewAuditEntry, NewNotice, NoticeContent, NoticeRendering, NoticeRule
from bot.turn import Reply, TurnResult
from tests.foundation.helpers import SECRET, StoreHarness

NUMBER = "+819011113333"


class Subscriber:
    """Subscribes to what the message names; 「停止」 stops everything; 「急ぎ」 opens a case;
    「失敗」 subscribes and then fails (nothing of the turn may stay)."""

    def respond(self, turn, conversation, resident, services) -> TurnResult:
        now, rid = turn.received_at, turn.resident
        if turn.text == "停止":
            services.notices.consent(rid, None, "stop", turn.channel, now)
            return TurnResult(
                None, [Reply("停止しました")], resident_updates={"notices_enabled": False}
            )
        if turn.text == "急ぎ":
            services.cases.open(rid, now, "notice", urgent=True)
            return TurnResult(None, [Reply("担当者へ")])
        changed = services.notices.set_topics(rid, turn.text.split(","), True, turn.channel, now)
        if turn.text.startswith("失敗"):
            raise RuntimeError("after writing")
        ask = services.notices.open_ask(rid, now, 72)
        active = [s.topic for s in services.notices.subscriptions(rid) if s.active]
        return TurnResult(None, [Reply(f"{changed} {active} {ask}")])


@pytest.fixture
def env(location):
    clock = FrozenClock(datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO))
    harness = StoreHarness(location, Subscriber(), clock)
    vault = NumberVault(SECRET)
    ids = iter(range(1, 100))

    def send(text: str) -> list[str]:
        inbound = Inbound("twilio", "sms", f"SM{next(ids):032x}", NUMBER, text)
        harness.ingest([prepare_inbound(inbound, vault, clock.now())])
        harness.process_all()
        return [m.text for m in harness.sent_to(vault.resident_id(NUMBER))]

    yield harness, send, vault.resident_id(NUMBER)
    harness.close()


def test_subscriptions_and_consents_commit_with_the_turn(env) -> None:
    harness, send, rid = env
    assert send("bousai,gomi")[-1] == "['bousai', 'gomi'] ['bousai', 'gomi'] None"
    assert send("gomi,kenko")[-1] == "['kenko'] ['bousai', 'gomi', 'kenko'] None"
    send("失敗,shisei")  # the turn fails: its subscription is rolled back with it
    send("停止")
    rows = harness.sql(
        "SELECT topic, action, via FROM notice_consents WHERE resident_id = ? ORDER BY id", [rid]
    )
    assert rows == [
        ("bousai", "subscribe", "sms"),
        ("gomi", "subscribe", "sms"),
        ("kenko", "subscribe", "sms"),
        (None, "stop", "sms"),
    ]
    topics = harness.sql("SELECT topic FROM notice_subscriptions WHERE resident_id = ?", [rid])
    assert sorted(t for (t,) in topics) == ["bousai", "gomi", "kenko"]
    assert harness.sql("SELECT notices_enabled FROM residents WHERE id = ?", [rid]) in (
        [(0,)],
        [(False,)],
    )


def test_a_turn_opens_an_urgent_case(env) -> None:
    harness, send, rid = env
    send("急ぎ")
    [(opened_by, urgent)] = harness.sql(
        "SELECT opened_by, urgent FROM staff_cases WHERE resident_id = ?", [rid]
    )
    assert opened_by == "notice" and bool(urgent)


def test_a_staff_notice_is_kept(env) -> None:
    harness, _, _ = env
    now = harness.clock.now()
    new = NewNotice(
        NoticeContent("t", "emergency", "bousai", "【さくら市】テスト"),
        NoticeRendering("【さくら市】テスト", "【さくら市】テスト", (), 1),
        "tanaka",
        now,
    )
    entry = NewAuditEntry(now, "tanaka", "notice.drafted")
    notice_id = harness.run(
        harness.store.notices.create(new, NoticeRule("subscribers_and_known", 1), entry)
    )
    assert [n.id for n in harness.run(harness.store.notices.newest(10))] == [notice_id]
