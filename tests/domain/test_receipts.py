"""受付番号: 8 characters, unambiguous alphabet, unique against the bookings table."""

import random

import sqlite_utils

from bot.domain import receipts
from tests.domain.stores import bookings_store


def test_alphabet_has_no_ambiguous_characters():
    for char in "0O1I":
        assert char not in receipts.ALPHABET
    assert len(set(receipts.ALPHABET)) == len(receipts.ALPHABET)


def test_generated_receipts_are_8_characters_of_the_alphabet():
    for _ in range(200):
        value = receipts.generate()
        assert len(value) == 8
        assert set(value) <= set(receipts.ALPHABET)


def test_new_receipt_skips_numbers_already_used():
    db = sqlite_utils.Database(memory=True)
    store = bookings_store(db)
    first = receipts.generate(random.Random(7).choice)
    db.execute(
        "INSERT INTO bookings (receipt, resident_id, district, collection_date, items,"
        " item_count, fee_total, created_at, updated_at) VALUES (?, 'r', '北', '2026-12-07',"
        " '[]', 1, 300, 'x', 'x')",
        [first],
    )
    fresh = receipts.new_receipt(store, random.Random(7).choice)
    assert fresh != first
    assert len(fresh) == 8


def test_normalise_and_find():
    assert receipts.normalise("ａｂ３ｄ－５ｆｇｈ") == "AB3D5FGH"
    assert receipts.looks_like_receipt("ab3d 5fgh")
    assert not receipts.looks_like_receipt("AB0D5FGH")  # 0 is never issued
    assert receipts.find_in("受付番号はAB3D-5FGHです") == "AB3D5FGH"
    assert receipts.find_in("12月4日に変更") is None
