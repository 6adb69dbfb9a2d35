"""Choice answers by number, exact label/alias, a date, or a label inside a sentence."""

from dataclasses import dataclass, field
from datetime import date

from bot.engine.answers import match_option
from bot.engine.model import Option


@dataclass
class Und:
    key: str
    choice: int | None = None
    dates: list[date] = field(default_factory=list)


def key(text: str) -> str:
    return text.replace(" ", "").lower()


DAYS = [
    Option("2026-11-27", "11月27日(金)", ["11月27日"]),
    Option("2026-12-04", "12月4日(金)", ["12月4日"]),
]
SIZES = [Option("small", "1人掛け", ["1人"]), Option("large", "2人掛け以上", ["2人"])]


def test_by_number_and_exact_alias():
    assert match_option(DAYS, Und("2", choice=2), "2", key) == 1
    assert match_option(DAYS, Und("12月4日"), "12月4日", key) == 1


def test_a_named_date_inside_a_sentence_picks_that_day():
    und = Und("12月4日でお願いします", dates=[date(2026, 12, 4)])
    assert match_option(DAYS, und, "12月4日でお願いします", key) == 1


def test_a_date_that_is_not_offered_picks_nothing():
    und = Und("12月11日がいい", dates=[date(2026, 12, 11)])
    assert match_option(DAYS, und, "12月11日がいい", key) is None


def test_a_label_inside_a_sentence_and_ambiguity():
    assert match_option(SIZES, Und("2人掛けです"), "2人掛けです", key) == 1
    assert match_option(SIZES, Und("1人かな2人かな"), "1人かな2人かな", key) is None


def test_a_day_not_offered_is_never_read_as_an_offered_day_it_contains():
    # 「1月11日」 contains 「1日」, an alias of 2月1日: the resident did not choose 2月1日.
    days = [
        Option("2027-01-18", "1月18日(月)", ["1月18日", "1/18", "18日"]),
        Option("2027-02-01", "2月1日(月)", ["2月1日", "2/1", "1日"]),
    ]
    for text in ("1月11日", "11日でお願いします"):
        und = Und(key(text), dates=[date(2027, 1, 11)])
        assert match_option(days, und, text, key) is None
    und = Und("2月1日で", dates=[date(2027, 2, 1)])
    assert match_option(days, und, "2月1日で", key) == 1


def test_a_date_in_the_message_does_not_block_choices_that_are_not_days():
    und = Und("12月4日は2人掛けです", dates=[date(2026, 12, 4)])
    assert match_option(SIZES, und, "12月4日は2人掛けです", key) == 1
