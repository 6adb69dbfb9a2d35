"""The console's お知らせ配信 screens in a real headless Chromium (Debian's, driven by
Playwright): an editor composes a notice with a live preview of the phones, a refusal is
shown by field, the draft is saved; an approver approves it; the live report fills in as
simulator residents receive it and answer. Screenshots go to var/screenshots/notices-*.png."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.staff.roles import Role
from tests.foundation.helpers import ROOT
from tests.staff.helpers import (
    MONDAY_10,
    PASSWORD,
    fresh_clock,
    make_account,
    staff_app,
    totp_code,
)
from tests.support.browser import launched_chromium

WAIT_MS = 8000
SHOTS = ROOT / "var" / "screenshots"
RESIDENTS = ["+819012340001", "+819012340002", "+819012340003"]
# A 1×1 PNG: the card's image, served by the bot once the notice is approved.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z/C/HgAGgwJ/lK3Q6wAAAABJRU5ErkJggg=="
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Server:
    app: web.Application
    url: str

    async def say(self, number: str, text: str) -> list[str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + "/sim/messages", json={"from": number, "text": text}) as r,
        ):
            assert r.status == 200
            return [reply["text"] for reply in (await r.json())["replies"]]


@pytest_asyncio.fixture(loop_scope="module")
async def server(tmp_path, monkeypatch):
    clock = fresh_clock(MONDAY_10)
    app = staff_app(tmp_path, monkeypatch, clock)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield Server(app, f"http://127.0.0.1:{runner.addresses[0][1]}")
    await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium():
    async for browser in launched_chromium():
        yield browser


async def console(chromium, server: Server):
    context = await chromium.new_context(viewport={"width": 1366, "height": 1000}, locale="ja-JP")
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # 「承認して送信します。よろしいですか」
    await page.goto(server.url + "/staff/")
    return context, page, errors


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"notices-{name}.png"), full_page=True)


async def sign_in(page, name: str, totp: str | None = None) -> None:
    await page.fill("#login-name", name)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    if totp:
        await page.fill("#totp-code", totp)
        await page.click("#totp-form button[type=submit]")


async def test_compose_approve_and_watch_the_report(chromium, server, tmp_path):
    from playwright.async_api import expect

    clock = fresh_clock(MONDAY_10)
    await make_account(server.app, "tanaka", Role.EDITOR)
    approver = await make_account(server.app, "sato", Role.APPROVER)
    for number in RESIDENTS:  # residents the bot knows (they texted it once)
        await server.say(number, "こんにちは")
    image = tmp_path / "shelter.png"
    image.write_bytes(PNG)

    editor_context, page, errors = await console(chromium, server)
    try:
        await sign_in(page, "tanaka")
        await page.click("#nav a[href='#notices']")
        await expect(page.locator("#notices-empty")).to_be_visible()
        await page.click("#notice-new")
        await expect(page.locator("#view-notice-edit")).to_be_visible()
        await page.fill("#c-title", "台風 避難所開設と安否確認")
        await page.select_option("#c-category", "emergency")
        await page.select_option("#c-topic", "bousai")
        await page.fill(
            "#c-text",
            "【さくら市】台風の接近に伴い、南中学校を避難所として開設しました。"
            "詳しくは https://bit.ly/shelter をご覧ください。",
        )
        await page.fill("#c-question", "ご無事ですか。番号でお答えください。")
        await page.fill("#c-choices", "無事です\n支援が必要です")
        await page.locator("#c-handoff input[value='支援が必要です']").check()
        problems = page.locator("#c-problems p")
        await expect(problems).to_contain_text(["短縮URL（bit.ly）は使えません"])
        await shot(page, "01-refused-link")
        await page.fill(
            "#c-text",
            "【さくら市】台風の接近に伴い、南中学校を避難所として開設しました。"
            "詳しくは https://www.city.sakura.example.jp/bousai/ をご覧ください。",
        )
        await page.fill("#c-card-title", "避難所を開設しました")
        await page.fill("#c-card-description", "南中学校")
        await page.set_input_files("#c-image", str(image))
        await page.click("#c-add-button")
        row = page.locator("#c-buttons .button-row").first
        await row.locator("input").nth(0).fill("危機管理課に電話")
        await row.locator("select").select_option("dial")
        await row.locator("input").nth(1).fill("012-345-6770")
        await expect(problems).to_have_count(0)
        sms = page.locator("#p-sms")
        await expect(sms).to_contain_text("1. 無事です\n2. 支援が必要です")
        await expect(page.locator("#p-meter")).to_contain_text(
            re.compile(r"\d+ / 670文字・2通分（SMS 1件 6円）")
        )
        await expect(page.locator("#p-card .rcs strong")).to_have_text("避難所を開設しました")
        await expect(page.locator("#p-card .chip")).to_have_text(["無事です", "支援が必要です"])
        await shot(page, "02-compose")
        await page.click("#c-save")
        await expect(page.locator("#view-notice")).to_be_visible()
        await expect(page.locator("#n-state")).to_have_text("下書き")
        await expect(page.locator("#n-facts")).to_contain_text("3人")
        await expect(page.locator("#n-approve")).to_be_hidden()  # an editor does not approve
        await expect(page.locator("#n-card img")).to_be_visible()
        await shot(page, "03-draft")
        notice_id = (await page.locator("#n-id").text_content() or "").strip()
        assert errors == []
    finally:
        await editor_context.close()

    approver_context, page, errors = await console(chromium, server)
    try:
        await sign_in(page, "sato", totp_code(approver.totp_secret or "", clock))
        await page.goto(server.url + f"/staff/#notice/{notice_id}")
        await expect(page.locator("#n-approve")).to_be_visible()
        await page.click("#n-approve")
        await expect(page.locator("#n-message")).to_have_text("承認しました。送信を始めます。")
        await expect(page.locator("#n-state")).to_have_text("送信済み", timeout=15000)
        await expect(page.locator("#n-progress-text")).to_contain_text("100%（3 / 3人に送信）")
        # Residents answer; the report counts them per choice.
        assert "ご回答ありがとうございました" in (await server.say(RESIDENTS[0], "1"))[0]
        assert "ご回答ありがとうございました" in (await server.say(RESIDENTS[1], "無事です"))[0]
        assert "担当者からご連絡します" in (await server.say(RESIDENTS[2], "2"))[0]
        answers = page.locator("#n-answers .answer .n")
        await expect(answers).to_have_text(["2人", "1人"], timeout=15000)
        await expect(page.locator("#n-chart polyline[data-series='sent']")).to_have_count(1)
        await expect(page.locator("#n-csv")).to_have_attribute(
            "href", f"/staff/api/notices/{notice_id}/report.csv"
        )
        await shot(page, "04-report")
        # The urgent answer is first in the conversations, marked 至急.
        await page.click("#nav a[href='#conversations']")
        await expect(page.locator("#list .item").first).to_contain_text("至急")
        await shot(page, "05-urgent-answer")
        await page.click("#nav a[href='#notices']")
        await expect(page.locator("#notices-table tbody tr")).to_have_count(1)
        await expect(page.locator("#notices-table tbody tr")).to_contain_text("送信済み")
        await shot(page, "06-list")
        assert errors == []
    finally:
        await approver_context.close()
