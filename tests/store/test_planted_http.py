"""Plant a resident's personal data through the real HTTP path — numbers typed in messages,
a マイナンバー in the forms a phone keyboard makes, a name, staff's reply naming them — and
scan the bytes of the database, its -wal and -shm: none of it is there (before: all of it
was, in the inbox, the outbox, the staff notes and the conversation state). The replies
still reach the provider readable: texts are opened only to process, send and show staff."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.fakes import twilio as ftw
from tests.fakes.twilio import FakeTwilio
from tests.foundation.helpers import ROOT
from tests.support.server import free_port, start_server, wait_healthy

pytestmark = pytest.mark.slow
PUBLIC = "https://bot.city.example.jp"
KEY = "k" * 40
BOT = [sys.executable, "-m", "bot.cli"]
SENDER = "+819012340001"
NAME = "山田太郎"
PHONE = "090-8765-4321"
OTHER_PHONE = "080-2468-1357"
MY_NUMBER = "1234 5678 9018"  # a valid check digit
MESSAGES = [
    f"{NAME}と申します。電話番号は{PHONE}です",
    f"マイナンバーは{MY_NUMBER}です",
    "担当者と話したい",
    f"{NAME}です。急ぎの件は{OTHER_PHONE}にお願いします",
]
STAFF_REPLY = f"{NAME}様、{OTHER_PHONE}にお電話します。"
PLANTED = [
    NAME,
    PHONE,
    PHONE.replace("-", ""),
    OTHER_PHONE,
    OTHER_PHONE.replace("-", ""),
    MY_NUMBER,
    MY_NUMBER.replace(" ", ""),
    SENDER,
    SENDER[3:],
    "0" + SENDER[3:],
]


async def _signed_in_staff(session: aiohttp.ClientSession, base: str, db: Path) -> dict:
    """An operator account made with `bot staff add`, signed in with its one-time password
    changed: the headers its requests need (the session cookie is in the jar)."""
    made = subprocess.run(
        [*BOT, "staff", "--db", str(db), "add", "tanaka", "--role", "operator"],
        cwd=ROOT,
        env={**os.environ, "BOT_SECRET_KEY": KEY},
        capture_output=True,
        text=True,
        check=True,
    )
    password = made.stdout.strip().splitlines()[-1]
    async with session.post(
        f"{base}/staff/api/session", json={"name": "tanaka", "password": password}
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        # BOT_PUBLIC_URL is https: the cookie is Secure, which a client of plain http on
        # loopback keeps only when told to (as the TLS proxy in front would pass it on).
        [(name, morsel)] = response.cookies.items()
    headers = {"X-CSRF-Token": body["csrf"], "Cookie": f"{name}={morsel.value}"}
    new = "a-long-passphrase-for-tests-42"
    async with session.post(
        f"{base}/staff/api/password", json={"current": password, "new": new}, headers=headers
    ) as response:
        body = await response.json()
        assert response.status == 200 and body["stage"] == "ready", body
        for name, morsel in response.cookies.items():  # a new session after the change
            headers["Cookie"] = f"{name}={morsel.value}"
    headers["X-CSRF-Token"] = body.get("csrf", headers["X-CSRF-Token"])
    return headers


def _found(db: Path) -> list[str]:
    raw = b"".join(
        Path(str(db) + suffix).read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(str(db) + suffix).exists()
    )
    return [text for text in PLANTED if text.encode() in raw]


async def test_planted_personal_data_is_not_in_the_database_bytes(tmp_path: Path) -> None:
    fake = await FakeTwilio().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = tmp_path / "bot.db"
    server = start_server(
        port,
        "--clock",
        "2026-11-24T10:00:00+09:00",  # a Tuesday, in office hours: staff can take over
        BOT_DB=str(db),
        BOT_SECRET_KEY=KEY,
        BOT_PUBLIC_URL=PUBLIC,
        BOT_TWILIO_ACCOUNT_SID=ftw.ACCOUNT_SID,
        BOT_TWILIO_AUTH_TOKEN=ftw.AUTH_TOKEN,
        BOT_TWILIO_FROM=ftw.FROM,
        BOT_TWILIO_API_BASE=fake.url,
        BOT_SEND_RATE="100",
    )
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession() as session:
            for i, text in enumerate(MESSAGES):
                params = ftw.inbound_params(f"SM{i:032x}", SENDER, text)
                body, sig = ftw.sign_form(PUBLIC + "/webhooks/twilio/sms", params)
                headers = {
                    "X-Twilio-Signature": sig,
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                async with session.post(
                    f"{base}/webhooks/twilio/sms", data=body, headers=headers
                ) as response:
                    assert response.status == 200
                await asyncio.sleep(0.3)  # in order, as a person types
            deadline = time.monotonic() + 60
            staff = await _signed_in_staff(session, base, db)
            cases: list = []
            while not cases:
                assert time.monotonic() < deadline, "the handoff never reached staff"
                await asyncio.sleep(0.2)
                async with session.get(
                    f"{base}/staff/api/conversations", headers=staff
                ) as response:
                    cases = (await response.json())["conversations"]
            rid = cases[0]["resident_id"]
            # Staff read the resident's words in clear (opened to show staff).
            async with session.get(
                f"{base}/staff/api/residents/{rid}/transcript", headers=staff
            ) as response:
                shown = json.dumps(await response.json(), ensure_ascii=False)
            assert OTHER_PHONE in shown and NAME in shown
            async with session.post(
                f"{base}/staff/api/residents/{rid}/reply", json={"text": STAFF_REPLY}, headers=staff
            ) as response:
                assert response.status == 200, await response.text()
            while not any(r.data.get("Body") == STAFF_REPLY for r in fake.delivered()):
                assert time.monotonic() < deadline, "staff's reply never reached Twilio"
                await asyncio.sleep(0.1)
        # The provider got readable replies (opened to send): the first echoes nothing
        # personal, but the staff reply names the resident.
        assert all(r.data["To"] == SENDER for r in fake.delivered())
        found_while_serving = _found(db)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        await fake.close()
    assert found_while_serving == []
    assert _found(db) == []
