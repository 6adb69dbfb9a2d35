"""Answers to a variant question: inside sentences, and never a guess between two."""

import pytest

from bot.domain.catalogue import Catalogue


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load()


@pytest.mark.parametrize(
    ("item", "text", "expected"),
    [
        ("ソファー", "2人掛けです", "2人掛け以上"),
        ("ソファー", "ひとり用のやつ", "1人掛け"),
        ("マットレス", "スプリングなしです", "スプリングなし"),
        ("マットレス", "スプリング入りです", "スプリング入り"),
        ("タンス", "1m以上あります", "高さ1m以上"),
        ("ソファー", "1人掛けじゃなくて2人掛けかな", None),
        ("ソファー", "よく分かりません", None),
        ("ソファー", "2️⃣", "2人掛け以上"),  # a keycap emoji is the number
    ],
)
def test_variant_answer(catalogue, item, text, expected):
    variant = catalogue.match_variant(catalogue.item(item), text, answer=True)
    assert (variant.name if variant else None) == expected
