"""Fees per item and variant, totals, and the fewest 処理券."""

import pytest

from bot.domain import data
from bot.domain.catalogue import Catalogue
from bot.domain.fees import Line, describe, fewest_tickets, price, ticket_plan, tickets_for, total

TICKETS = [300, 500]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return Catalogue.load()


@pytest.mark.parametrize(
    ("name", "variant", "fee"),
    [
        ("ソファー", "1人掛け", 500),
        ("ソファー", "2人掛け以上", 1000),
        ("ベッド", "シングル", 1000),
        ("ベッド", "セミダブル以上", 1500),
        ("マットレス", "スプリング入り", 1300),
        ("マットレス", "スプリングなし", 500),
        ("タンス", "高さ1m未満", 800),
        ("タンス", "高さ1m以上", 1500),
        ("カーペット", "6畳まで", 300),
        ("カーペット", "6畳超", 500),
        ("布団", None, 300),
        ("机", None, 800),
        ("食器棚", None, 1500),
        ("ストーブ", None, 500),
    ],
)
def test_fee_per_item_and_variant(cat, name, variant, fee):
    assert price(cat, name, 1, variant).fee == fee


def test_synonyms_in_any_form_find_the_item(cat):
    for word in ["ソファ", "そふぁー", "ｿﾌｧｰ", "長椅子", "カウチ"]:
        assert cat.canonical(word) == "ソファー"
    assert cat.canonical("ﾍﾞｯﾄ") == "ベッド"
    assert cat.canonical("じてんしゃ") == "自転車"


def test_variant_without_choice_is_an_error(cat):
    with pytest.raises(ValueError):
        price(cat, "ソファー", 1)


def test_not_accepted_item_cannot_be_priced(cat):
    with pytest.raises(KeyError):
        price(cat, "冷蔵庫", 1)


def test_total_multiplies_quantities():
    lines = [Line("椅子", 2, 300), Line("ソファー", 1, 1000, "2人掛け以上")]
    assert total(lines) == 1600


@pytest.mark.parametrize(
    ("amount", "counts"),
    [
        (800, {500: 1, 300: 1}),  # spec example
        (1300, {500: 2, 300: 1}),  # spec example
        (300, {300: 1}),
        (500, {500: 1}),
        (600, {300: 2}),
        (1500, {500: 3}),  # not 300×5
        (3000, {500: 6}),
        (0, {}),
    ],
)
def test_fewest_tickets(amount, counts):
    assert fewest_tickets(amount, TICKETS) == counts


def test_describe_reads_like_the_spec():
    assert describe(ticket_plan(800, TICKETS)) == "300円券1枚・500円券1枚"
    assert describe(ticket_plan(1300, TICKETS)) == "300円券1枚・500円券2枚"


@pytest.mark.parametrize("amount", [100, 200, 400, 700])
def test_no_exact_combination_gives_the_smallest_overpayment(amount):
    assert fewest_tickets(amount, TICKETS) is None
    plan = ticket_plan(amount, TICKETS)
    assert not plan.exact
    assert plan.value >= amount
    assert plan.value == min(
        v for v in range(amount, amount + 600) if fewest_tickets(v, TICKETS) is not None
    )


def test_every_catalogue_fee_can_be_paid_exactly(cat):
    for item in cat.items.values():
        fees = [v.fee for v in item.variants] or [item.fee]
        for fee in fees:
            assert fewest_tickets(fee, TICKETS) is not None, item.name


def test_tickets_for_total_vs_per_item():
    chairs = [Line("椅子", 5, 300)]
    rules = data.load("bulky_rules")
    assert tickets_for(chairs, rules).counts == {500: 3}  # the city's rule: exact total
    per_item = {**rules, "tickets": {**rules["tickets"], "per_item": True}}
    assert tickets_for(chairs, per_item).counts == {300: 5}
