"""The staff console in a real headless Chromium (Debian's, driven by Playwright; never a
downloaded browser), against the real app with the real flows on a loopback port.

Each main screen is saved as a PNG under var/screenshots/ (git-ignored) for review.
Skips when no Chromium (or no `playwright` package) is found; under CI a missing browser
is a failure instead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.app import PIPELINE
from bot.clock import FrozenClock
from bot.domain import bookings
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line
from bot.pipeline.intake import identity_of
from bot.staff.roles import Role
from tests.foundation.helpers import ROOT
from tests.staff.helpers import (
    ASK_FOR_PERSON,
    FIRST_PASSWORD,
    HANDED_OVER,
    MONDAY_10,
    PASSWORD,
    fresh_clock,
    make_account,
    router_of,
    staff_app,
    totp_code,
)
from tests.support.browser import launched_chromium

WAIT_MS = 5000
SHOTS = ROOT / "var" / "screenshots"
NUMBER = "+819055556666"
QUESTION = "マイナンバーカードの受け取りについて相談したいです"
NEW_PASSWORD = "sakura-city-console-2026"
DATA = ROOT / "flows" / "data"

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Server:
    app: web.Application
    url: str
    clock: FrozenClock

    async def say(self, text: str, number: str = NUMBER) -> list[str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + "/sim/messages", json={"from": number, "text": text}) as r,
        ):
            assert r.status == 200
            return [reply["text"] for reply in (await r.json())["replies"]]

    async def received(self) -> list[str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + "/sim/messages", params={"from": NUMBER}) as r,
        ):
            return [m["text"] for m in (await r.json())["messages"]]

    def resident_id(self, number: str = NUMBER) -> str:
        return self.app[PIPELINE].vault.resident_id(identity_of("sim", number))


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


async def open_console(chromium, server: Server, width: int = 1366, height: int = 860):
    context = await chromium.new_context(
        viewport={"width": width, "height": height}, locale="ja-JP"
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(server.url + "/staff/")
    return context, page, errors


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def sign_in_page(page, name: str, password: str) -> None:
    await page.fill("#login-name", name)
    await page.fill("#login-password", password)
    await page.click("#login-form button[type=submit]")


async def test_an_admin_signs_in_with_totp_and_manages_accounts(chromium, serve):
    from playwright.async_api import expect

    server = await serve()
    await make_account(server.app, "kanri", Role.ADMIN, password=FIRST_PASSWORD, ready=False)
    context, page, errors = await open_console(chromium, server)
    try:
        await expect(page.locator("#view-login")).to_be_visible()
        await shot(page, "01-login")
        await sign_in_page(page, "kanri", "wrong-password-123")
        await expect(page.locator("#login-error")).to_have_text(
            "アカウント名またはパスワードが違います。"
        )

        # First sign-in: the one-time password is changed, then TOTP is set up.
        await sign_in_page(page, "kanri", FIRST_PASSWORD)
        await expect(page.locator("#view-password")).to_be_visible()
        await page.fill("#password-current", FIRST_PASSWORD)
        await page.fill("#password-new", NEW_PASSWORD)
        await page.fill("#password-again", NEW_PASSWORD)
        await shot(page, "02-first-password-change")
        await page.click("#password-form button[type=submit]")
        await expect(page.locator("#view-enrol")).to_be_visible()
        await expect(page.locator("#enrol-qr")).to_have_attribute(
            "src", re.compile("^data:image/svg")
        )
        secret = (await page.locator("#enrol-secret").text_content() or "").replace(" ", "")
        await shot(page, "03-totp-enrolment")
        await page.fill("#enrol-code", totp_code(secret, server.clock))
        await page.click("#enrol-form button[type=submit]")
        await expect(page.locator("#view-conversations")).to_be_visible()
        await expect(page.locator("#nav a")).to_have_text(
            ["会話", "住民を探す", "お知らせ配信", "職員アカウント", "監査ログ", "アカウント設定"]
        )

        # Out and in again: password, then the code.
        await page.click("#logout")
        await expect(page.locator("#view-login")).to_be_visible()
        await sign_in_page(page, "kanri", NEW_PASSWORD)
        await expect(page.locator("#view-totp")).to_be_visible()
        await page.fill("#totp-code", "000000")
        await page.click("#totp-form button[type=submit]")
        await expect(page.locator("#totp-error")).to_contain_text("確認コードが違います")
        await page.fill("#totp-code", totp_code(secret, server.clock))
        await shot(page, "04-totp-code")
        await page.click("#totp-form button[type=submit]")
        await expect(page.locator("#who")).to_have_text("kanri（管理者）")

        # Accounts: a new operator gets a one-time password shown once.
        await page.click("#nav a[href='#accounts']")
        await page.fill("#account-name", "yamada.taro")
        await page.select_option("#account-role", "operator")
        await page.click("#account-form button[type=submit]")
        await expect(page.locator("#one-time")).to_be_visible()
        one_time = await page.locator("#one-time-password").text_content()
        assert one_time and len(one_time) == 19
        await expect(page.locator("#accounts-table tbody tr")).to_have_count(2)
        await shot(page, "08-accounts")

        # The audit log: who did what, and the chain checks out.
        await page.click("#nav a[href='#audit']")
        await expect(page.locator("#audit-table tbody tr").first).to_be_visible()
        await page.click("#audit-verify")
        await expect(page.locator("#audit-verified")).to_contain_text(
            "改ざんは見つかりませんでした"
        )
        labels = await page.locator("#audit-table tbody td:nth-child(3)").all_text_contents()
        assert "アカウント作成" in labels and "2段階認証の登録" in labels
        await shot(page, "09-audit-log")
        assert errors == []
    finally:
        await context.close()


async def test_a_handoff_answered_a_booking_changed_and_handed_back(chromium, serve):
    from playwright.async_api import expect

    server = await serve()
    await make_account(server.app, "sato", Role.OPERATOR, totp=False)
    await make_account(server.app, "ito", Role.OPERATOR, totp=False)
    await server.say("こんにちは")
    server.clock.advance(timedelta(minutes=1))
    assert any(HANDED_OVER in t for t in await server.say(ASK_FOR_PERSON))
    assert await server.say(QUESTION) == []

    def book(work):
        return bookings.create(
            work.bookings,
            CollectionCalendar.load(DATA),
            resident_id=server.resident_id(),
            district="北",
            town="北町",
            day=date(2026, 3, 16),
            lines=[Line("ソファー", 1, 1000, "2人掛け以上"), Line("椅子", 2, 300)],
            now=server.clock.now(),
            directory=DATA,
        ).receipt

    console = router_of(server.app).deps.console
    receipt = await console.write(book)
    # Another resident's urgent answer to a notice (the notices work marks these).
    await server.say("こんにちは", "+819011112222")

    def urgent(work):
        rid = server.resident_id("+819011112222")
        work.cases.open(rid, server.clock.now(), "notice", urgent=True)

    await console.write(urgent)

    context, page, errors = await open_console(chromium, server)
    try:
        await sign_in_page(page, "sato", PASSWORD)
        items = page.locator("#list .item")
        await expect(items).to_have_count(2)
        await expect(items.first).to_contain_text("至急")  # urgent first
        await expect(items.nth(1)).to_contain_text("担当者対応")
        await expect(items.nth(1).locator(".unread-count")).to_have_text("2")
        await shot(page, "05-conversations")

        await items.nth(1).click()
        bubbles = page.locator("#messages .msg.resident .bubble")
        await expect(bubbles.last).to_have_text(QUESTION)
        await expect(page.locator("#messages .msg .who").first).to_contain_text("3/2 10:00 · SMS")
        await expect(items.nth(1).locator(".unread-count")).to_have_count(0)  # read now
        await page.select_option("#canned", label="確認します")
        await expect(page.locator("#reply")).to_have_value(
            "確認いたしますので、少々お待ちください。"
        )
        await page.click("#send")
        await expect(page.locator("#messages .msg.staff .who").last).to_contain_text(
            "担当者（sato）"
        )
        assert (await server.received())[-1] == "確認いたしますので、少々お待ちください。"
        await expect(items.nth(1)).to_contain_text("担当: sato")
        await page.fill("#reply", "受け取りには本人確認書類が必要です。")
        await page.keyboard.press("Control+Enter")
        await expect(page.locator("#messages .msg.staff .bubble").last).to_have_text(
            "受け取りには本人確認書類が必要です。"
        )

        # Their booking, moved to another Monday on their behalf.
        card = page.locator(f".booking[data-receipt='{receipt}']")
        await expect(card).to_contain_text("3月16日")
        await card.get_by_role("button", name="日を変更").click()
        await page.select_option(f"#day-{receipt}", "2026-03-23")
        await shot(page, "06-booking-change")
        await card.get_by_role("button", name="変更する").click()
        await expect(page.locator(f".booking[data-receipt='{receipt}'] .date")).to_contain_text(
            "3月23日"
        )
        await expect(page.locator("#status")).to_contain_text("3月23日")

        # Hand back to the bot.
        await page.click("#return")
        await expect(page.locator("#closing")).to_have_value(
            "担当者との会話を終了します。この後のご質問にはボットがお答えします。ありがとうございました。"
        )
        await page.click("#return-confirm")
        await expect(items).to_have_count(1)
        assert (await server.received())[-1].startswith("担当者との会話を終了します")
        assert await server.say("ヘルプ")  # the bot answers again

        # Someone on the phone, found by 受付番号.
        await page.click("#nav a[href='#search']")
        await page.fill("#search-query", receipt.lower())
        await shot(page, "07-search")
        await page.click("#search-form button[type=submit]")
        await expect(page.locator("#d-badges")).to_contain_text("電話対応")
        await expect(page.locator(f".booking[data-receipt='{receipt}']")).to_contain_text("3月23日")
        await shot(page, "05b-resident-on-the-phone")
        assert errors == []
    finally:
        await context.close()


async def test_an_operator_is_refused_the_admin_screens(chromium, serve):
    from playwright.async_api import expect

    server = await serve()
    await make_account(server.app, "sato", Role.OPERATOR, totp=False)
    context, page, errors = await open_console(chromium, server)
    try:
        await sign_in_page(page, "sato", PASSWORD)
        await expect(page.locator("#nav a")).to_have_text(["会話", "住民を探す", "アカウント設定"])
        await page.goto(server.url + "/staff/#accounts")
        await expect(page.locator("#view-forbidden")).to_be_visible()
        await expect(page.locator("#view-accounts")).to_be_hidden()
        await shot(page, "10-forbidden")
        # The page is only a courtesy: the server refuses the request itself.
        status = await page.evaluate(
            """async () => {
                const me = await (await fetch('/staff/api/session')).json();
                const r = await fetch('/staff/api/accounts', {method: 'POST',
                  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
                  body: JSON.stringify({name: 'intruder', role: 'admin'})});
                return r.status;
            }"""
        )
        assert status == 403
        await page.click("#nav a[href='#settings']")
        await expect(page.locator("#settings-totp")).to_have_text("未設定（任意）")
        await shot(page, "11-account-settings")
        assert errors == []
    finally:
        await context.close()


async def test_narrow_screen_shows_the_list_then_the_conversation(chromium, serve):
    from playwright.async_api import expect

    server = await serve()
    await make_account(server.app, "sato", Role.OPERATOR, totp=False)
    await server.say("こんにちは")
    assert any(HANDED_OVER in t for t in await server.say(ASK_FOR_PERSON))
    context, page, errors = await open_console(chromium, server, 390, 760)
    try:
        await sign_in_page(page, "sato", PASSWORD)
        item = page.locator("#list .item")
        await expect(item).to_have_count(1)
        await expect(page.locator("#detail-pane")).to_be_hidden()
        await item.click()
        await expect(page.locator("#list-pane")).to_be_hidden()
        await expect(page.locator("#messages .msg.resident .bubble").last).to_have_text(
            ASK_FOR_PERSON
        )
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await shot(page, "12-narrow-conversation")
        await page.click("#back")
        await expect(page.locator("#list-pane")).to_be_visible()
        assert errors == []
    finally:
        await context.close()
