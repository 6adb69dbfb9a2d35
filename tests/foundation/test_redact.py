from bot.redact import CARD, MY_NUMBER, luhn_valid, my_number_valid, redact


def _with_check_digit(first11: str) -> str:
    for digit in "0123456789":
        if my_number_valid(first11 + digit):
            return first11 + digit
    raise AssertionError("no check digit")


def test_my_number_check_digit_known_value():
    assert my_number_valid("123456789018")
    assert not my_number_valid("123456789012")


def test_my_number_redacted_in_any_common_spelling():
    number = _with_check_digit("98765432109")
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for text in (f"番号は{number}です", f"番号は{spaced}です", f"番号は{wide}です"):
        cleaned, kinds = redact(text)
        assert kinds == [MY_NUMBER]
        assert number[-4:] not in cleaned.translate(
            str.maketrans("０１２３４５６７８９", "0123456789")
        )
        assert cleaned.startswith("番号は") and cleaned.endswith("です")


def test_twelve_digits_without_valid_check_digit_are_kept():
    number = _with_check_digit("98765432109")
    wrong = number[:11] + str((int(number[11]) + 1) % 10)
    assert redact(f"注文番号 {wrong}") == (f"注文番号 {wrong}", [])


def test_card_numbers_redacted_by_luhn():
    assert luhn_valid("4111111111111111")
    cleaned, kinds = redact("カードは4111-1111-1111-1111でお願いします")
    assert kinds == [CARD] and "1111" not in cleaned
    assert redact("4111111111111112")[1] == []


def test_phone_numbers_and_receipts_untouched():
    text = "090-1234-5678 に電話ください。受付番号 ABCD2345、郵便番号 123-4567"
    assert redact(text) == (text, [])
