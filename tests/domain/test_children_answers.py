"""Reading 児童手当 answers (a count is not an age) and a child's possible 4月1日 class."""

from datetime import date

import pytest

from bot.domain import childcare
from bot.domain.actions_people import read_children

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("text", "count", "ages"),
    [
        ("2人", 2, []),
        ("3人です", 3, []),
        ("子どもは二人です", 2, []),
        ("ふたりです", 2, []),
        ("1人、3歳", 1, [3]),
        ("2人、5歳と2歳", 2, [5, 2]),
        ("20歳、10歳、1歳", None, [20, 10, 1]),
        ("10 3 0", None, [10, 3, 0]),
        ("2020年6月1日と2024年3月3日", None, [6, 2]),
        ("生後3ヶ月", None, [0]),
    ],
)
def test_read_children(text, count, ages):
    assert read_children(text, TODAY) == (count, ages)


@pytest.mark.parametrize(
    ("age_now", "entry", "classes"),
    [
        (6, date(2027, 1, 1), [5, 6]),  # 2026年度: 5 on 2026-04-01 if born after 4月1日
        (3, date(2027, 1, 1), [2, 3]),
        (0, date(2027, 1, 1), [0]),
        (5, date(2027, 4, 1), [5, 6]),  # 2027年度: may turn 6 before 2027-04-01
        (7, date(2027, 1, 1), [6, 7]),
    ],
)
def test_class_ages_for_an_age_given_today(age_now, entry, classes):
    assert childcare.class_ages_for_current_age(age_now, TODAY, entry) == classes
