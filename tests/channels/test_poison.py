"""200 signed webhooks at once, one of them poisoned: the other 199 are acknowledged and
stored (before: the poisoned row failed the group commit and 179 of 200 got 503)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fakes import rcs as frcs
from tests.fakes.fixtures import Bot, make_bot, settings_for


@pytest.fixture
async def bot(tmp_path, fake_rcs) -> AsyncIterator[Bot]:
    async for running in make_bot(tmp_path, settings_for(rcs=fake_rcs), deliver=False):
        yield running


@pytest.mark.parametrize("field", ["messageId", "postbackData"])
async def test_one_poisoned_webhook_among_200_fails_alone(bot: Bot, field: str) -> None:
    events = []
    for i in range(200):
        sender = f"+8190{i:08d}"
        if field == "postbackData":
            events.append(frcs.tap_event(sender, f"rbm-{i}", f"choice:{i}", "はい"))
        else:
            events.append(frcs.text_event(sender, f"rbm-{i}", f"こんにちは {i}"))
    poisoned = 77
    if field == "postbackData":
        events[poisoned]["suggestionResponse"]["postbackData"] = "choice:\ud800"
    else:
        events[poisoned]["messageId"] = "rbm-\ud800"

    async def post(event: dict) -> int:
        response = await bot.post_rcs(event)
        return response.status

    statuses = await asyncio.gather(*(post(event) for event in events))
    refused = [i for i, status in enumerate(statuses) if status != 200]
    # The poisoned one may be refused (by the edge, or alone at the commit) or, where it
    # can be stored after all, stored: never may it take the others down with it.
    assert refused in ([], [poisoned]), {statuses[i] for i in refused}
    assert bot.rows("SELECT count(*) FROM inbox")[0][0] == 200 - len(refused)
