"""District from an address, a 町名, kana or the district name."""

import pytest

from bot.domain.districts import find_place


@pytest.mark.parametrize(
    ("text", "district", "town"),
    [
        ("さくら市桜台3丁目5-2", "桜台", "桜台"),
        ("桜台", "桜台", "桜台"),
        ("さくらだい", "桜台", "桜台"),
        ("桜台地区", "桜台", "桜台"),
        ("桜ヶ丘2-1", "北", "桜ヶ丘"),
        ("桜が丘", "北", "桜ヶ丘"),
        ("日の出町1-2-3", "東", "日の出町"),
        ("港町です", "南", "港町"),
        ("中央", "中央", "中央"),
        ("本町4丁目", "中央", "本町"),
        ("北地区", "北", None),
        ("きた", "北", None),
        ("西", "西", None),
    ],
)
def test_find_place(text, district, town):
    place = find_place(text)
    assert place is not None
    assert (place.district, place.town) == (district, town)


@pytest.mark.parametrize("text", ["東京都千代田区", "わかりません", ""])
def test_unknown_places(text):
    assert find_place(text) is None
