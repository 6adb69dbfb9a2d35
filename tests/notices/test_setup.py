"""The dispatcher's settings from the environment: defaults, values, and a clear refusal."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.notices.dispatch import BATCH, RATE
from bot.notices.setup import fanout_batch, fanout_rate


def test_defaults_and_values() -> None:
    assert (fanout_batch({}), fanout_rate({})) == (BATCH, RATE)
    assert fanout_batch({"BOT_NOTICE_BATCH": " 50 "}) == 50
    assert fanout_rate({"BOT_NOTICE_FANOUT_RATE": "500"}) == 500.0
    assert fanout_rate({"BOT_NOTICE_FANOUT_RATE": "0"}) == 0.0  # no limit


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("BOT_NOTICE_BATCH", "0"),
        ("BOT_NOTICE_BATCH", "many"),
        ("BOT_NOTICE_FANOUT_RATE", "-1"),
        ("BOT_NOTICE_FANOUT_RATE", "fast"),
        ("BOT_NOTICE_FANOUT_RATE", "nan"),
    ],
)
def test_bad_values_are_named(name: str, raw: str) -> None:
    read = fanout_batch if name == "BOT_NOTICE_BATCH" else fanout_rate
    with pytest.raises(ConfigError, match=name):
        read({name: raw})
