"""Any Unicode in, an understanding out: enclosed and compatibility characters are read as
what they stand for, and no code point makes the NLU raise (issue 11, deliverable 8)."""

from __future__ import annotations

import sys
import unicodedata
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlu import Nlu
from bot.nlu.normalize import normalise_input

from .conftest import NOW

# The blocks that used to raise IndexError inside the analysis (Sudachi expanded them
# into several tokens with empty surfaces): enclosed CJK, enclosed alphanumerics,
# half-width and full-width forms.
BLOCKS = [(0x3200, 0x33FF), (0x2460, 0x24FF), (0xFF00, 0xFFEF)]


def _contract_ok(nlu: Nlu, text: str) -> None:
    result = nlu.understand(text, NOW)
    contract = result.to_contract()
    assert contract["text"] == text
    assert contract["intent"] is None or isinstance(contract["intent"], str)


def test_the_reported_sentence_is_understood(nlu: Nlu) -> None:
    result = nlu.understand("12月5日㈮に粗大ごみを出したい", NOW)
    assert result.intent == "bulky_waste"
    assert result.dates == (date(2026, 12, 5),)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("①", "choice", 1),
        ("②番でお願いします", "choice", 2),
        ("ソファー②つ", "items", (("ソファー", 2),)),
        ("ｿﾌｧｰ3ｺすてたい", "items", (("ソファー", 3),)),
        ("１２月３日", "dates", (date(2026, 12, 3),)),
        ("⑫月③日", "dates", (date(2026, 12, 3),)),
        ("1㍍20㌢", "numbers", (1, 20)),
    ],
)
def test_enclosed_and_compatibility_forms_mean_what_they_stand_for(
    nlu: Nlu, text: str, field: str, expected: object
) -> None:
    result = nlu.understand(text, NOW)
    value = getattr(result, field)
    if field == "items":
        value = tuple((item.name, item.quantity) for item in value)
    assert value == expected


def test_normalise_input_maps_compatibility_characters() -> None:
    assert normalise_input("㈮①㌔ｱ") == "(金)1キロア"
    assert normalise_input("a\x00b") == "a b"
    assert normalise_input("\ud800x") == "\ufffdx"
    assert normalise_input("plain ascii") == "plain ascii"


def test_every_code_point_of_the_reported_blocks(nlu: Nlu) -> None:
    for low, high in BLOCKS:
        for code in range(low, high + 1):
            char = chr(code)
            _contract_ok(nlu, f"12月5日{char}に粗大ごみを出したい")
            _contract_ok(nlu, char * 3)


# Every general category, surrogates and private use included.
ANY_CHAR = st.characters(codec=None, categories=None)
SAMPLE = st.text(alphabet=ANY_CHAR, max_size=40)
JAPANESE_AROUND = st.tuples(
    st.sampled_from(["", "ソファー", "12月", "粗大ごみを", "はい", "桜台"]),
    SAMPLE,
    st.sampled_from(["", "出したい", "です", "日", "2つ"]),
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(JAPANESE_AROUND)
def test_no_input_raises_fast(nlu: Nlu, text: str) -> None:
    _contract_ok(nlu, text)


@pytest.mark.fuzz
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(JAPANESE_AROUND)
def test_no_input_raises_long(nlu: Nlu, text: str) -> None:
    _contract_ok(nlu, text)


@pytest.mark.fuzz
def test_every_code_point_alone_and_in_a_sentence(nlu: Nlu) -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cn" and code % 97:  # unassigned: sample them
            continue
        _contract_ok(nlu, f"粗大ごみ{char}2つ")
