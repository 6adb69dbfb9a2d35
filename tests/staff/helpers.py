"""Shared pieces for the staff console tests: the app with the console, settings, texts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web

import bot.app
from bot.app import PIPELINE, SETTINGS, create_app
from bot.city import build_responder
from bot.clock import TOKYO, Clock, FrozenClock
from bot.staff import add_staff_routes
from bot.turn import Responder
from tests.foundation.helpers import settings_for

MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)  # a 開庁日, inside staff hours
MONDAY_20 = datetime(2026, 3, 2, 20, 0, tzinfo=TOKYO)  # the same day, after hours
ASK_FOR_PERSON = "担当者と話したい"
HANDED_OVER = "担当者におつなぎします"
TOKEN = "staff-token-for-tests-0123456789"


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
    """create_app (real flows, the shared responder) plus the console routes, unless
    create_app already adds them."""
    monkeypatch.setattr(bot.app, "build_responder", _shared_responder)
    app = create_app(settings_for(tmp_path, **changes), clock=clock)
    wired = any(
        resource.canonical == "/staff/api/conversations" for resource in app.router.resources()
    )
    if not wired:
        add_staff_routes(app, app[PIPELINE], app[SETTINGS])
    return app


def production(token: str | None) -> dict:
    env = {"BOT_STAFF_TOKEN": token} if token is not None else {}
    return {"env": "production", "env_vars": env}


async def on_db(client, fn):
    """fn(db) on a connection of the test's own to the app's SQLite file (autocommit)."""
    import sqlite3

    import sqlite_utils

    conn = sqlite3.connect(str(client.app[SETTINGS].db_path), isolation_level=None, timeout=10)
    try:
        return fn(sqlite_utils.Database(conn))
    finally:
        conn.close()
