"""Shared pieces for the staff console tests: the app (real flows, real argon2id at its
cheapest cost), accounts made through the accounts service, and a client that signs in
over real HTTP the way the page does (cookie + CSRF header, TOTP codes from the clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import argon2
import pyotp
import pytest
from aiohttp import web

import bot.app
from bot.app import SETTINGS, create_app
from bot.city import build_responder
from bot.clock import TOKYO, Clock, FrozenClock
from bot.staff import STAFF_ROUTER, StaffRouter, accounts
from bot.staff.roles import Role
from bot.turn import Responder
from tests.foundation.helpers import settings_for

MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)  # a 開庁日, inside staff hours
MONDAY_20 = datetime(2026, 3, 2, 20, 0, tzinfo=TOKYO)  # the same day, after hours
ASK_FOR_PERSON = "担当者と話したい"
HANDED_OVER = "担当者におつなぎします"
PASSWORD = "sakura-staff-pass-2026"
FIRST_PASSWORD = "temp-aaaa-bbbb-cccc"

# Loading Sudachi and the flows takes a second: one real responder for all the staff tests,
# bound to one clock that each test sets (fresh_clock) before it starts an app.
SHARED_CLOCK = FrozenClock(MONDAY_10)
_responder: list[Responder] = []


def fresh_clock(start: datetime = MONDAY_10) -> FrozenClock:
    SHARED_CLOCK.set(start)
    return SHARED_CLOCK


def _shared_responder(flows_dir: Path, clock: Clock, dictionaries: Path | None = None) -> Responder:
    assert clock is SHARED_CLOCK, "staff tests run on SHARED_CLOCK (fresh_clock())"
    if not _responder:
        _responder.append(build_responder(flows_dir, SHARED_CLOCK))
    return _responder[0]


def staff_app(
    tmp_path, monkeypatch: pytest.MonkeyPatch, clock: FrozenClock, **changes
) -> web.Application:
    """create_app with the real flows and the shared responder. Passwords are hashed with
    argon2id at its cheapest parameters (the production ones take 0.1 s and 64 MiB)."""
    monkeypatch.setattr(bot.app, "build_responder", _shared_responder)
    monkeypatch.setattr(accounts, "HASH_PROFILE", argon2.profiles.CHEAPEST)
    return create_app(settings_for(tmp_path, **changes), clock=clock)


def router_of(app: web.Application) -> StaffRouter:
    return app[STAFF_ROUTER]


@dataclass
class Member:
    """An account for a test: its password and (once set up) its TOTP secret."""

    name: str
    role: Role
    password: str = PASSWORD
    totp_secret: str | None = None


async def make_account(
    app: web.Application,
    name: str,
    role: Role,
    *,
    password: str = PASSWORD,
    ready: bool = True,
    totp: bool | None = None,
) -> Member:
    """An account made by an admin (audited as such). ready: the one-time password already
    changed and, where the role needs it (or totp=True), TOTP set up — so a test can sign in
    directly; ready=False: a fresh account, as `bot staff add` leaves it."""
    deps = router_of(app).deps
    member = Member(name, role, password)
    password_hash = deps.creds.hash(password)
    wants_totp = role.value in ("approver", "admin") if totp is None else totp
    secret = pyotp.random_base32() if ready and wants_totp else None

    def write(work):
        now = deps.now()
        audit = deps.audit(work, now)
        made = accounts.create_account(
            work,
            deps.creds,
            deps.config,
            audit,
            "test-admin",
            name,
            role,
            now,
            password_hash=password_hash,
            password=password,
        )
        if ready:
            work.accounts.set_password(made.account.id, password_hash, False, None, now)
            if secret:
                work.accounts.set_totp(made.account.id, deps.creds.seal_totp(secret), True, now)

    await deps.console.write(write)
    member.totp_secret = secret
    return member


def totp_code(secret: str, clock: FrozenClock) -> str:
    """The current code. Each code is accepted once: the clock moves to the next 30-second
    step first, so the same code is never replayed by accident."""
    clock.advance(timedelta(seconds=30))
    return pyotp.TOTP(secret).at(clock.now())


@dataclass
class Signed:
    """A signed-in client: the test client (its cookie jar holds the session) + CSRF."""

    client: Any
    member: Member
    csrf: str = ""
    stage: str = ""
    history: list[dict] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}

    async def get(self, path: str, **kwargs):
        return await self.client.get(path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs):
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return await self.client.post(path, json=json, headers=headers, **kwargs)

    def take(self, body: dict) -> None:
        self.history.append(body)
        self.csrf = body.get("csrf", self.csrf)
        self.stage = body.get("stage", self.stage)


async def sign_in(client, member: Member, clock: FrozenClock) -> Signed:
    """Password, then the TOTP code when the account has one: a ready session."""
    client.session.cookie_jar.clear()
    signed = Signed(client, member)
    response = await client.post(
        "/staff/api/session", json={"name": member.name, "password": member.password}
    )
    body = await response.json()
    assert response.status == 200, body
    signed.take(body)
    if signed.stage == "totp":
        assert member.totp_secret
        response = await signed.post(
            "/staff/api/session/totp", json={"code": totp_code(member.totp_secret, clock)}
        )
        body = await response.json()
        assert response.status == 200, body
        signed.take(body)
    assert signed.stage == "ready", signed.history
    return signed


async def another_client(client):
    """A second browser on the same server (its own cookie jar); close it when done."""
    from aiohttp.test_utils import TestClient

    other = TestClient(client.server)
    await other.start_server()
    return other


async def on_db(app: web.Application, fn):
    """fn(db) on a connection of the test's own to the app's SQLite file (autocommit): what
    is stored, as a person with the file would see it."""
    import sqlite3

    import sqlite_utils

    conn = sqlite3.connect(str(app[SETTINGS].db_path), isolation_level=None, timeout=10)
    try:
        return fn(sqlite_utils.Database(conn))
    finally:
        conn.close()
