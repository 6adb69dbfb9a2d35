"""The staff console page in a real headless Chromium, against the real app (real flows) on a
loopback port: staff see the handed-over conversation, answer it and hand it back.

Skips when no Chromium (or no `playwright` package) is found; under CI (CI=true) a missing
browser is a failure instead. Playwright only drives that binary; it never downloads one.
Screenshots go to $STAFF_SCREENSHOTS when set (to look at the layout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.clock import FrozenClock
from tests.staff.helpers import (
    ASK_FOR_PERSON,
    HANDED_OVER,
    MONDAY_10,
    TOKEN,
    fresh_clock,
    staff_app,
)
from tests.support.browser import launched_chromium

WAIT_MS = 5000
NUMBER = "+819055556666"
QUESTION = "マイナンバーカードの受け取りについて相談したいです"
ANSWER = "お待たせしました。受け取りには本人確認書類が必要です。"

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Server:
    app: web.Application
    url: str
    clock: FrozenClock

    async def say(self, text: str) -> list[str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + "/sim/messages", json={"from": NUMBER, "text": text}) as r,
        ):
            assert r.status == 200
            return [reply["text"] for reply in (await r.json())["replies"]]

    async def received(self) -> list[str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + "/sim/messages", params={"from": NUMBER}) as r,
        ):
            assert r.status == 200
            return [m["text"] for m in (await r.json())["messages"]]


@pytest_asyncio.fixture(loop_scope="module")
async def serve(tmp_path, monkeypatch):
    runners: list[web.AppRunner] = []

    async def start(**changes) -> Server:
        clock = fresh_clock(MONDAY_10)
        app = staff_app(tmp_path, monkeypatch, clock, **changes)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return Server(app, f"http://127.0.0.1:{runner.addresses[0][1]}", clock)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium():
    async for browser in launched_chromium():
        yield browser


async def open_console(chromium, server: Server, width: int, height: int):
    context = await chromium.new_context(
        viewport={"width": width, "height": height}, locale="ja-JP"
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(server.url + "/staff/")
    return context, page, errors


async def screenshot(page, name: str) -> None:
    folder = os.environ.get("STAFF_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def hand_over(server: Server) -> None:
    await server.say("こんにちは")
    server.clock.advance(timedelta(minutes=1))
    assert any(HANDED_OVER in t for t in await server.say(ASK_FOR_PERSON))
    assert await server.say(QUESTION) == []


async def no_overflow(page) -> dict:
    return await page.evaluate(
        """() => ({
          docWidth: document.documentElement.scrollWidth,
          docHeight: document.documentElement.scrollHeight,
          winWidth: window.innerWidth, winHeight: window.innerHeight,
        })"""
    )


async def test_staff_answer_and_hand_back_at_1280x800(chromium, serve):
    from playwright.async_api import expect

    server = await serve()
    await hand_over(server)
    context, page, errors = await open_console(chromium, server, 1280, 800)
    try:
        item = page.locator("#list .item")
        await expect(item).to_have_count(1)
        await expect(item.locator(".badge")).to_have_text("担当者対応")
        await expect(item.locator(".since")).to_have_text("3/2 10:01から")
        await expect(page.locator("#login")).to_be_hidden()
        await item.click()
        resident = page.locator("#transcript .msg.resident .bubble")
        await expect(resident).to_have_text(["こんにちは", ASK_FOR_PERSON, QUESTION])
        # The bot's replies read as the resident got them (SMS: choices as numbered lines).
        await expect(page.locator("#transcript .msg.bot .bubble")).to_have_text(
            await server.received(), use_inner_text=True
        )
        await expect(page.locator("#transcript .msg.bot .bubble").last).to_contain_text(HANDED_OVER)
        await expect(page.locator("#notes .note")).to_contain_text(["担当者との会話を希望"])
        await expect(page.locator("#return")).to_have_text("ボットに戻す")
        await screenshot(page, "staff-1280-selected")

        await page.fill("#reply", ANSWER)
        await expect(page.locator("#counter")).to_have_text(f"{len(ANSWER)} / 1000")
        await page.click("#send")
        await expect(page.locator("#transcript .msg.staff .bubble")).to_have_text([ANSWER])
        await expect(page.locator("#reply")).to_have_value("")
        assert (await server.received())[-1] == ANSWER

        # The resident answers; the page picks it up by itself (refresh every few seconds).
        server.clock.advance(timedelta(minutes=2))
        await server.say("ありがとうございます。明日伺います。")
        await expect(resident.last).to_have_text("ありがとうございます。明日伺います。")
        await expect(page.locator("#transcript .msg").last).to_have_class("msg resident")
        sizes = await no_overflow(page)
        assert sizes["docWidth"] <= 1280 and sizes["docHeight"] <= 800, sizes
        for box in ("#reply", "#send", "#return", "#list"):
            rect = await page.locator(box).bounding_box()
            assert rect and rect["y"] >= 0 and rect["y"] + rect["height"] <= 800, (box, rect)
        await screenshot(page, "staff-1280-answered")

        # An empty reply is not sent.
        await page.click("#send")
        await expect(page.locator("#reply-status")).to_have_text("返信を入力してください。")

        await page.click("#return")
        await expect(page.locator("#closing")).not_to_have_value("")
        closing = await page.input_value("#closing")
        await screenshot(page, "staff-1280-return")
        await page.click("#return-confirm")
        await expect(page.locator("#empty")).to_be_visible()
        await expect(page.locator("#list .item")).to_have_count(0)
        await expect(page.locator("#placeholder")).to_be_visible()
        assert (await server.received())[-1] == closing
        assert await server.say("粗大ごみを捨てたい") != []  # the bot answers again
        assert errors == []
    finally:
        await context.close()


async def test_narrow_screen_shows_the_list_then_the_conversation(chromium, serve):
    from playwright.async_api import expect

    server = await serve()
    await hand_over(server)
    context, page, errors = await open_console(chromium, server, 390, 740)
    try:
        item = page.locator("#list .item")
        await expect(item).to_have_count(1)
        await expect(page.locator("#detail-pane")).to_be_hidden()
        await screenshot(page, "staff-390-list")
        await item.click()
        await expect(page.locator("#list-pane")).to_be_hidden()
        await expect(page.locator("#transcript .msg.resident .bubble").last).to_have_text(QUESTION)
        sizes = await no_overflow(page)
        assert sizes["docWidth"] <= 390 and sizes["docHeight"] <= 740, sizes
        for box in ("#reply", "#send", "#return", "#back"):
            rect = await page.locator(box).bounding_box()
            assert rect and rect["x"] >= 0 and rect["x"] + rect["width"] <= 390, (box, rect)
            assert rect["y"] >= 0 and rect["y"] + rect["height"] <= 740, (box, rect)
        await screenshot(page, "staff-390-detail")
        await page.click("#back")
        await expect(page.locator("#list-pane")).to_be_visible()
        assert errors == []
    finally:
        await context.close()


async def test_login_form_with_a_token(chromium, serve):
    from playwright.async_api import expect

    server = await serve(env="production", env_vars={"BOT_STAFF_TOKEN": TOKEN})
    await hand_over(server)
    context, page, errors = await open_console(chromium, server, 1280, 800)
    try:
        await expect(page.locator("#login")).to_be_visible()
        await expect(page.locator("#console")).to_be_hidden()
        await screenshot(page, "staff-login")
        await page.fill("#token", "wrong-token")
        await page.click("#login-button")
        await expect(page.locator("#login-error")).to_have_text("アクセスキーが正しくありません。")
        await expect(page.locator("#list .item")).to_have_count(0)

        await page.fill("#token", TOKEN)
        await page.click("#login-button")
        await expect(page.locator("#list .item")).to_have_count(1)
        await expect(page.locator("#logout")).to_be_visible()
        # The token lives in this tab's sessionStorage, and a reload keeps the session.
        assert await page.evaluate("sessionStorage.getItem('staff-token')") == TOKEN
        await page.reload()
        await expect(page.locator("#list .item")).to_have_count(1)
        await page.click("#logout")
        await expect(page.locator("#login")).to_be_visible()
        assert await page.evaluate("sessionStorage.getItem('staff-token')") is None
        # Failed API calls (401) are logged by the browser as console errors; nothing else.
        assert all("401" in e for e in errors), errors
    finally:
        await context.close()
