"""Sending a notice (the domain spec's "Sending"): replies before notices, emergency before
the rest, quiet hours hold regular and important notices until 8:00, expiry drops what is
late, cancel stops the rest, +メッセージ first with the card and SMS otherwise — the real
delivery worker against fake providers over loopback."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.clock import TOKYO
from bot.delivery.worker import DeliveryDeps, DeliveryWorker, build_channels
from bot.notices.policy import load_policy
from bot.store.records import NoticeButton, NoticeCard, Route, SentMark
from tests.fakes.fixtures import settings_for
from tests.fakes.rcs import FakeRcs
from tests.fakes.twilio import FakeTwilio
from tests.notices.helpers import (
    ASK,
    FLOWS,
    OPT_OUT,
    World,
    content,
    emergency,
)

POLICY = load_policy(FLOWS)


@pytest.fixture
def world(location):
    w = World(location)
    w.account("tanaka", "editor")
    w.account("sato", "approver")
    yield w
    w.close()


# The fake providers serve on the world's own event loop (the worker runs there too).
@pytest.fixture
def fake_twilio(world: World):
    fake = world.run(FakeTwilio().start())
    yield fake
    world.run(fake.close())


@pytest.fixture
def fake_rcs(world: World):
    fake = world.run(FakeRcs().start())
    yield fake
    world.run(fake.close())


def deliver(world: World, cs, rounds: int = 50) -> DeliveryWorker:
    """Run the delivery worker's steps until nothing is claimed."""

    async def run() -> DeliveryWorker:
        async with aiohttp.ClientSession() as session:
            deps = DeliveryDeps(
                world.store.delivery,
                world.vault,
                world.clock,
                cs,
                held=lambda now: POLICY.held_priorities(now),
            )
            worker = DeliveryWorker(deps, build_channels(cs, session))
            for _ in range(rounds):
                if not await worker.step():
                    break
            return worker

    return world.run(run())


def claim(world: World, limit: int = 100) -> list[Any]:
    held = POLICY.held_priorities(world.now)
    return world.run(world.store.delivery.claim(["twilio"], world.now, limit, held))


def sent(world: World, rows: list[Any]) -> None:
    marks = [SentMark(r.id, f"SM{r.id:032x}", world.now) for r in rows]
    world.run(world.store.delivery.sent(marks))


def reply_row(world: World, resident: str) -> int:
    return world.reply(resident, "ご質問への回答です")


def test_replies_first_then_emergency_then_the_rest(world: World) -> None:
    people = [world.resident(topics=("gomi", "bousai")) for _ in range(3)]
    regular = world.draft(content(category="regular"))
    world.approve(regular)
    world.dispatch()
    urgent = world.draft(emergency())
    world.approve(urgent)
    world.dispatch()
    reply = reply_row(world, people[0])
    rows = claim(world)
    assert rows[0].id == reply
    order = [r.notice_id for r in rows[1:]]
    assert order == [urgent] * 3 + [regular] * 3
    assert all(r.text.startswith("【さくら市】") for r in rows[1:])


def test_quiet_hours_hold_important_and_regular_until_eight(world: World) -> None:
    world.clock.set(datetime(2026, 12, 7, 20, 50, tzinfo=TOKYO))
    people = [world.resident(topics=("gomi", "bousai")) for _ in range(2)]
    early = world.draft(content())
    world.approve(early)
    world.dispatch()  # queued at 20:50
    world.clock.set(datetime(2026, 12, 7, 22, 0, tzinfo=TOKYO))
    late = world.draft(content(title="夜に承認"))
    world.approve(late)
    world.dispatch()
    assert world.status(late)["state"] == "scheduled"
    assert world.rows(late) == []  # not fanned out at night
    assert world.status(late)["held_quiet_hours"] == 2
    assert world.status(early)["held_quiet_hours"] == 2
    urgent = world.draft(emergency())
    world.approve(urgent)
    world.dispatch()
    taken = claim(world)
    assert {r.notice_id for r in taken} == {urgent}  # emergency ignores quiet hours
    sent(world, taken)  # as the worker records them (a resident's next row waits till then)
    world.clock.set(datetime(2026, 12, 8, 7, 59, tzinfo=TOKYO))
    world.dispatch()
    assert claim(world) == []
    world.clock.set(datetime(2026, 12, 8, 8, 0, tzinfo=TOKYO))
    world.dispatch()
    assert world.status(late)["state"] == "sending"
    assert {(r.notice_id, r.resident_id) for r in claim(world)} == {
        (n, p) for n in (early, late) for p in people
    }


def test_expiry_drops_what_is_late(world: World, fake_twilio) -> None:
    for _ in range(4):
        world.resident(topics=("bousai",))
    urgent = world.draft(emergency(expires_at=world.now + timedelta(hours=1)))
    world.approve(urgent)
    world.dispatch()
    world.clock.advance(timedelta(hours=1))
    assert claim(world) == []  # past its expiry: nothing is claimed
    world.dispatch()
    status = world.status(urgent)
    assert status["state"] == "expired"
    assert status["skipped"]["expired"] == 4 and status["queued"] == 0
    deliver(world, settings_for(fake_twilio))
    assert fake_twilio.received == []


def test_a_row_claimed_before_expiry_is_not_sent_after_it(world: World, fake_twilio) -> None:
    world.resident(topics=("bousai",))
    urgent = world.draft(emergency(expires_at=world.now + timedelta(minutes=10)))
    world.approve(urgent)
    world.dispatch()
    [row] = claim(world)
    world.clock.advance(timedelta(minutes=10))

    async def send() -> None:
        async with aiohttp.ClientSession() as session:
            cs = settings_for(fake_twilio)
            deps = DeliveryDeps(world.store.delivery, world.vault, world.clock, cs)
            await DeliveryWorker(deps, build_channels(cs, session)).deliver(row)

    world.run(send())
    assert fake_twilio.received == []
    assert world.rows(urgent)[0]["status"] == "expired"


def test_cancel_stops_the_rest(world: World, fake_twilio) -> None:
    for _ in range(10):
        world.resident(topics=("bousai",))
    urgent = world.draft(emergency())
    world.approve(urgent)
    world.dispatch()
    first = claim(world, limit=3)
    assert len(first) == 3
    world.run(world.desk.cancel(urgent, world.staff["sato"], world.now))
    assert claim(world) == []  # from the cancel's commit on, nothing more is claimed
    world.dispatch()
    statuses = [r["status"] for r in world.rows(urgent)]
    assert statuses.count("cancelled") == 7 and statuses.count("sending") == 3
    status = world.status(urgent)
    assert status["state"] == "cancelled" and status["queued"] == 3


def test_a_row_in_flight_at_the_cancel_that_comes_back_is_dropped_too(
    world: World, fake_twilio
) -> None:
    """Sends in flight when a notice is cancelled go on; one of them fails and goes back
    to pending: the same dispatcher drops it on its next pass (not 'queued' for ever)."""
    for _ in range(4):
        world.resident(topics=("bousai",))
    urgent = world.draft(emergency())
    world.approve(urgent)
    dispatcher = world.dispatch()
    in_flight = claim(world, limit=2)
    world.run(world.desk.cancel(urgent, world.staff["sato"], world.now))
    world.dispatch(dispatcher)
    sent(world, in_flight[:1])
    later = world.now + timedelta(minutes=1)
    world.run(world.store.delivery.retry(in_flight[1].id, later, "429", in_doubt=False))
    world.dispatch(dispatcher)
    statuses = sorted(r["status"] for r in world.rows(urgent))
    assert statuses == ["cancelled", "cancelled", "cancelled", "sent"]
    assert world.status(urgent)["queued"] == 0


def test_residents_who_stop_after_queueing_are_skipped(world: World, fake_twilio) -> None:
    stays = world.resident(topics=("gomi",))
    stops_all = world.resident(topics=("gomi",))
    stops_topic = world.resident(topics=("gomi",))
    notice = world.draft(content())
    world.approve(notice)
    world.dispatch()
    world.stop_all(stops_all)
    world.set_topics(stops_topic, ("gomi",), False)
    deliver(world, settings_for(fake_twilio))
    to = {r.data["To"] for r in fake_twilio.delivered()}
    assert len(to) == 1 and world.vault.resident_id(to.pop()) == stays
    assert world.status(notice)["skipped"]["stopped"] == 2


def test_sms_text_exactly_as_approved(world: World, fake_twilio) -> None:
    number = world.number()
    world.resident(number, topics=("bousai",))
    notice = world.draft(emergency(ask=ASK))
    world.approve(notice)
    world.dispatch()
    deliver(world, settings_for(fake_twilio))
    [sent] = fake_twilio.delivered()
    expected = world.run(world.desk.get(notice)).rendering.sms_text
    assert sent.data["Body"] == expected and sent.data["To"] == number
    assert expected.endswith("1. 無事です\n2. 支援が必要です")
    status = world.status(notice)
    assert (status["sent"], status["queued"]) == (1, 0)


def test_rcs_first_with_the_card_and_sms_otherwise(world: World, fake_twilio, fake_rcs) -> None:
    rich_phone, plain_phone = world.number(), world.number()
    fake_rcs.capable.add(rich_phone)
    for number in (rich_phone, plain_phone):
        world.resident(number, topics=("bousai",), provider="rcs", channel="rcs")
    card = NoticeCard(
        "避難所を開設しました",
        "南中学校・東公民館",
        "shelter.png",
        (
            NoticeButton("避難所の一覧", url="https://www.city.sakura.example.jp/bousai/"),
            NoticeButton("危機管理課に電話", dial="012-345-6770"),
            NoticeButton("支援が必要です", reply="支援が必要です"),
        ),
    )
    from bot.notices.desk import Draft

    png = ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    notice = world.run(
        world.desk.create(
            Draft(emergency(card=card, ask=ASK), png), world.staff["tanaka"], world.now
        )
    )
    world.approve(notice)
    world.dispatch(world.dispatcher(route=Route("rcs", "rcs")))
    deliver(world, settings_for(fake_twilio, rcs=fake_rcs))
    [rich] = fake_rcs.accepted()
    message = rich["body"]["contentMessage"]
    content_ = message["richCard"]["standaloneCard"]["cardContent"]
    assert content_["title"] == "避難所を開設しました"
    assert content_["description"].startswith("南中学校・東公民館\n\n【さくら市】")
    assert content_["media"]["contentInfo"]["fileUrl"] == (
        f"https://bot.city.example.jp/notices/{notice}/image"
    )
    actions = content_["suggestions"]
    assert (
        actions[0]["action"]["openUrlAction"]["url"] == "https://www.city.sakura.example.jp/bousai/"
    )
    assert actions[1]["action"]["dialAction"]["phoneNumber"] == "+81123456770"
    assert actions[2]["reply"]["postbackData"] == "choice:支援が必要です"
    assert [c["reply"]["text"] for c in message["suggestions"]] == ["無事です", "支援が必要です"]
    sms = world.run(world.desk.get(notice)).rendering.sms_text
    assert message["fallback"] == sms
    [plain] = fake_twilio.delivered()
    assert plain.data["To"] == plain_phone and plain.data["Body"] == sms


def test_a_test_send_goes_at_once_and_is_not_counted(world: World, fake_twilio) -> None:
    world.clock.set(datetime(2026, 12, 7, 23, 0, tzinfo=TOKYO))  # quiet hours
    world.resident(topics=("gomi",))
    notice = world.draft(content())
    staff_phone = "+819099998888"
    world.run(
        world.desk.test_send(
            notice, staff_phone, world.staff["tanaka"], world.now, Route("twilio", "sms"),
            frozenset(),
        )
    )  # fmt: skip
    deliver(world, settings_for(fake_twilio))
    [sent] = fake_twilio.delivered()
    assert sent.data["To"] == staff_phone
    assert sent.data["Body"] == world.run(world.desk.get(notice)).rendering.sms_text
    status = world.status(notice)
    assert status["state"] == "draft" and status["sent"] == 0
    assert OPT_OUT in sent.data["Body"]
