"""Never acknowledge and drop: a flood is held back in what we send, not in what we keep.

Before: the inbound limiter answered 200 and neither stored nor answered — 100 residents each
texting once a second for 60 s lost 4,000 of 6,000 acknowledged messages, 6,000 residents
at 100 msg/s lost 3,000 (the global cap). Now every acknowledged message is stored and
processed; a sender over the limit gets one short note and then silence until they are
within it again; many senders at once are queued and all answered."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from tests.fakes import twilio as ftw
from tests.fakes.fixtures import Bot, eventually, make_bot, settings_for
from tests.fakes.harness import SECRET
from tests.fakes.twilio import FakeTwilio
from tests.support.sealed import Opener

RESIDENTS = 10
EACH = 60  # one a second for a minute, sent as fast as the test can


@pytest.fixture
async def bot(tmp_path, fake_twilio: FakeTwilio) -> AsyncIterator[Bot]:
    async for running in make_bot(tmp_path, settings_for(fake_twilio, send_rate=1000.0)):
        yield running


async def _post_all(bot: Bot, messages: list[tuple[str, str, str]]) -> set[str]:
    """Post (sid, sender, text) webhooks, `width` at a time; the sids acknowledged."""
    acked: set[str] = set()
    queue = list(messages)

    async def worker() -> None:
        while queue:
            sid, sender, text = queue.pop(0)
            response = await bot.post_twilio(ftw.inbound_params(sid, sender, text))
            if response.status == 200:
                acked.add(sid)

    await asyncio.gather(*(worker() for _ in range(16)))
    return acked


async def test_a_sender_over_the_limit_is_stored_and_noted_once(
    bot: Bot, fake_twilio: FakeTwilio
) -> None:
    limit = bot.settings.inbound_per_minute
    # Each resident's messages in order (one worker per resident keeps their order).
    per_resident = [
        [(f"SM{r:04d}{i:028d}", f"+8190{r:08d}", f"メッセージ{i}") for i in range(EACH)]
        for r in range(RESIDENTS)
    ]
    acked: set[str] = set()

    async def resident(messages: list[tuple[str, str, str]]) -> None:
        for sid, sender, text in messages:
            response = await bot.post_twilio(ftw.inbound_params(sid, sender, text))
            if response.status == 200:
                acked.add(sid)

    await asyncio.gather(*(resident(messages) for messages in per_resident))
    assert len(acked) == RESIDENTS * EACH

    def settled() -> bool:
        rows = bot.rows("SELECT status FROM inbox")
        return len(rows) == RESIDENTS * EACH and all(status == "done" for (status,) in rows)

    await eventually(settled, timeout=60)
    stored = {sid for (sid,) in bot.rows("SELECT provider_message_id FROM inbox")}
    assert acked <= stored  # acknowledged-then-dropped: none (before: 40 of 60 each)

    expected_replies = limit + 1  # the answers within the limit, and one note
    await eventually(lambda: len(fake_twilio.delivered()) >= RESIDENTS * expected_replies, 60)
    await asyncio.sleep(0.3)  # nothing more is on its way
    sent = fake_twilio.delivered()
    per_sender = Counter(r.data["To"] for r in sent)
    assert set(per_sender.values()) == {expected_replies}, per_sender
    notes = [r for r in sent if "しばらくしてから" in r.data["Body"]]
    assert len(notes) == RESIDENTS and Counter(r.data["To"] for r in notes) == Counter(
        {f"+8190{r:08d}": 1 for r in range(RESIDENTS)}
    )
    # Staff can still read every message over the limit: kept, not thrown away.
    opener = Opener(SECRET)
    texts = {
        opener.text(t) for (t,) in bot.rows("SELECT text FROM inbox WHERE limited IS NOT NULL")
    }
    assert f"メッセージ{EACH - 1}" in texts
    registry = bot.pipeline.metrics.registry

    def counted(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert counted("bot_inbound_limited_total", limit="flood_first") == RESIDENTS
    assert counted("bot_inbound_limited_total", limit="flood") == RESIDENTS * (EACH - limit - 1)
    assert counted("bot_replies_suppressed_total", reason="flood") == RESIDENTS * (EACH - limit)


async def test_many_senders_at_once_are_all_stored_and_answered(
    bot: Bot, fake_twilio: FakeTwilio
) -> None:
    messages = [(f"SM{n:032d}", f"+8190{n:08d}", "こんにちは") for n in range(400)]
    acked = await _post_all(bot, messages)
    assert len(acked) == 400
    await eventually(lambda: len(fake_twilio.delivered()) >= 400, timeout=60)
    assert {r.data["To"] for r in fake_twilio.delivered()} == {m[1] for m in messages}
    assert bot.rows("SELECT count(*) FROM inbox WHERE status = 'done'") == [(400,)]
