"""The simulator as a staff tool (issue 16), in a real headless Chromium against the real app:
the staff panel (flow, state and slots beside the phone), a new resident, the bot's clock
moved on with due timers firing, the transcript kept across reloads, times on every message,
notices shown as they arrive and apart from replies. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.app import PIPELINE
from bot.clock import TOKYO, FrozenClock
from bot.turn import Reply, TimerRequest, TurnResult
from tests.web.test_sim_page import E164, WAIT_MS, open_sim, send_typed
from tests.web.test_sim_page import chromium as chromium
from tests.web.test_sim_page import serve as serve

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
REMINDER = "【さくら市】明日は粗大ごみの収集日です。朝8時までにお出しください。"
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)

pytestmark = pytest.mark.asyncio(loop_scope="module")


class ReminderResponder:
    """「リマインド」 books a reminder two hours on; the timer's turn sends it as a notice."""

    def respond(self, turn, conversation, resident, services) -> TurnResult:
        if turn.kind == "timer":
            return TurnResult(None, [Reply(REMINDER, kind="notice")])
        timers = []
        if turn.text == "リマインド":
            timers.append(TimerRequest("remind", turn.received_at + timedelta(hours=2)))
        state = {"flow": "demo", "state": "asked", "slots": {"said": turn.text}, "version": 1}
        return TurnResult(state, [Reply(f"「{turn.text}」を受け付けました")], timers=timers)


@pytest_asyncio.fixture(loop_scope="module")
async def wide(chromium):
    """A desktop-sized window: the panel sits beside the phone."""
    context = await chromium.new_context(viewport={"width": 1100, "height": 860}, locale="ja-JP")
    context.set_default_timeout(WAIT_MS)
    try:
        yield context
    finally:
        await context.close()


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def http_json(method: str, url: str, **kwargs) -> dict:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kwargs) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def stamp_of(at: str) -> str:
    """What the page prints for a time: month/day hour:minute, Asia/Tokyo."""
    when = datetime.fromisoformat(at).astimezone(TOKYO)
    return f"{when.month}/{when.day} {when:%H:%M}"


async def test_the_panel_shows_flow_state_and_slots_of_the_real_flows(serve, wide) -> None:
    from playwright.async_api import expect

    server = await serve()  # the real responder: the shipped flows and Sudachi
    page, errors = await open_sim(wide, server)
    await expect(page.locator("#panel")).to_be_visible()
    await expect(page.locator("#state-flow")).to_have_text("（なし）")
    await send_typed(page, "粗大ごみを出したい")
    await expect(page.locator(".bubble.bot")).to_have_count(1)
    await expect(page.locator("#state-flow")).to_have_text("bulky_waste")
    number = await page.locator("#number").inner_text()
    state = await http_json("GET", f"{server.url}/sim/state", params={"from": number})
    await expect(page.locator("#state-state")).to_have_text(state["state"])
    await send_typed(page, "ソファー")
    await expect(page.locator(".bubble.bot")).to_have_count(2)
    state = await http_json("GET", f"{server.url}/sim/state", params={"from": number})
    assert state["flow"] == "bulky_waste" and state["slots"], state
    await expect(page.locator("#state-state")).to_have_text(state["state"])
    cells = page.locator("#state-slots td:first-child")
    await expect(cells).to_have_text(list(state["slots"]))
    await shot(page, "sim-panel-state")
    assert errors == []


async def test_a_new_resident_starts_afresh(serve, wide) -> None:
    from playwright.async_api import expect

    server = await serve(ReminderResponder())
    page, errors = await open_sim(wide, server)
    first = await page.locator("#number").inner_text()
    await send_typed(page, "こんにちは")
    await expect(page.locator("#state-flow")).to_have_text("demo")
    await page.click("#reset")
    await expect(page.locator("#number")).not_to_have_text(first)
    await expect(page.locator("#number")).to_have_text(E164)
    await expect(page.locator(".bubble")).to_have_count(0)
    await expect(page.locator("#state-flow")).to_have_text("（なし）")
    # The new number is a new resident to the server too, and stays after a reload.
    second = await page.locator("#number").inner_text()
    await send_typed(page, "はじめまして")
    await expect(page.locator(".bubble.bot")).to_have_text(["「はじめまして」を受け付けました"])
    await page.reload()
    await expect(page.locator("#number")).to_have_text(second)
    await expect(page.locator(".bubble.me")).to_have_text(["はじめまして"])
    assert errors == []


async def test_the_clock_moves_on_and_due_reminders_arrive_as_notices(serve, wide) -> None:
    from playwright.async_api import expect

    clock = FrozenClock(TUESDAY_10)
    server = await serve(ReminderResponder(), clock=clock)
    page, errors = await open_sim(wide, server)
    await expect(page.locator("#clock-now")).to_contain_text("2026/11/24(火) 10:00:00")
    await send_typed(page, "リマインド")
    await expect(page.locator(".bubble.bot")).to_have_text(["「リマインド」を受け付けました"])

    await page.click("[data-advance='1h']")  # not yet due: nothing arrives
    await expect(page.locator("#clock-status")).to_contain_text("1h 進めました")
    await expect(page.locator("#clock-now")).to_contain_text("11:00:00")
    await expect(page.locator(".bubble.notice")).to_have_count(0)

    await page.fill("#advance", "90m")
    await page.click("#advance-go")
    notice = page.locator(".bubble.notice")
    await expect(notice).to_have_text([REMINDER])
    await expect(page.locator("#clock-now")).to_contain_text("12:30:00")
    assert clock.now() == TUESDAY_10 + timedelta(minutes=150)
    # The reminder fired at its own time (12:00), not at the end of the move; the page shows it.
    number = await page.locator("#number").inner_text()
    answer = await http_json("GET", f"{server.url}/sim/messages", params={"from": number})
    messages = answer["messages"]
    assert [m["kind"] for m in messages] == ["reply", "notice"]
    assert messages[1]["at"] == "2026-11-24T12:00:00+09:00"
    stamps = page.locator("time.stamp.from-bot")
    await expect(stamps).to_have_text([stamp_of(m["at"]) for m in messages])
    # A notice looks different from a reply: its own colours and the お知らせ label.
    label = await notice.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"お知らせ"'
    colours = await page.evaluate(
        """() => [...document.querySelectorAll('.bubble.bot')]
             .map(e => getComputedStyle(e).backgroundColor)"""
    )
    assert colours[0] != colours[1]
    await shot(page, "sim-clock-notice")
    assert errors == []


async def test_the_transcript_survives_a_reload_and_what_came_meanwhile_shows(
    serve,
    wide,
) -> None:
    from playwright.async_api import expect

    clock = FrozenClock(TUESDAY_10)
    server = await serve(ReminderResponder(), clock=clock)
    page, errors = await open_sim(wide, server)
    number = await page.locator("#number").inner_text()
    await send_typed(page, "こんにちは")
    await send_typed(page, "リマインド")
    await expect(page.locator(".bubble.bot")).to_have_count(2)
    before = await page.locator("#log").inner_text()
    await page.close()

    # While the page is closed, time moves on and the reminder is sent.
    moved = await http_json("POST", f"{server.url}/sim/clock", json={"advance": "3h"})
    assert moved["turns"] == 1

    page, errors = await open_sim(wide, server)
    await expect(page.locator("#number")).to_have_text(number)
    await expect(page.locator(".bubble.me")).to_have_text(["こんにちは", "リマインド"])
    await expect(page.locator(".bubble.notice")).to_have_text([REMINDER])
    after = await page.locator("#log").inner_text()
    assert after.startswith(before.rstrip())
    # Every message has its time; the resident's messages carry the bot's time too.
    await expect(page.locator("time.stamp")).to_have_count(5)
    me = await page.locator("time.stamp.from-me").first.get_attribute("datetime")
    assert abs(datetime.fromisoformat(me.replace("Z", "+00:00")) - TUESDAY_10) < timedelta(
        minutes=5
    )
    await shot(page, "sim-reloaded")
    assert errors == []


async def test_a_notice_arriving_unasked_is_shown_by_polling(serve, wide) -> None:
    """Notices come without the resident writing: the page's polling shows them."""
    from playwright.async_api import expect

    clock = FrozenClock(TUESDAY_10)
    server = await serve(ReminderResponder(), clock=clock)
    page, errors = await open_sim(wide, server)
    await send_typed(page, "リマインド")
    await expect(page.locator(".bubble.bot")).to_have_count(1)
    await server.app[PIPELINE].advance_clock(timedelta(hours=2))  # as a scheduler would
    await expect(page.locator(".bubble.notice")).to_have_text([REMINDER], timeout=8000)
    assert errors == []


async def test_narrow_window_opens_the_panel_from_the_header(serve, chromium) -> None:
    from playwright.async_api import expect

    server = await serve(ReminderResponder())
    context = await chromium.new_context(viewport={"width": 390, "height": 760}, locale="ja-JP")
    context.set_default_timeout(WAIT_MS)
    try:
        page, errors = await open_sim(context, server)
        await expect(page.locator("#panel-toggle")).to_be_visible()
        await expect(page.locator("#panel")).to_be_hidden()
        await page.click("#panel-toggle")
        await expect(page.locator("#panel")).to_be_visible()
        await expect(page.locator("#reset")).to_be_visible()
        await shot(page, "sim-narrow-panel")
        await page.click("#panel-close")
        await expect(page.locator("#panel")).to_be_hidden()
        assert errors == []
    finally:
        await context.close()


async def test_production_shows_no_panel_and_no_clock_control(serve, wide) -> None:
    from playwright.async_api import expect

    server = await serve(ReminderResponder(), env="production")
    page, errors = await open_sim(wide, server)
    await send_typed(page, "こんにちは")
    await expect(page.locator(".bubble.bot")).to_have_count(1)
    await expect(page.locator("#panel")).to_be_hidden()
    await expect(page.locator("#panel-toggle")).to_be_hidden()
    number = await page.locator("#number").inner_text()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/sim/state", params={"from": number}) as response:
            assert response.status == 404
        async with http.post(f"{server.url}/sim/clock", json={"advance": "1h"}) as response:
            assert response.status in (404, 405)
        async with http.get(f"{server.url}/sim/clock") as response:
            assert (await response.json())["development"] is False
    assert re.match(E164.pattern, number)
    assert errors == []
