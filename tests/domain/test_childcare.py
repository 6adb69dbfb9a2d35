"""Nurseries, vacancies, 年齢, deadlines, documents, 児童手当."""

from datetime import date

import pytest

from bot.domain import allowance, childcare


@pytest.mark.parametrize(
    ("birth", "entry", "age"),
    [
        ("2024-04-01", "2025-04-01", 1),  # 4月1日生まれ joins the older class
        ("2024-04-02", "2025-04-01", 0),
        ("2024-03-15", "2025-04-01", 1),
        ("2025-06-10", "2027-01-01", 0),  # 2026年度: age on 2026-04-01
        ("2025-03-10", "2027-01-01", 1),
        ("2026-05-01", "2027-01-01", 0),  # born during the school year
        ("2021-04-01", "2027-01-01", 5),
        ("2024-02-29", "2027-01-01", 2),
    ],
)
def test_school_year_age(birth, entry, age):
    assert childcare.school_year_age(date.fromisoformat(birth), date.fromisoformat(entry)) == age


def test_zero_year_olds_from_57_days():
    entry = date(2027, 1, 1)
    assert childcare.eligibility(date(2026, 11, 5), entry) == "ok"  # 57 days
    assert childcare.eligibility(date(2026, 11, 6), entry) == "too_young"
    assert childcare.eligibility(date(2020, 4, 1), entry) == "too_old"  # 6歳 in 2026年度


def test_vacancies_for_january_2027_match_the_table():
    def names(age):
        return [(n.name, p) for n, p in childcare.with_room(age, "2027-01")]

    assert names(0) == [("さくら保育園", 1), ("ひまわり保育園", 2)]
    assert names(1) == [("ひまわり保育園", 1), ("みなみ保育園", 2)]
    assert names(3) == [("さくら保育園", 1), ("中央こども園", 3)]
    assert names(5) == [("中央こども園", 1), ("桜台保育所", 2), ("みなみ保育園", 1)]


def test_unpublished_month_is_an_error():
    assert childcare.published_months() == ["2027-01"]
    with pytest.raises(KeyError):
        childcare.with_room(1, "2027-05")


def test_april_rounds():
    rounds = childcare.april_rounds(date(2027, 4, 1))
    assert [(r.name, r.start, r.end) for r in rounds] == [
        ("一次受付", date(2026, 10, 1), date(2026, 11, 14)),
        ("二次受付", date(2027, 1, 5), date(2027, 1, 23)),
    ]
    today = date(2026, 11, 24)
    assert [r.status(today) for r in rounds] == ["closed", "upcoming"]
    assert rounds[1].status(date(2027, 1, 23)) == "open"
    assert rounds[1].status(date(2027, 1, 24)) == "closed"
    assert childcare.april_rounds(date(2028, 4, 1)) is None


def test_midyear_deadline_is_the_10th_of_the_month_before():
    assert childcare.midyear_deadline(date(2027, 1, 1)) == date(2026, 12, 10)
    assert childcare.midyear_deadline(date(2027, 3, 1)) == date(2027, 2, 10)


@pytest.mark.parametrize(
    ("text", "reason", "extra"),
    [
        ("仕事をしています", "work", "就労証明書"),
        ("求職中です", "job_seeking", "求職活動申立書"),
        ("出産のため", "pregnancy", "母子健康手帳の写し"),
        ("病気で", "illness", "診断書または障害者手帳の写し"),
        ("親の介護", "care", "介護・看護状況申告書"),
        ("大学に通っています", "study", "在学証明書"),
    ],
)
def test_documents_by_reason(text, reason, extra):
    found = childcare.match_reason(text)
    assert found is not None and found.id == reason
    assert childcare.documents(reason) == [
        "教育・保育給付認定申請書兼利用申込書",
        "マイナンバー確認書類",
        extra,
    ]


@pytest.mark.parametrize(
    ("ages", "amounts"),
    [
        ([1], [15000]),
        ([3], [10000]),
        ([17, 2], [10000, 15000]),
        ([20, 10, 1], [0, 10000, 30000]),  # the 20-year-old counts: the baby is 第3子
        ([23, 10, 1], [10000, 15000]),  # 23 is no longer counted
        ([15, 12, 8, 4], [10000, 10000, 30000, 30000]),
    ],
)
def test_allowance_by_age_and_order(ages, amounts):
    assert [c.monthly for c in allowance.per_child(ages)] == amounts


def test_allowance_payment():
    assert allowance.per_payment([1]) == 30000  # 2 months per payment
    assert allowance.next_payment_month(date(2026, 11, 24)) == date(2026, 12, 1)
    assert allowance.next_payment_month(date(2026, 12, 24)) == date(2026, 12, 1)
    assert allowance.next_payment_month(date(2027, 1, 5)) == date(2027, 2, 1)
