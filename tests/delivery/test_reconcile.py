"""A send left in doubt (the process died between our request and its record, or the
request timed out) is reconciled with the provider before anything is sent again.

Twilio honours no idempotency key: its Messages list is searched (by recipient, newest
first, back to the claim). RCS and the gateway recognise a repeat by its key: sending
again is their reconciliation. Before: a crash re-sent every row of the unfinished batch
(~9 SMS per kill -9)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.channels.base import Inbound, Outbound
from bot.channels.rcs import RcsChannel
from bot.channels.twilio import TwilioChannel
from bot.clock import FrozenClock
from bot.delivery.worker import DeliveryDeps, DeliveryWorker
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.pipeline.turns import TurnRunner
from bot.store import Store, open_store
from bot.system_texts import SystemTexts
from tests.fakes import twilio as ftw
from tests.fakes.base import Scripted
from tests.fakes.fixtures import eventually, settings_for
from tests.fakes.harness import ROOT, SECRET, EchoResponder
from tests.fakes.rcs import FakeRcs
from tests.fakes.twilio import FakeTwilio

RESIDENT = "+819012345678"
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@dataclass
class Setup:
    store: Store
    clock: FrozenClock
    vault: NumberVault
    path: Path

    async def reopen(self) -> None:
        """What a restart after kill -9 does: rows left 'sending' come back, in doubt."""
        await self.store.close()
        self.store = open_store(self.path, self.vault.texts)
        await self.store.open(serve=True)

    def rows(self) -> list[tuple]:
        import sqlite3

        db = sqlite3.connect(self.path)
        try:
            return db.execute(
                "SELECT status, provider_message_id, doubt_since IS NOT NULL FROM outbox "
                "ORDER BY id"
            ).fetchall()
        finally:
            db.close()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    vault = NumberVault(SECRET)
    clock = FrozenClock(START)
    store = open_store(tmp_path / "bot.db", vault.texts)
    await store.open(serve=True)
    ready = Setup(store, clock, vault, tmp_path / "bot.db")
    yield ready
    await ready.store.close()


async def _replies(setup: Setup, provider: str, texts: list[str]) -> None:
    """Residents' messages in, processed: one pending reply each (受け付けました: …)."""
    channel = "rcs" if provider == "rcs" else "sms"
    rows = [
        prepare_inbound(
            Inbound(provider, channel, f"in-{i}", RESIDENT, text), setup.vault, setup.clock.now()
        )
        for i, text in enumerate(texts)
    ]
    await setup.store.ingest(rows, setup.clock.now())
    runner = TurnRunner(EchoResponder(), setup.clock, SystemTexts.load(ROOT / "flows"))
    while (await setup.store.process_batch(runner, 32)).inbox_ids:
        pass


def _worker(setup: Setup, channels: dict, cs) -> DeliveryWorker:
    deps = DeliveryDeps(setup.store.delivery, setup.vault, setup.clock, cs, channels=channels)
    return DeliveryWorker(deps, channels)


async def _crash_mid_send(setup: Setup, providers: list[str]) -> None:
    """The worker claimed the rows (marked 'sending'), then the process died."""
    setup.clock.advance(timedelta(seconds=1))
    claimed = await setup.store.delivery.claim(providers, setup.clock.now(), 20)
    assert claimed
    await setup.reopen()


async def _twilio_got(session: aiohttp.ClientSession, fake: FakeTwilio, body: str) -> str:
    """The send that reached Twilio before the crash (as the adapter makes it)."""
    async with session.post(
        f"{fake.url}{ftw.LIST_PATH}",
        data={"To": RESIDENT, "From": ftw.FROM, "Body": body},
        headers={"Authorization": aiohttp.encode_basic_auth(ftw.ACCOUNT_SID, ftw.AUTH_TOKEN)},
    ) as response:
        assert response.status == 201
        return (await response.json())["sid"]


async def test_a_send_is_recorded_as_soon_as_its_provider_answers(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    """Before: sends were recorded together once the whole batch (up to 20) had answered, so
    a kill -9 meanwhile re-sent the ones already answered. Now a kill can leave in doubt
    only what was still waiting for the provider."""
    others = [f"+81901111{n:04d}" for n in range(3)]
    for n, number in enumerate(others):
        inbound = Inbound("twilio", "sms", f"other-{n}", number, f"他 {n}")
        await setup.store.ingest([prepare_inbound(inbound, setup.vault, START)], START)
    await _replies(setup, "twilio", ["遅い返信"])
    fake_twilio.held.add("受け付けました: 遅い返信")
    cs = settings_for(fake_twilio)
    async with aiohttp.ClientSession() as session:
        worker = _worker(setup, {"twilio": TwilioChannel(cs.twilio, session)}, cs)
        step = asyncio.create_task(worker.step())
        try:
            await eventually(lambda: len(fake_twilio.delivered()) == 3)
            # The three answered sends are recorded while the fourth still waits.
            await eventually(lambda: [r[0] for r in setup.rows()].count("sent") == 3)
            assert [r[0] for r in setup.rows()].count("sending") == 1
        finally:
            fake_twilio.release.set()
            await step
    assert [r[0] for r in setup.rows()] == ["sent"] * 4


async def test_a_send_twilio_already_has_is_recorded_not_repeated(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    await _replies(setup, "twilio", ["粗大ごみ", "ソファー"])
    await _crash_mid_send(setup, ["twilio"])
    assert [doubt for _, _, doubt in setup.rows()] == [True, True]
    cs = settings_for(fake_twilio)
    async with aiohttp.ClientSession() as session:
        reached = await _twilio_got(session, fake_twilio, "受け付けました: 粗大ごみ")
        worker = _worker(setup, {"twilio": TwilioChannel(cs.twilio, session)}, cs)
        assert await worker.step()
    bodies = [r.data["Body"] for r in fake_twilio.delivered()]
    # The first reached Twilio before the crash: found, not sent again. The second had
    # not: sent now, once.
    assert bodies == ["受け付けました: 粗大ごみ", "受け付けました: ソファー"]
    rows = setup.rows()
    assert rows[0] == ("sent", reached, False)
    assert rows[1][0] == "sent" and rows[1][1] != reached and not rows[1][2]
    assert fake_twilio.list_requests >= 2


async def test_a_match_that_is_another_rows_send_is_not_taken(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    """The same text twice to the same resident: the message Twilio has is the first row's
    (recorded as its send), so the second row, in doubt, is sent."""
    cs = settings_for(fake_twilio)
    await _replies(setup, "twilio", ["はい"])
    async with aiohttp.ClientSession() as session:
        channels = {"twilio": TwilioChannel(cs.twilio, session)}
        assert await _worker(setup, channels, cs).step()  # the first reply: sent, recorded
    again = Inbound("twilio", "sms", "in-again", RESIDENT, "はい")
    await setup.store.ingest([prepare_inbound(again, setup.vault, START)], START)
    runner = TurnRunner(EchoResponder(), setup.clock, SystemTexts.load(ROOT / "flows"))
    while (await setup.store.process_batch(runner, 32)).inbox_ids:
        pass
    await _crash_mid_send(setup, ["twilio"])  # the second reply: in doubt
    async with aiohttp.ClientSession() as session:
        channels = {"twilio": TwilioChannel(cs.twilio, session)}
        assert await _worker(setup, channels, cs).step()
    assert [r.data["Body"] for r in fake_twilio.delivered()] == ["受け付けました: はい"] * 2
    sids = [sid for _, sid, _ in setup.rows()]
    assert len(set(sids)) == 2 and None not in sids


async def test_when_twilio_cannot_be_asked_the_row_waits_still_in_doubt(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    await _replies(setup, "twilio", ["粗大ごみ"])
    await _crash_mid_send(setup, ["twilio"])
    cs = settings_for(fake_twilio)
    fake_twilio.list_script.append(503)
    async with aiohttp.ClientSession() as session:
        reached = await _twilio_got(session, fake_twilio, "受け付けました: 粗大ごみ")
        worker = _worker(setup, {"twilio": TwilioChannel(cs.twilio, session)}, cs)
        assert await worker.step()
        assert setup.rows() == [("pending", None, True)]  # not sent blind, still in doubt
        assert len(fake_twilio.delivered()) == 1
        setup.clock.advance(timedelta(minutes=5))
        assert await worker.step()
    assert setup.rows() == [("sent", reached, False)]
    assert len(fake_twilio.delivered()) == 1


async def test_a_timeout_leaves_the_send_in_doubt_and_it_is_found_later(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    """Twilio took the message but its answer never came (a dropped connection): the retry
    looks for it first instead of sending it a second time."""
    await _replies(setup, "twilio", ["粗大ごみ"])
    cs = settings_for(fake_twilio)

    class LosesTheAnswer(TwilioChannel):
        async def _send(self, message: Outbound):
            await super()._send(message)  # Twilio has it …
            raise aiohttp.ServerDisconnectedError()  # … but we never hear back

    async with aiohttp.ClientSession() as session:
        flaky = {"twilio": LosesTheAnswer(cs.twilio, session)}
        assert await _worker(setup, flaky, cs).step()
        assert setup.rows() == [("pending", None, True)]
        setup.clock.advance(timedelta(minutes=5))
        steady = {"twilio": TwilioChannel(cs.twilio, session)}
        assert await _worker(setup, steady, cs).step()
    assert len(fake_twilio.delivered()) == 1
    assert setup.rows()[0][0] == "sent"


async def test_rcs_in_doubt_is_sent_again_with_its_key_and_shown_once(
    setup: Setup, fake_rcs: FakeRcs
) -> None:
    fake_rcs.capable.add(RESIDENT)
    await _replies(setup, "rcs", ["こんにちは"])
    cs = settings_for(rcs=fake_rcs)
    async with aiohttp.ClientSession() as session:
        channel = RcsChannel(cs.rcs, session)
        [row] = await setup.store.delivery.claim(["rcs"], setup.clock.now(), 20)
        worker = _worker(setup, {"rcs": channel}, cs)
        await worker.deliver(row)  # it reached RBM …
        await setup.store.delivery.retry(row.id, setup.clock.now(), "lost", in_doubt=True)
        assert await worker.step()
    assert [r.answered for r in fake_rcs.received] == [200, 409]  # RBM refused the repeat
    assert len(fake_rcs.accepted()) == 1
    assert setup.rows()[0][0] == "sent"


async def test_the_fake_twilio_list_is_shaped_and_paged_like_twilio(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.sent_after = 3600  # all still queued: no date_sent
    auth = {"Authorization": aiohttp.encode_basic_auth(ftw.ACCOUNT_SID, ftw.AUTH_TOKEN)}
    async with aiohttp.ClientSession() as session:
        for i in range(7):
            to = RESIDENT if i % 2 == 0 else "+819011112222"
            async with session.post(
                f"{fake_twilio.url}{ftw.LIST_PATH}",
                data={"To": to, "From": ftw.FROM, "Body": f"本文{i}"},
                headers=auth,
            ) as response:
                assert response.status == 201
        url = f"{fake_twilio.url}{ftw.LIST_PATH}?To=%2B819012345678&PageSize=2"
        bodies = []
        while url:
            async with session.get(url, headers=auth) as response:
                page = await response.json()
            assert set(page) >= {
                "messages", "page", "page_size", "start", "end", "uri", "first_page_uri",
                "next_page_uri", "previous_page_uri",
            }  # fmt: skip
            for message in page["messages"]:
                assert message["direction"] == "outbound-api" and message["status"] == "queued"
                assert message["date_sent"] is None and message["date_created"].endswith("+0000")
                bodies.append(message["body"])
            url = page["next_page_uri"] and f"{fake_twilio.url}{page['next_page_uri']}"
        assert bodies == ["本文6", "本文4", "本文2", "本文0"]  # newest first, To only
        today = datetime.now(UTC).date().isoformat()
        async with session.get(
            f"{fake_twilio.url}{ftw.LIST_PATH}", params={"DateSent>": today}, headers=auth
        ) as response:
            assert (await response.json())["messages"] == []  # queued: no date_sent yet
        async with session.get(f"{fake_twilio.url}{ftw.LIST_PATH}") as response:
            assert response.status == 401


async def test_a_part_failing_after_an_earlier_part_was_taken_is_retried_in_doubt(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    """A reply in parts: Twilio takes (1/n), then answers 429 to (2/n). The retry asks
    Twilio first, so (1/n) is found and only the rest is sent: never (1/n) twice."""
    await _replies(setup, "twilio", ["あ" * 1700])  # the echo is over 1,600: in parts
    cs = settings_for(fake_twilio)
    fake_twilio.script += [None, Scripted(429, {"code": 20429}, {"Retry-After": "0"})]
    async with aiohttp.ClientSession() as session:
        worker = _worker(setup, {"twilio": TwilioChannel(cs.twilio, session)}, cs)
        assert await worker.step()
        assert setup.rows() == [("pending", None, True)]  # in doubt: part 1 is at Twilio
        setup.clock.advance(timedelta(minutes=5))
        assert await worker.step()
    bodies = [r.data["Body"] for r in fake_twilio.delivered()]
    assert len(bodies) >= 2 and len(bodies) == len(set(bodies))  # each part once
    assert sum(body.startswith("(1/") for body in bodies) == 1
    assert setup.rows()[0][0] == "sent"


async def test_a_row_whose_release_could_not_be_written_is_released_when_the_store_is_back(
    setup: Setup, fake_twilio: FakeTwilio
) -> None:
    """Twilio answers 429 while the database refuses writes: the row cannot go back to
    pending then, and must not stay 'sending' for ever (on PostgreSQL that would hold
    back everything else for the resident until a restart)."""
    from bot.store.base import StoreUnavailable

    class Away:
        def __init__(self, inner) -> None:
            self.inner, self.down = inner, True

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def retry(self, *args, **kwargs) -> None:
            if self.down:
                raise StoreUnavailable("the database refused a write")
            await self.inner.retry(*args, **kwargs)

    await _replies(setup, "twilio", ["粗大ごみ"])
    cs = settings_for(fake_twilio)
    fake_twilio.script.append(Scripted(429, {"code": 20429}, {"Retry-After": "0"}))
    store = Away(setup.store.delivery)
    async with aiohttp.ClientSession() as session:
        channels = {"twilio": TwilioChannel(cs.twilio, session)}
        deps = DeliveryDeps(store, setup.vault, setup.clock, cs, channels=channels)
        worker = DeliveryWorker(deps, channels)
        assert await worker.step()  # no exception out of the step
        assert setup.rows() == [("sending", None, False)]
        store.down = False
        setup.clock.advance(timedelta(minutes=5))
        await worker.step()  # released first (in doubt), then claimed and sent
        if setup.rows()[0][0] != "sent":
            setup.clock.advance(timedelta(minutes=5))
            assert await worker.step()
    assert setup.rows()[0][0] == "sent"
    assert len(fake_twilio.delivered()) == 1
