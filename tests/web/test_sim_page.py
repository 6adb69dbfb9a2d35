"""The simulator page in a real headless Chromium, against the real app on a loopback port.

Skips when no Chromium (or no `playwright` package) is found, so a developer machine without a
browser still runs the suite; under CI (CI=true) a missing browser is a failure instead, since
.ci/install-browser puts Debian's Chromium at /usr/bin/chromium. Playwright only drives that
binary; it never downloads a browser of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp import web

import bot.app
from bot.app import PIPELINE, create_app
from bot.turn import Reply, TimerRequest, TurnResult
from tests.foundation.helpers import settings_for
from tests.support.browser import launched_chromium

E164 = re.compile(r"^\+81\d{10}$")
WAIT_MS = 5000  # the longest any single expectation waits
LABELS = ["はい", "いいえ", "わからない"]
NOTICE = "明日は粗大ごみの収集日です。朝8時までにお出しください。"


# ---- a responder that does not depend on flow wording ----------------------------------


class ChoiceResponder:
    """Every message gets a reply with suggestions; a tapped suggestion (postback) is echoed.
    「お知らせ」 also schedules a timer due at once, whose turn sends an unsolicited notice;
    「ゆっくり」 takes longer than the simulator waits, so the POST answers 202."""

    def __init__(self) -> None:
        self.turns: list = []

    def respond(self, turn, conversation, resident, services) -> TurnResult:
        self.turns.append(turn)
        if turn.kind == "timer":
            return TurnResult(conversation, [Reply(NOTICE, kind="notice")])
        count = sum(1 for t in self.turns if t.kind == "message")
        if turn.postback:
            return TurnResult(
                None,
                [Reply(f"「{turn.postback}」を受け付けました（{count}）", ["最初から", "終わる"])],
            )
        timers = []
        if turn.text == "お知らせ":
            timers.append(TimerRequest("nudge", turn.received_at))
        if turn.text == "ゆっくり":
            time.sleep(0.6)  # runs on the processing thread, not the event loop
        return TurnResult(
            None, [Reply(f"ご用件は「{turn.text}」ですね（{count}）", list(LABELS))], timers=timers
        )


# ---- fixtures -----------------------------------------------------------------------------


@dataclass
class Server:
    app: web.Application
    url: str


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def serve(tmp_path, monkeypatch):
    """start(responder=None, clock=None, **settings) runs create_app on 127.0.0.1, a free
    port."""
    runners: list[web.AppRunner] = []

    async def start(responder=None, clock=None, **changes) -> Server:
        if responder is not None:
            monkeypatch.setattr(bot.app, "build_responder", lambda flows_dir, clock, **_: responder)
        app = create_app(settings_for(tmp_path, **changes), clock)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return Server(app, f"http://127.0.0.1:{port}")

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium():
    async for browser in launched_chromium():
        yield browser


@pytest_asyncio.fixture(loop_scope="module")
async def browser(chromium, serve):
    """A fresh browser context (no localStorage, so a new number) per test, closed before the
    server stops."""
    context = await chromium.new_context(viewport={"width": 480, "height": 820}, locale="ja-JP")
    context.set_default_timeout(WAIT_MS)
    try:
        yield context
    finally:
        await context.close()


async def open_sim(context, server: Server):
    from playwright.async_api import expect

    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(server.url + "/sim/")
    await expect(page.locator("#number")).to_have_text(E164)
    return page, errors


async def send_typed(page, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


def numbered(text: str, suggestions: list[str]) -> str:
    """What an SMS bubble shows: the choices as numbered lines. SMS replies from the server
    already carry them; replies produced for RCS get them added by the page."""
    lines = "\n".join(f"{i}. {label}" for i, label in enumerate(suggestions, 1))
    if not suggestions or text.endswith(lines):
        return text
    return f"{text}\n{lines}"


# ---- tests --------------------------------------------------------------------------------


async def test_sms_message_shows_resident_and_bot_bubbles(serve, browser):
    """With whatever responder is active, the bubbles show exactly what the server answered."""
    from playwright.async_api import expect

    server = await serve()
    page, errors = await open_sim(browser, server)
    await expect(page.locator("#mode-sms")).to_have_attribute("aria-pressed", "true")
    async with page.expect_response(
        lambda r: r.url.endswith("/sim/messages") and r.request.method == "POST"
    ) as answer:
        await send_typed(page, "こんにちは")
    replies = (await (await answer.value).json())["replies"]
    assert replies, "the active responder answered nothing"

    await expect(page.locator(".bubble.me")).to_have_text(["こんにちは"])
    await expect(page.locator("#text")).to_have_value("")
    shown = [numbered(r["text"], r["suggestions"]) for r in replies]
    await expect(page.locator(".bubble.bot")).to_have_text(shown, use_inner_text=True)
    await expect(page.locator(".chip")).to_have_count(0)
    await expect(page.locator("#status")).to_have_text("")
    assert errors == []


async def test_sms_suggestions_are_numbered_lines(serve, browser):
    from playwright.async_api import expect

    server = await serve(ChoiceResponder())
    page, errors = await open_sim(browser, server)
    await page.fill("#text", "粗大ごみ")
    await page.press("#text", "Enter")  # Enter submits too
    await expect(page.locator(".bubble.bot")).to_have_text(
        [numbered("ご用件は「粗大ごみ」ですね（1）", LABELS)], use_inner_text=True
    )
    await expect(page.locator(".chip")).to_have_count(0)
    assert errors == []


async def test_rcs_suggestions_are_chips_and_tapping_one_sends_it(serve, browser):
    from playwright.async_api import expect

    responder = ChoiceResponder()
    server = await serve(responder)
    page, errors = await open_sim(browser, server)
    await page.click("#mode-rcs")
    await expect(page.locator("#mode-rcs")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#mode-sms")).to_have_attribute("aria-pressed", "false")

    await send_typed(page, "保育園")
    bot_bubbles = page.locator(".bubble.bot")
    await expect(bot_bubbles).to_have_text(["ご用件は「保育園」ですね（1）"], use_inner_text=True)
    chips = page.locator(".chips").nth(0).locator(".chip")
    await expect(chips).to_have_text(LABELS)
    for index in range(len(LABELS)):
        await expect(chips.nth(index)).to_be_enabled()

    await chips.nth(1).click()
    await expect(page.locator(".bubble.me")).to_have_text(["保育園", "いいえ"])
    await expect(bot_bubbles).to_have_text(
        ["ご用件は「保育園」ですね（1）", "「いいえ」を受け付けました（2）"], use_inner_text=True
    )
    # The server got the tap as a postback on the RCS channel.
    tap = [t for t in responder.turns if t.kind == "message"][-1]
    assert (tap.text, tap.postback, tap.channel) == ("いいえ", "いいえ", "rcs")
    # The answered chips are closed; the new reply brings its own.
    for index in range(len(LABELS)):
        await expect(chips.nth(index)).to_be_disabled()
    await expect(page.locator(".chips")).to_have_count(2)
    new_chips = page.locator(".chips").nth(1).locator(".chip")
    await expect(new_chips).to_have_text(["最初から", "終わる"])
    await expect(new_chips.first).to_be_enabled()
    await expect(chips.nth(1)).to_have_class("chip chosen")
    assert errors == []


async def test_a_notice_that_arrives_during_a_send_is_shown_once(serve, browser):
    """A notice written after the reply but before the page's next poll used to be skipped
    (the page marked everything up to the newest id as seen); replies must not show twice."""
    from playwright.async_api import expect

    server = await serve(ChoiceResponder())
    pipeline = server.app[PIPELINE]
    page, errors = await open_sim(browser, server)
    number = await page.locator("#number").inner_text()

    async def notice_lands_first(route):
        if route.request.method != "POST":
            await route.continue_()
            return
        response = await route.fetch()
        for _ in range(100):  # hold the answer until the timer's notice is stored
            if any(m.kind == "notice" for m in await pipeline.messages_for(number, 0)):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the timer never produced its notice")
        await route.fulfill(response=response)

    await page.route("**/sim/messages", notice_lands_first)
    await send_typed(page, "お知らせ")
    await expect(page.locator(".bubble.notice")).to_have_text([NOTICE], use_inner_text=True)
    # The poll that showed the notice also saw the reply rows: none may be shown again.
    await expect(page.locator(".bubble.bot")).to_have_text(
        [numbered("ご用件は「お知らせ」ですね（1）", LABELS), NOTICE], use_inner_text=True
    )
    assert errors == []


async def test_a_reply_still_processing_arrives_by_polling(serve, browser):
    """The POST answers 202 when the bot is slow; the reply must still appear, once."""
    from playwright.async_api import expect

    server = await serve(ChoiceResponder(), sim_wait_seconds=0.05)
    page, errors = await open_sim(browser, server)
    async with page.expect_response(
        lambda r: r.url.endswith("/sim/messages") and r.request.method == "POST"
    ) as answer:
        await send_typed(page, "ゆっくり")
    assert (await answer.value).status == 202
    await expect(page.locator(".bubble.bot")).to_have_text(
        [numbered("ご用件は「ゆっくり」ですね（1）", LABELS)], use_inner_text=True
    )
    await expect(page.locator("#status")).to_have_text("")
    assert errors == []


async def test_layout_fits_a_small_phone_and_long_text_wraps(serve, browser):
    """At 360x640 the whole phone is on screen (input and send button visible without page
    scrolling); a long Japanese text with an unbroken URL wraps inside the bubble."""
    from playwright.async_api import expect

    server = await serve(ChoiceResponder())
    page, errors = await open_sim(browser, server)
    await page.set_viewport_size({"width": 360, "height": 640})
    long_text = "粗大ごみの申込みについて教えてください。" * 3 + "https://example.jp/" + "a" * 80
    for text in ["こんにちは", long_text, "保育園", "児童手当"]:
        await send_typed(page, text)
    await expect(page.locator(".bubble.bot")).to_have_count(4)

    sizes = await page.evaluate(
        """() => {
          const log = document.getElementById("log");
          const rect = (sel) => document.querySelector(sel).getBoundingClientRect().toJSON();
          const bubbles = [...document.querySelectorAll(".bubble")].map((b) => b.getBoundingClientRect());
          return {
            docWidth: document.documentElement.scrollWidth,
            docHeight: document.documentElement.scrollHeight,
            input: rect("#text"), send: rect("#send"), header: rect("header"),
            logWidth: log.clientWidth, logScrollWidth: log.scrollWidth,
            logRight: log.getBoundingClientRect().right,
            widest: Math.max(...bubbles.map((b) => b.right)),
            atBottom: log.scrollHeight - log.scrollTop - log.clientHeight,
            scrollable: log.scrollHeight > log.clientHeight,
          };
        }"""
    )
    assert sizes["docWidth"] <= 360 and sizes["docHeight"] <= 640, sizes
    for box in ("input", "send", "header"):
        assert sizes[box]["top"] >= 0 and sizes[box]["bottom"] <= 640, (box, sizes)
        assert sizes[box]["right"] <= 360, (box, sizes)
    assert sizes["logScrollWidth"] <= sizes["logWidth"], sizes  # nothing sticks out sideways
    assert sizes["widest"] <= sizes["logRight"], sizes
    assert sizes["scrollable"] and sizes["atBottom"] <= 2, sizes  # scrolled to the newest
    await expect(page.locator(".bubble.me").nth(1)).to_have_text(long_text)
    assert errors == []
