"""What an inbound text becomes before it is stored: storable, and shown as it was typed."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.channels.base import Inbound
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from tests.foundation.helpers import SECRET

NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def _stored(text: str) -> str:
    inbound = Inbound("twilio", "sms", "m-1", "+819012345678", text)
    return prepare_inbound(inbound, NumberVault(SECRET), NOW).text


def test_bidi_controls_cannot_make_a_text_read_otherwise_for_staff():
    spoof = "支払いは\u202eんせまりあ\u202c済みです\u2066x\u2069"
    assert _stored(spoof) == "支払いはんせまりあ済みですx"


def test_nul_and_lone_surrogates_are_made_storable_and_the_rest_kept():
    assert _stored("ソファー\x00を\ud800捨てたい😀") == "ソファーを?捨てたい😀"
