"""A small world for notice tests: the real store — a SQLite file or a PostgreSQL schema of
the test's own (`location`) — the desk (the same one the CLI and the console use), staff
accounts, and residents made the way the bot makes them (numbers hashed and encrypted).
`sql` looks into the database beside the store, the same SQL on either backend."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.audit import AuditChain
from bot.clock import TOKYO, FrozenClock
from bot.identity import NumberVault
from bot.notices.desk import Draft, NoticeDesk
from bot.notices.dispatch import Dispatcher
from bot.notices.policy import load_policy
from bot.store import open_store
from bot.store.records import NoticeAsk, NoticeContent, Route, StaffAccount
from bot.store.sqlite import pipeline
from tests.foundation.helpers import ROOT, SECRET
from tests.support.db import Peek

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
    def __init__(
        self, location: Path | str, now: datetime = MONDAY_10, single_lane: bool = True
    ) -> None:
        self.location = location
        self.clock = FrozenClock(now)
        self.vault = NumberVault(SECRET)
        self.store = open_store(
            location,
            self.vault.texts,
            single_lane=single_lane,
            audit=AuditChain.from_secret(SECRET),
        )
        self.loop = asyncio.Runner()
        self.loop.run(self.store.open(serve=True))
        self.desk = NoticeDesk(self.store, FLOWS, self.vault)
        self.sql = Peek(location)
        self.staff: dict[str, StaffAccount] = {}
        self._numbers = 0
        self._receipts = 0

    def close(self) -> None:
        self.sql.close()
        self.loop.run(self.store.close())
        self.loop.close()

    def stamp(self, instant: datetime) -> Any:
        """A time as the backend stores it (SQLite: text; PostgreSQL: timestamptz)."""
        return instant if self.sql.postgres else pipeline.utc_text(instant)

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
        stamp = self.stamp(self.now)
        self.sql(
            "INSERT INTO residents (id, phone_enc, last_provider, last_channel, created_at, "
            "last_seen_at, notices_enabled) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [rid, self.vault.encrypt(number), provider, channel, stamp, stamp, not stopped],
        )
        if topics:
            self.set_topics(rid, topics, True)
        if district and booked_on is None:
            booked_on = self.now.date() - timedelta(days=30)  # an old booking: known there
        if booked_on is not None:
            self._receipts += 1
            self.sql(
                "INSERT INTO bookings (receipt, resident_id, district, collection_date, items, "
                "item_count, fee_total, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 1, 500, 'booked', ?, ?)",
                [
                    f"R{self._receipts:07d}",
                    rid,
                    district or "中央",
                    booked_on.isoformat(),
                    json.dumps([{"name": "ソファー"}], ensure_ascii=False),
                    self.now.isoformat(),
                    self.now.isoformat(),
                ],
            )
        return rid

    def set_topics(self, resident_id: str, topics: tuple[str, ...], active: bool) -> None:
        """Subscribe to (or stop) topics as the resident's own text would, with the consent."""
        for topic in topics:
            self.sql(
                "INSERT INTO notice_subscriptions (resident_id, topic, active, since) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (resident_id, topic) DO UPDATE SET "
                "active = excluded.active, since = excluded.since",
                [resident_id, topic, int(active), self.stamp(self.now)],
            )
            self.sql(
                "INSERT INTO notice_consents (resident_id, topic, action, via, at) "
                "VALUES (?, ?, ?, 'sms', ?)",
                [resident_id, topic, "subscribe" if active else "stop", self.stamp(self.now)],
            )

    def stop_all(self, resident_id: str) -> None:
        self.sql("UPDATE residents SET notices_enabled = ? WHERE id = ?", [False, resident_id])

    def reply(self, resident_id: str, text: str) -> int:
        """A reply to the resident queued now (as a turn would write it)."""
        stamp = self.stamp(self.now)
        rows = self.sql(
            "INSERT INTO outbox (resident_id, provider, channel, kind, text, suggestions, "
            "created_at, status, idempotency_key, next_attempt_at, priority) "
            "VALUES (?, 'twilio', 'sms', 'reply', ?, '[]', ?, 'pending', ?, ?, 0) RETURNING id",
            [resident_id, text, stamp, f"reply-{resident_id}-{text}", stamp],
        )
        return int(rows[0][0])

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
        return self.sql.dicts(
            "SELECT * FROM outbox WHERE notice_id = ? AND kind = 'notice' ORDER BY id",
            [notice_id],
        )

    def recipients(self, notice_id: str) -> set[str]:
        return {row["resident_id"] for row in self.rows(notice_id)}
