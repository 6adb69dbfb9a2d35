"""General rules behind the outside review's findings (one test per rule, several texts
each, so that the rule and not the reviewer's sentence is what is tested)."""

from __future__ import annotations

import pytest

from bot.nlu import Nlu

from .conftest import NOW


def _items(nlu: Nlu, text: str, context: str | None = None) -> dict[str, int]:
    return {item.name: item.quantity for item in nlu.understand(text, NOW, context).items}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("オレンジ", {}),  # レンジ is not a word inside オレンジ
        ("チャレンジしたい", {}),
        ("ミラーレスカメラ", {}),  # ミラー is not a word inside ミラーレス
        ("シングルベッド", {"ベッド": 1}),  # シングル|ベッド: a word boundary in the compound
        ("ダブルベッドとソファー", {"ベッド": 1, "ソファー": 1}),
        ("ｿﾌｧｰ", {"ソファー": 1}),
    ],
)
def test_katakana_terms_match_whole_words_only(nlu: Nlu, text: str, expected: dict) -> None:
    assert _items(nlu, text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "numbers"),
    [
        ("いす三脚", {"椅子": 3}, [3]),
        ("椅子四脚", {"椅子": 4}, [4]),
        ("タンス二棹", {"タンス": 2}, [2]),
    ],
)
def test_kanji_numeral_with_counter_in_one_word(
    nlu: Nlu, text: str, expected: dict, numbers: list[int]
) -> None:
    result = nlu.understand(text, NOW)
    assert _items(nlu, text) == expected
    assert result.numbers == numbers
