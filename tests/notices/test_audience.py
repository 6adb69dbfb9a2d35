"""Who receives a notice (the domain spec's table "Categories and who receives them"), as
the fan-out writes it: one outbox row per resident, nobody twice, the stopped skipped and
counted, the weekly cap for regular notices."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.store.records import Route
from tests.notices.helpers import (
    OPT_OUT,
    World,
    content,
    emergency,
)


@pytest.fixture
def world(location):
    w = World(location)
    w.account("tanaka", "editor")
    w.account("sato", "approver")
    yield w
    w.close()


def test_important_reaches_the_topics_subscribers_only(world: World) -> None:
    gomi = world.resident(topics=("gomi",))
    both = world.resident(topics=("gomi", "bousai"))
    other = world.resident(topics=("kosodate",))
    stopped = world.resident(topics=("gomi",), stopped=True)
    world.resident()  # texted the bot once, subscribed to nothing
    notice = world.draft(content())
    world.approve(notice)
    world.dispatch()
    assert world.recipients(notice) == {gomi, both}
    assert other not in world.recipients(notice) and stopped not in world.recipients(notice)
    status = world.status(notice)
    assert status["recipients"] == 2
    assert status["skipped"]["stopped"] == 1


def test_a_topic_stopped_is_not_a_subscription(world: World) -> None:
    kept = world.resident(topics=("gomi", "bousai"))
    left = world.resident(topics=("gomi", "bousai"))
    world.set_topics(left, ("gomi",), False)
    notice = world.draft(content())
    world.approve(notice)
    world.dispatch()
    assert world.recipients(notice) == {kept}


def test_districts_narrow_the_audience(world: World) -> None:
    south = world.resident(topics=("gomi",), district="南")
    east = world.resident(topics=("gomi",), district="東", known_by_booking=True)
    world.resident(topics=("gomi",), district="北")
    world.resident(topics=("gomi",))  # nowhere known
    notice = world.draft(content(districts=("南", "東")))
    world.approve(notice)
    world.dispatch()
    assert world.recipients(notice) == {south, east}


def test_emergency_reaches_subscribers_and_everyone_known_unless_stopped(world: World) -> None:
    subscriber = world.resident(topics=("bousai",), district="南")
    told = world.resident(district="南")  # gave the 地区 once (ごみの収集日): known there
    booked = world.resident(district="南", known_by_booking=True)  # a booking there
    elsewhere = world.resident(district="北")
    stopped = world.resident(district="南", stopped=True)
    notice = world.draft(emergency(districts=("南",)))
    world.approve(notice, by="sato")
    world.dispatch()
    assert world.recipients(notice) == {subscriber, told, booked}
    assert elsewhere not in world.recipients(notice)
    assert stopped not in world.recipients(notice)
    assert world.status(notice)["skipped"]["stopped"] == 1


def test_emergency_without_districts_reaches_every_resident_not_stopped(world: World) -> None:
    everyone = {world.resident(), world.resident(topics=("gomi",)), world.resident(district="西")}
    world.resident(stopped=True)
    notice = world.draft(emergency())
    world.approve(notice)
    world.dispatch()
    assert world.recipients(notice) == everyone


def test_booked_on_reaches_exactly_the_residents_collected_that_day(world: World) -> None:
    day = date(2026, 12, 11)
    booked = world.resident(district="中央", booked_on=day)
    world.resident(district="中央", booked_on=day + timedelta(days=7))
    world.resident(topics=("gomi",))
    notice = world.draft(
        content(
            category="important",
            booked_on=day,
            text=f"【さくら市】台風のため12月11日の粗大ごみ収集は中止します。\n{OPT_OUT}",
        )
    )
    world.approve(notice)
    world.dispatch()
    assert world.recipients(notice) == {booked}


def test_a_list_reaches_its_numbers_less_those_who_stopped(world: World) -> None:
    known = world.number()
    world.resident(known)
    stopped = world.number()
    world.resident(stopped, stopped=True)
    fresh = world.number()  # never texted the bot
    world.resident(topics=("gomi",))  # a subscriber not on the list
    notice = world.draft(content(list_file="list.csv"), numbers=(known, stopped, fresh))
    world.approve(notice)
    world.dispatch(world.dispatcher(route=Route("rcs", "rcs")))
    ids = {world.vault.resident_id(n) for n in (known, fresh)}
    assert world.recipients(notice) == ids
    # The new number became a resident, encrypted like every number, reached by the default route.
    row = next(r for r in world.rows(notice) if r["resident_id"] == world.vault.resident_id(fresh))
    assert (row["provider"], row["channel"]) == ("rcs", "rcs")
    stored = world.sql.one(
        "SELECT phone_enc FROM residents WHERE id = ?", [world.vault.resident_id(fresh)]
    )
    assert world.vault.decrypt(bytes(stored)) == fresh
    if isinstance(world.location, Path):
        assert fresh.encode() not in world.location.read_bytes()
    assert world.status(notice)["skipped"]["stopped"] == 1


def test_the_list_is_forgotten_once_the_notice_is_sent(world: World) -> None:
    numbers = (world.number(), world.number())
    notice = world.draft(content(list_file="list.csv"), numbers=numbers)
    world.approve(notice)
    world.dispatch()
    assert world.sql.one("SELECT count(*) FROM notice_lists") == 2
    world.sql("UPDATE outbox SET status = 'delivered' WHERE notice_id = ?", [notice])
    world.dispatch()
    assert world.status(notice)["state"] == "sent"
    assert world.sql.one("SELECT count(*) FROM notice_lists") == 0


def test_regular_notices_stop_at_the_weekly_cap(world: World) -> None:
    busy = world.resident(topics=("gomi",))
    fresh = world.resident(topics=("gomi",))
    regular = content(category="regular", title="ごみ通信")
    for _ in range(2):
        notice = world.draft(regular, by="tanaka")
        world.approve(notice)
        world.dispatch()
    # A third regular notice within 7 days: the resident who already had two is skipped.
    late = world.resident(topics=("gomi",))  # joined later: has had none
    third = world.draft(regular)
    world.approve(third)
    world.dispatch()
    assert world.recipients(third) == {late}
    assert world.status(third)["skipped"]["weekly_cap"] == 2
    # A week later the cap is free again.
    world.clock.advance(timedelta(days=8))
    fourth = world.draft(regular)
    world.approve(fourth)
    world.dispatch()
    assert {busy, fresh} <= world.recipients(fourth)


def test_each_resident_gets_one_row_however_often_the_fanout_runs(world: World) -> None:
    people = {world.resident(topics=("gomi",)) for _ in range(30)}
    notice = world.draft(content())
    world.approve(notice)
    world.dispatch(world.dispatcher(batch=7))
    assert world.recipients(notice) == people
    # As if a crash had lost the cursor: the same batches again add nothing.
    world.sql("UPDATE notices SET fanout_cursor = '', fanout_done = 0 WHERE id = ?", [notice])
    world.dispatch(world.dispatcher(batch=7))
    assert len(world.rows(notice)) == 30
    keys = [r["idempotency_key"] for r in world.rows(notice)]
    assert len(set(keys)) == 30


def test_the_estimate_before_approval_counts_who_would_receive_it(world: World) -> None:
    for _ in range(3):
        world.resident(topics=("gomi",))
    world.resident(topics=("gomi",), stopped=True)
    notice = world.draft(content())
    status = world.status(notice)
    assert status["state"] == "draft"
    assert (status["recipients"], status["skipped"]["stopped"]) == (3, 1)
    assert status["estimated_cost_yen"] == 3 * status["segments_per_sms"] * 3
    assert world.rows(notice) == []  # nothing is queued before approval
