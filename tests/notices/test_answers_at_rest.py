"""A resident's answer to a notice's question is theirs (「支援が必要です」 says something about
that person): sealed at rest like any text of theirs, on both backends, and opened only to
count a notice's answers for staff. The notice's own words (its choices included) are the
city's and stay readable in the notices table."""

from __future__ import annotations

import pytest

from bot.channels.base import Inbound
from bot.notices.answers import notice_answers
from bot.pipeline.intake import prepare_inbound
from bot.pipeline.turns import TurnRunner
from bot.system_texts import SystemTexts
from tests.foundation.helpers import SECRET, RecordingResponder
from tests.notices.helpers import ASK, FLOWS, World, emergency
from tests.support.sealed import Opener


@pytest.fixture
def world(location):
    w = World(location)
    w.account("tanaka", "editor")
    w.account("sato", "approver")
    yield w
    w.close()


def test_answers_are_sealed_at_rest_and_counted_by_choice(world: World) -> None:
    numbers = [world.number() for _ in range(3)]
    for number in numbers:
        world.resident(number, topics=("bousai",))
    notice_id = world.draft(emergency(ask=ASK))
    world.approve(notice_id)
    world.dispatch()
    # Sent (as the delivery worker records it): the question is open for 72 h.
    world.sql(
        "UPDATE outbox SET status = 'sent', status_at = created_at WHERE notice_id = ?",
        [notice_id],
    )
    runner = TurnRunner(
        RecordingResponder(), world.clock, SystemTexts.load(FLOWS), first_look=notice_answers(FLOWS)
    )
    answers = ["1", "無事です", "支援が必要です"]  # a number, and the choices' own words
    for n, (number, text) in enumerate(zip(numbers, answers, strict=True)):
        inbound = Inbound("twilio", "sms", f"SM{n:032x}", number, text)
        world.run(world.store.ingest([prepare_inbound(inbound, world.vault, world.now)], world.now))
    while world.run(world.store.process_batch(runner, 32)).inbox_ids:
        pass

    stored = [choice for (choice,) in world.sql("SELECT choice FROM notice_answers")]
    opener = Opener(SECRET)
    assert sorted(opener.text(choice) for choice in stored) == sorted(  # each one sealed
        ["無事です", "無事です", "支援が必要です"]
    )
    every_column = str(world.sql("SELECT * FROM notice_answers"))
    assert [c for c in ASK.choices if c in every_column] == []
    assert numbers[0][3:] not in every_column
    # Staff see the count per choice (one ciphertext per answer, summed by what it opens to).
    assert world.status(notice_id)["answers"] == {"無事です": 2, "支援が必要です": 1}
