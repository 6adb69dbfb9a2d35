"""Small talk is recognised for the engine, and stays out of the `bot nlu` contract."""

from datetime import datetime

import pytest

from bot.clock import TOKYO
from bot.nlu import load_nlu

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)


@pytest.fixture(scope="module")
def nlu():
    return load_nlu("flows")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ありがとう", "thanks"),
        ("ありがとうございました！", "thanks"),
        ("あ、どうも", "thanks"),
        ("こんにちは", "greeting"),
        ("おはようございます😊", "greeting"),
        ("粗大ごみを出したい", None),
        ("ありがとう、ソファーも捨てたい", None),
        ("ありがとうございます。ところで保育園の空きはありますか", None),
        ("はい", None),
    ],
)
def test_smalltalk(nlu, text, kind):
    assert nlu.understand(text, NOW).smalltalk == kind


def test_smalltalk_is_not_in_the_contract_output(nlu):
    contract = nlu.understand("ありがとう", NOW).to_contract()
    assert set(contract) == {"text", "intent", "entities"}
    assert contract["intent"] is None
    assert set(contract["entities"]) == {"dates", "items", "yes_no", "numbers", "district"}
