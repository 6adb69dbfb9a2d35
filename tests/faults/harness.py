"""The standing fault suite's pieces: `bot serve` as a real subprocess with a fake Twilio on
loopback, residents texting it through signed webhooks (remembering what was acknowledged),
and the checks every fault test makes afterwards.

Deadlines are generous (a busy 2-core machine); nothing here measures time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes import twilio as ftw
from tests.fakes.twilio import FakeTwilio
from tests.support.server import ROOT, free_port

PUBLIC = "https://bot.city.example.jp"
SMS = "/webhooks/twilio/sms"
KEY = "k" * 40
SETTLE = 180.0  # seconds a test waits for the bot to finish its work before failing


def bot_env(db: Path | str, api_base: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BOT_DB=str(db),
        BOT_SECRET_KEY=KEY,
        BOT_PUBLIC_URL=PUBLIC,
        BOT_TWILIO_ACCOUNT_SID=ftw.ACCOUNT_SID,
        BOT_TWILIO_AUTH_TOKEN=ftw.AUTH_TOKEN,
        BOT_TWILIO_FROM=ftw.FROM,
        BOT_TWILIO_API_BASE=api_base,
        BOT_SEND_RATE="500",
        # The same greeting answered hundreds of times is this suite's load, not a loop.
        BOT_LOOP_LIMIT="1000000",
        BOT_INBOUND_PER_MINUTE="1000000",  # every message answered (the crowd test sets its own)
        BOT_INBOUND_PER_HOUR="1000000",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """`bot serve` on a free port; `prefix` runs it inside something (nsenter …)."""

    env: dict[str, str]
    log: Path
    prefix: Sequence[str] = ()
    preexec: Callable[[], None] | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.starts += 1
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                preexec_fn=self.preexec,
            )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    async def health(self) -> tuple[int | None, dict[str, Any]]:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    f"{self.base}/healthz", timeout=aiohttp.ClientTimeout(total=20)
                ) as response,
            ):
                return response.status, await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None, {}

    async def healthy(self, timeout: float = SETTLE) -> None:
        await self.until(lambda status, _: status == 200, timeout, "never healthy")

    async def until(
        self, ok: Callable[[int | None, dict[str, Any]], bool], timeout: float, why: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, body = await self.health()
            if ok(status, body):
                return body
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{why}: the server exited ({self.proc.returncode})")
            assert time.monotonic() < deadline, f"{why}: last /healthz {status} {body}"
            await asyncio.sleep(0.2)


def sid(resident: int, n: int) -> str:
    return f"SM{resident:012x}{n:020x}"


def number(resident: int) -> str:
    return f"+8190{resident:08d}"


@dataclass
class Residents:
    """Signed Twilio webhooks, as many residents send them; `acked` holds every message the
    bot answered 200 (sid → (sender, text)), `refused` those it did not."""

    base: str
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    statuses: Counter[int | None] = field(default_factory=Counter)

    async def send(
        self, session: aiohttp.ClientSession, message_sid: str, sender: str, text: str
    ) -> int | None:
        params = ftw.inbound_params(message_sid, sender, text)
        body, signature = ftw.sign_form(PUBLIC + SMS, params)
        headers = {
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        status: int | None
        try:
            async with session.post(
                self.base + SMS,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=60),
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = None
        self.statuses[status] += 1
        if status == 200:
            self.acked[message_sid] = (sender, text)
            self.refused.pop(message_sid, None)
        else:
            self.refused[message_sid] = (sender, text)
        return status

    async def retry_refused(self, session: aiohttp.ClientSession, rounds: int = 50) -> None:
        """As providers do: send again what was not acknowledged, until it is."""
        for _ in range(rounds):
            if not self.refused:
                return
            for message_sid, (sender, text) in list(self.refused.items()):
                await self.send(session, message_sid, sender, text)
            if self.refused:
                await asyncio.sleep(0.5)
        assert not self.refused, f"{len(self.refused)} messages never acknowledged"


_QUERY = (
    "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); "
    "print(json.dumps(c.execute(sys.argv[2]).fetchall())); c.close()"
)


@dataclass(frozen=True)
class Db:
    """The server's database as the test reads it: directly, or — when it lives in another
    mount namespace — through a process entered into it (`prefix`: nsenter …)."""

    path: Path
    prefix: Sequence[str] = ()

    def rows(self, sql: str) -> list[tuple]:
        if self.prefix:
            found = subprocess.run(
                [*self.prefix, sys.executable, "-c", _QUERY, str(self.path), sql],
                capture_output=True,
                text=True,
                check=True,
            )
            return [tuple(row) for row in json.loads(found.stdout)]
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


@dataclass(frozen=True)
class PgDb:
    """The server's PostgreSQL database (a URL of the test's own schema)."""

    url: str

    def rows(self, sql: str) -> list[tuple]:
        from tests.support.db import Peek

        peek = Peek(self.url)
        try:
            return peek(sql)
        finally:
            peek.close()


def rows(db: Path | Db | PgDb, sql: str) -> list[tuple]:
    return (db if isinstance(db, Db | PgDb) else Db(db)).rows(sql)


async def settled(db: Path | Db | PgDb, timeout: float = SETTLE) -> None:
    """Every stored message processed, every reply sent (or finally failed)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = rows(db, "SELECT count(*) FROM inbox WHERE status = 'pending'")[0][0]
        unsent = rows(db, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
        if pending == 0 and unsent[0][0] == 0:
            return
        assert time.monotonic() < deadline, f"not settled: {pending} pending, {unsent} unsent"
        await asyncio.sleep(0.3)


def check_nothing_lost(db: Path | Db | PgDb, residents: Residents, fake: FakeTwilio) -> None:
    """Every acknowledged message is stored and processed, and answered at Twilio."""
    stored = dict(rows(db, "SELECT provider_message_id, status FROM inbox"))
    missing = set(residents.acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:3]}"
    undone = {s for s in residents.acked if stored[s] != "done"}
    assert not undone, f"{len(undone)} acknowledged messages not processed"
    answered = {r.data["To"] for r in fake.delivered()}
    assert {sender for sender, _ in residents.acked.values()} <= answered
    outbox = rows(db, "SELECT status FROM outbox")
    assert all(status in ("sent", "delivered", "read") for (status,) in outbox), Counter(outbox)


def duplicates(fake: FakeTwilio) -> int:
    """Sends Twilio accepted more than once (the same idempotency key: the same part of
    the same outbox row)."""
    keys = Counter(r.headers["I-Twilio-Idempotency-Token"] for r in fake.delivered())
    return sum(count - 1 for count in keys.values())
