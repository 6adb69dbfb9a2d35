"""Dates, numbers, yes/no, items, districts, choices."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.clock import TOKYO
from bot.nlu import Nlu

from .conftest import NOW

SUNDAY = datetime(2026, 11, 22, 9, 0, tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明日", date(2026, 11, 25)),
        ("あさって", date(2026, 11, 26)),
        ("3日後", date(2026, 11, 27)),
        ("金曜日", date(2026, 11, 27)),
        ("火曜日", date(2026, 12, 1)),  # today is Tuesday: the next one
        ("今度の月曜", date(2026, 11, 30)),
        ("来週の火曜", date(2026, 12, 1)),
        ("再来週の水曜", date(2026, 12, 9)),
        ("来月の5日", date(2026, 12, 5)),
        ("12月3日", date(2026, 12, 3)),
        ("１２月１５日", date(2026, 12, 15)),
        ("十二月三日", date(2026, 12, 3)),
        ("12/10", date(2026, 12, 10)),
        ("令和8年12月7日", date(2026, 12, 7)),
        ("11月1日", date(2027, 11, 1)),  # passed this year: next year
        ("1/5", date(2027, 1, 5)),
        ("文化の日", date(2027, 11, 3)),  # holiday names from jpholiday
    ],
)
def test_dates(nlu: Nlu, text: str, expected: date) -> None:
    assert nlu.understand(text, NOW).dates == (expected,)


def test_next_week_is_the_next_calendar_week(nlu: Nlu) -> None:
    # From a Sunday, 来週 is the week starting tomorrow (weeks start on Monday).
    assert nlu.understand("来週の火曜", SUNDAY).dates == (date(2026, 11, 24),)
    assert nlu.understand("火曜", SUNDAY).dates == (date(2026, 11, 24),)


def test_date_numbers_are_not_numbers(nlu: Nlu) -> None:
    result = nlu.understand("12月3日にタンス2つ", NOW)
    assert result.numbers == (2,)
    assert [(i.name, i.quantity) for i in result.items] == [("タンス", 2)]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [("二つ", [2]), ("ふたつ", [2]), ("３脚", [3]), ("十五", [15]), ("よやく", [])],
)
def test_numbers(nlu: Nlu, text: str, numbers: list[int]) -> None:
    assert list(nlu.understand(text, NOW).numbers) == numbers


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("はい", "yes"),
        ("うん", "yes"),
        ("ええ", "yes"),
        ("OK", "yes"),
        ("大丈夫です", "yes"),
        ("お願いします", "yes"),
        ("あ、はい", "yes"),
        ("👍", "yes"),
        ("いいえ", "no"),
        ("いや", "no"),
        ("ちがいます", "no"),
        ("結構です", "no"),
        ("やめておきます", "no"),
        ("大丈夫じゃないです", "no"),
        ("ううん", "no"),
        ("ソファーの回収をお願いします", None),
        ("いらなくなった机", None),
    ],
)
def test_yes_no(nlu: Nlu, text: str, answer: str | None) -> None:
    assert nlu.understand(text, NOW).yes_no == answer


@pytest.mark.parametrize(
    ("text", "district", "town"),
    [
        ("さくら市桜台3丁目5-2", "桜台", "桜台"),
        ("さくらだい", "桜台", "桜台"),
        ("みどりまち", "北", "緑町"),
        ("桜ケ丘", "北", "桜ヶ丘"),
        ("中央地区です", "中央", None),
        ("北", "北", None),
        ("ひがし", "東", None),
        ("北海道", None, None),
    ],
)
def test_districts(nlu: Nlu, text: str, district: str | None, town: str | None) -> None:
    result = nlu.understand(text, NOW)
    assert (result.district, result.town) == (district, town)


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("1", 1),
        ("１", 1),
        ("①", 1),
        ("2️⃣", 2),  # a keycap emoji
        ("1番", 1),
        ("２番です", 2),
        ("三番", 3),
        ("2つ", None),
        ("1人", None),
        ("ソファー1", None),
    ],
)
def test_choice(nlu: Nlu, text: str, choice: int | None) -> None:
    assert nlu.understand(text, NOW).choice == choice


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ｿﾌｧｰ2つとﾀﾝｽ", [("ソファー", 2, "accepted"), ("タンス", 1, "accepted")]),
        ("れいぞうこ", [("冷蔵庫", 1, "not_accepted")]),
        ("れいぞう庫", [("冷蔵庫", 1, "not_accepted")]),
        ("ドライヤー", [("ドライヤー", 1, "small")]),
        ("2台の自転車", [("自転車", 2, "accepted")]),
        ("椅子×3", [("椅子", 3, "accepted")]),
        ("ベッドマット", [("マットレス", 1, "accepted")]),
        ("シングルベッド", [("ベッド", 1, "accepted")]),
    ],
)
def test_items(nlu: Nlu, text: str, expected: list[tuple[str, int, str]]) -> None:
    result = nlu.understand(text, NOW)
    assert [(i.name, i.quantity, i.kind) for i in result.items] == expected


def test_variant_named_in_the_text(nlu: Nlu) -> None:
    result = nlu.understand("1人掛けのソファーとセミダブルのベッド", NOW)
    assert [(i.name, i.variant) for i in result.items] == [
        ("ソファー", "1人掛け"),
        ("ベッド", "セミダブル以上"),
    ]
