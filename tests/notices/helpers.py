"""A small world for notice tests: the real SQLite store on a temp file, the desk (the same
one the CLI and the console use), staff accounts, and residents made the way the bot makes
them (numbers hashed and encrypted; subscriptions and bookings through the owners' code)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.audit import AuditChain
from bot.clock import TOKYO, FrozenClock
from bot.identity import NumberVault
from bot.notices.desk import Draft, NoticeDesk
from bot.notices.dispatch import Dispatcher
from bot.notices.policy import load_policy
from bot.store.records import (
    NewBooking,
    NoticeAsk,
    NoticeContent,
    Route,
    StaffAccount,
)
from bot.store.sqlite import SqliteStore, pipeline
from bot.store.sqlite import notices as notice_sql
from bot.store.sqlite.bookings import SqliteBookings
from tests.foundation.helpers import ROOT, SECRET

FLOWS = ROOT / "flows"
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO)  # a weekday morning, outside quiet hours
OPT_OUT = "配信停止は「停止」と返信"
TWILIO = Route("twilio", "sms")


def content(**changes: Any) -> NoticeContent:
    """A valid important notice about ごみ; change what a test is about."""
    base = NoticeContent(
        title="年末年始のごみ収集",
        category="important",
        topic="gomi",
        text=f"【さくら市】年末年始のごみ収集日が変わります。詳しくは https://www.city.sakura.example.jp/gomi/ をご覧ください。\n{OPT_OUT}",
    )
    return replace(base, **changes)


def emergency(**changes: Any) -> NoticeContent:
    base = {
        "title": "台風 避難所開設",
        "category": "emergency",
        "topic": "bousai",
        "text": "【さくら市】台風の接近に伴い、避難所を開設しました。",
    }
    return content(**{**base, **changes})


ASK = NoticeAsk(
    "ご無事ですか。番号でお答えください。", ("無事です", "支援が必要です"), ("支援が必要です",)
)


class World:
    def __init__(self, tmp_path: Path, now: datetime = MONDAY_10, single_lane: bool = True) -> None:
        self.path = tmp_path / "bot.db"
        self.clock = FrozenClock(now)
        self.vault = NumberVault(SECRET)
        self.store = SqliteStore(
            self.path, single_lane=single_lane, audit=AuditChain.from_secret(SECRET)
        )
        self.loop = asyncio.Runner()
        self.loop.run(self.store.open(serve=True))
        self.desk = NoticeDesk(self.store, FLOWS, self.vault)
        self.db = sqlite_utils.Database(
            sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
        )
        self.staff: dict[str, StaffAccount] = {}
        self._numbers = 0

    def close(self) -> None:
        self.db.close()
        self.loop.run(self.store.close())
        self.loop.close()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run(coroutine)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # ---- people ------------------------------------------------------------------------

    def account(self, name: str, role: str) -> StaffAccount:
        def write(work: Any) -> StaffAccount:
            made = work.accounts.add(name, role, "x", self.now + timedelta(days=1), self.now)
            assert made is not None
            return made

        self.staff[name] = self.run(self.store.console.write(write))
        return self.staff[name]

    def number(self) -> str:
        self._numbers += 1
        return f"+8190{self._numbers:08d}"

    def resident(
        self,
        number: str | None = None,
        *,
        topics: tuple[str, ...] = (),
        district: str | None = None,
        booked_on: date | None = None,
        known_by_booking: bool = False,
        stopped: bool = False,
        provider: str = "twilio",
        channel: str = "sms",
    ) -> str:
        """A resident who texted the bot once (on `provider`), with what they chose."""
        number = number or self.number()
        rid = self.vault.resident_id(number)
        stamp = pipeline.utc_text(self.now)
        with self.db.conn:
            self.db.execute(
                "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
                "last_seen_at, notices_enabled) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    rid,
                    self.vault.encrypt(number),
                    provider,
                    channel,
                    stamp,
                    stamp,
                    int(not stopped),
                ],
            )
            if topics:
                notice_sql.set_topics(self.db, rid, topics, True, "sms", self.now)
            if district and booked_on is None:
                booked_on = self.now.date() - timedelta(days=30)  # an old booking: known there
            if booked_on is not None:
                SqliteBookings(self.db).add(
                    NewBooking(
                        receipt=f"R{self._numbers:07d}",
                        resident_id=rid,
                        district=district or "中央",
                        town=None,
                        collection_date=booked_on,
                        items=({"name": "ソファー"},),
                        item_count=1,
                        fee_total=500,
                        at=self.now,
                    ),
                    capacity=1000,
                )
        return rid

    # ---- notices -----------------------------------------------------------------------

    def draft(self, made: NoticeContent, by: str = "tanaka", numbers: tuple[str, ...] = ()) -> str:
        return self.run(self.desk.create(Draft(made, None, numbers), self.staff[by], self.now))

    def approve(self, notice_id: str, by: str = "sato") -> Any:
        return self.run(self.desk.approve(notice_id, self.staff[by], self.now))

    def status(self, notice_id: str) -> dict[str, Any]:
        return self.run(self.desk.status(notice_id, self.now))

    def dispatcher(self, batch: int = 500, route: Route = TWILIO) -> Dispatcher:
        return Dispatcher(
            self.store.notices,
            lambda: load_policy(FLOWS),
            self.clock,
            route,
            frozenset({"sim", "replay", "chat"}),
            batch=batch,
        )

    def dispatch(self, dispatcher: Dispatcher | None = None) -> Dispatcher:
        """Steps until nothing is due now."""
        dispatcher = dispatcher or self.dispatcher()

        async def steps() -> None:
            for _ in range(10_000):
                if not await dispatcher.step():
                    return
            raise AssertionError("the dispatcher never settled")

        self.run(steps())
        return dispatcher

    def rows(self, notice_id: str) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT * FROM outbox WHERE notice_id = ? AND kind = 'notice' ORDER BY id",
                [notice_id],
            )
        )

    def recipients(self, notice_id: str) -> set[str]:
        return {row["resident_id"] for row in self.rows(notice_id)}
