"""The day-before reminder says 「明日は」: it goes out only on the day before collection and
before reminder.latest (21:00); a late one is dropped, never sent stale."""

from datetime import date, datetime

import pytest
import sqlite_utils

from bot.clock import TOKYO
from bot.domain import actions, bookings
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line
from bot.engine.actions import ActionContext, Effects
from bot.store.sqlite.store import SqliteTurnServices
from bot.turn import ResidentContext, Turn
from tests.domain.stores import bookings_store

BOOKED_AT = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)
FRIDAY = date(2026, 12, 4)  # 桜台 collection day


@pytest.fixture
def booked():
    db = sqlite_utils.Database(memory=True)
    booking = bookings.create(
        bookings_store(db),
        CollectionCalendar.load(),
        resident_id="r1",
        district="桜台",
        town="桜台",
        day=FRIDAY,
        lines=[Line("椅子", 2, 300)],
        now=BOOKED_AT,
        source_ref="r1:test",
    )
    return db, booking.receipt


def fire(db, receipt: str, now: datetime) -> list[str]:
    payload = {
        "receipt": receipt,
        "date": FRIDAY.isoformat(),
        "notice": "明日は粗大ごみの収集日です",
    }
    turn = Turn("timer", "r1", "sms", now, timer=f"{actions.REMINDER}:{receipt}", payload=payload)
    effects = Effects()
    services = SqliteTurnServices(db)
    ctx = ActionContext({}, now, services, ResidentContext("r1"), turn, {}, "", "", effects)
    actions.send_reminder(ctx)
    return [reply.text for reply in effects.replies]


@pytest.mark.parametrize(
    ("now", "sent"),
    [
        (datetime(2026, 12, 3, 18, 0), True),  # on time
        (datetime(2026, 12, 3, 20, 59), True),  # late, still the evening before
        (datetime(2026, 12, 3, 21, 0), False),  # quiet hours would hold it until morning
        (datetime(2026, 12, 4, 7, 0), False),  # server was down: collection morning
        (datetime(2026, 12, 5, 18, 0), False),  # long after
        (datetime(2026, 12, 2, 18, 0), False),  # not "tomorrow" yet
    ],
)
def test_reminder_only_while_tomorrow_is_true(booked, now, sent):
    db, receipt = booked
    replies = fire(db, receipt, now.replace(tzinfo=TOKYO))
    assert bool(replies) is sent
