"""The store contract, hardening (issue 11) — on every backend: one poisoned row fails only
itself in a group commit; a send whose answer went unrecorded comes back in doubt (and the
provider ids already recorded are known, for Channel.reconcile); health says ok when the
store takes writes and says why not when its tables are gone; flood limits per sender are
one count for every process sharing the database; texts written before sealing are sealed
in place at the first open."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.channels.base import Inbound
from bot.identity import NumberVault, TextVault
from bot.pipeline.intake import prepare_inbound
from bot.store import open_store
from bot.store.records import FloodLimits, SentMark
from tests.foundation.helpers import SECRET, RecordingResponder, StoreHarness

VAULT = NumberVault(SECRET)


def _rows(harness, count: int) -> list:
    return [
        prepare_inbound(
            Inbound("twilio", "sms", f"SM{i:032x}", f"+8190{i:08d}", f"こんにちは {i}"),
            VAULT,
            harness.clock.now(),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize(
    "poison",
    [
        {"provider_message_id": "SM\ud800"},  # a lone surrogate: not UTF-8
        {"provider_message_id": None},  # NOT NULL
        {"channel": None},
        # SQLite keeps a NUL in text; PostgreSQL refuses it: a row's own fault there.
        {"provider_message_id": "SM\x00nul"},
    ],
)
def test_a_row_the_database_refuses_fails_alone_in_its_group(harness, poison):
    if "\x00" in str(poison.get("provider_message_id")) and not harness.sql.postgres:
        pytest.skip("SQLite stores a NUL in text: nothing to refuse")
    rows = _rows(harness, 60)
    for key, value in poison.items():
        setattr(rows[17], key, value)
    results = harness.ingest(rows)
    assert [i for i, res in enumerate(results) if res.error] == [17]
    assert all(res.inbox_id > 0 for i, res in enumerate(results) if i != 17)
    stored = {mid for (mid,) in harness.sql("SELECT provider_message_id FROM inbox")}
    assert stored == {f"SM{i:032x}" for i in range(60) if i != 17}
    assert len(harness.process_all()) == 59  # and every stored one is processed


def test_an_unanswered_send_comes_back_in_doubt_and_sent_ids_are_known(harness):
    store, now = harness.store.delivery, harness.clock.now()
    for row in _rows(harness, 3):
        harness.ingest([row])
    harness.process_all()
    first, second, third = harness.run(store.claim(["twilio"], now, 10))
    assert {r.in_doubt_since for r in (first, second, third)} == {None}
    later = now + timedelta(minutes=1)
    harness.run(store.sent([SentMark(first.id, "SM" + "a" * 32, later)]))
    harness.run(store.retry(second.id, later, "timeout", in_doubt=True))  # no answer
    harness.run(store.retry(third.id, later, "http_503"))  # refused: certainly not sent
    again = {r.id: r for r in harness.run(store.claim(["twilio"], later, 10))}
    assert set(again) == {second.id, third.id}
    assert again[second.id].in_doubt_since == now  # since the claim that got no answer
    assert again[third.id].in_doubt_since is None
    # A later attempt keeps the earliest doubt; a recorded send clears it.
    harness.run(store.retry(second.id, later, "timeout", in_doubt=True))
    (still,) = [r for r in harness.run(store.claim(["twilio"], later, 10)) if r.id == second.id]
    assert still.in_doubt_since == now
    harness.run(store.sent([SentMark(second.id, "SM" + "b" * 32, later)]))
    assert harness.sql.one("SELECT doubt_since FROM outbox WHERE id = ?", [second.id]) is None
    known = harness.run(store.known_ids("twilio", ["SM" + "a" * 32, "SM" + "b" * 32, "SMx"]))
    assert known == {"SM" + "a" * 32, "SM" + "b" * 32}
    assert harness.run(store.known_ids("rcs", ["SM" + "a" * 32])) == set()


def test_health_is_ok_while_the_store_takes_writes(harness):
    health = harness.run(harness.store.health())
    assert health.ok and health.problem is None


def test_health_reports_tables_gone(harness):
    """Someone dropped the bot's tables (a restore gone wrong, a wrong database): every write
    fails, and health says so and why."""
    if harness.sql.postgres:
        harness.sql("DROP TABLE inbox CASCADE")
        harness.sql("DROP TABLE store_health")
    else:
        harness.sql("DROP TABLE inbox")
    with pytest.raises(Exception):  # noqa: B017 - StoreUnavailable or the backend's own
        harness.ingest(_rows(harness, 1))

    async def later():
        await asyncio.sleep(1.1)  # past the cached probe
        return await harness.store.health()

    health = harness.run(later())
    assert not health.ok and health.problem, health
    assert "bot:bot" not in health.detail  # never the URL's password


def test_flood_limits_are_one_count_for_every_process(location, clock):
    """Two processes on one database: a sender's messages count wherever they arrive (the
    limit is 3 a minute: the fourth is over it, whichever process receives it)."""
    first = StoreHarness(location, RecordingResponder(), clock)
    second = StoreHarness(location, RecordingResponder(), clock)
    try:
        limits = FloodLimits(per_minute=3, per_hour=100)
        one, two = first.store.sender_limits(limits), second.store.sender_limits(limits)
        if one is None or two is None:
            assert not first.sql.postgres
            pytest.skip("SQLite is one process: the process counts in memory (guards)")
        sender = VAULT.resident_id("+819011112222")
        verdicts = [
            first.run(one.check(sender)),
            second.run(two.check(sender)),
            first.run(one.check(sender)),
            second.run(two.check(sender)),  # the fourth in a minute
            first.run(one.check(sender)),
        ]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False]
        assert [v.first for v in verdicts[3:]] == [True, False]  # one note per flood
        assert verdicts[3].reason == "sender_minute"
        assert first.run(one.check(VAULT.resident_id("+819033334444"))).allowed  # others not
        # Keyed hashes only: no number in the counts.
        keys = {k for (k,) in first.sql("SELECT sender FROM sender_limits")}
        assert keys == {sender, VAULT.resident_id("+819033334444")}
    finally:
        second.close()
        first.close()


def test_texts_written_before_sealing_are_sealed_in_place(location, clock):
    """A database an older version wrote (texts in clear) is sealed at the first open with
    the key, and reads back the same."""
    from bot.pipeline.turns import TurnRunner
    from bot.system_texts import SystemTexts
    from tests.foundation.helpers import ROOT
    from tests.support.db import Peek

    planted = "山田太郎です。電話は090-1234-5678です"
    rid = VAULT.resident_id("+819012345678")
    row = prepare_inbound(
        Inbound("twilio", "sms", "SM-old", "+819012345678", planted), VAULT, clock.now()
    )

    async def old_version() -> None:
        if str(location).startswith("postgresql"):
            from bot.store.postgres import PostgresStore

            store = PostgresStore(str(location))  # no codec: texts as older versions wrote
        else:
            from bot.store.sqlite import SqliteStore

            store = SqliteStore(location)
        await store.open()
        try:
            await store.ingest([row], clock.now())
        finally:
            await store.close()

    asyncio.run(old_version())
    peek = Peek(location)
    try:
        ledger = "DELETE FROM store_migrations WHERE owner = 'sealing'"
        peek(ledger)  # as before the sealing step existed
        assert peek.one("SELECT text FROM inbox") == planted  # the check sees clear text

        async def upgraded() -> list[str]:
            store = open_store(location, TextVault(SECRET))
            await store.open()
            try:
                runner = TurnRunner(RecordingResponder(), clock, SystemTexts.load(ROOT / "flows"))
                await store.process_batch(runner, 8)
                return [m.text for m in await store.sent_to(rid)]
            finally:
                await store.close()

        assert asyncio.run(upgraded()) == [f"echo 1: {planted}"]
        stored = peek.one("SELECT text FROM inbox")
        assert stored.startswith(TextVault.PREFIX) and "090" not in stored
    finally:
        peek.close()
