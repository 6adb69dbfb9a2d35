import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.redact import CARD, MASK, MY_NUMBER, luhn_valid, my_number_valid, redact


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


# ---- any separator, width and spacing a phone keyboard can type ---------------------------

MY_NUMBER_DIGITS = "123456789018"  # the check digit is right
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")
SEPARATORS = [
    "-", "－", "‐", "‑", "‒", "–", "—", "―", "−", "ー", "ｰ", "─", "〜", "～", "~",
    ".", "・", "･", "．", "·",
    " ", "  ", "\u3000", "\u00a0", "\t", "\n", "\u2009", "\u200b",
    " - ", " － ", "\u3000ー\u3000", " . ", "  -  ",
]  # fmt: skip


def _forms(digits: str) -> list[str]:
    a, b, c = digits[:4], digits[4:8], digits[8:]
    forms = [digits, digits.translate(WIDE)]
    for sep in SEPARATORS:
        forms.append(f"{a}{sep}{b}{sep}{c}")
        forms.append(f"{a}{sep}{b}{sep}{c}".translate(WIDE))
    forms.append(f"{a}-{b} - {c}")  # spacing mixed
    forms.append(f"{a.translate(WIDE)}-{b}−{c.translate(WIDE)}")  # widths and dashes mixed
    forms.append(f"{a}  {b}\u3000{c}")  # spaces mixed
    return forms


def _digits_left(cleaned: str) -> str:
    folded = unicodedata.normalize("NFKC", cleaned)
    return "".join(ch for ch in folded if ch.isdigit())


@pytest.mark.parametrize("form", _forms(MY_NUMBER_DIGITS))
def test_my_number_is_redacted_in_every_form(form):
    cleaned, kinds = redact(f"マイナンバーは{form}です。")
    assert kinds == [MY_NUMBER]
    assert cleaned == f"マイナンバーは{MASK}です。"


@st.composite
def my_number_messages(draw):
    first11 = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=11, max_size=11)))
    digits = _with_check_digit(first11)
    widths = draw(st.lists(st.booleans(), min_size=12, max_size=12))
    typed = "".join(
        d.translate(WIDE) if wide else d for d, wide in zip(digits, widths, strict=True)
    )
    if draw(st.booleans()):
        # One kind of separator (a dash, a dot or only spaces), any spacing around it.
        mark = draw(st.sampled_from(["", "-", "－", "−", "ー", "ｰ", "–", "〜", ".", "・", "．"]))
        spaces = st.sampled_from(["", " ", "  ", "\u3000", "\u00a0", "\t"])
        gaps = [draw(spaces) + mark + draw(spaces) for _ in range(2)]
        gaps = [gap or " " for gap in gaps]
        typed = f"{typed[:4]}{gaps[0]}{typed[4:8]}{gaps[1]}{typed[8:]}"
    before = draw(st.sampled_from(["", "番号は", "マイナンバー：", "私の番号 ", "（", "\n"]))
    after = draw(st.sampled_from(["", "です", " です。", "）", "\n", "。よろしく"]))
    return digits, before + typed + after


@settings(max_examples=300, deadline=None)
@given(my_number_messages())
def test_property_a_my_number_never_survives(message):
    digits, text = message
    cleaned, kinds = redact(text)
    assert kinds == [MY_NUMBER]
    assert digits not in _digits_left(cleaned)
    assert digits[-4:] not in _digits_left(cleaned)


@st.composite
def card_messages(draw):
    length, shape = draw(st.sampled_from([(16, (4, 4, 4, 4)), (15, (4, 6, 5)), (14, (4, 6, 4))]))
    body = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - 1,
                                 max_size=length - 1)))  # fmt: skip
    digits = next(body + d for d in "0123456789" if luhn_valid(body + d))
    sep = draw(st.sampled_from(["", " ", "-", "－", "−", "ー", "  ", "\u3000", " - ", "."]))
    groups, at = [], 0
    for size in shape:
        groups.append(digits[at : at + size])
        at += size
    typed = sep.join(groups)
    if draw(st.booleans()):
        typed = typed.translate(WIDE)
    return digits, f"カード番号は{typed}です"


@settings(max_examples=200, deadline=None)
@given(card_messages())
def test_property_a_card_number_never_survives(message):
    digits, text = message
    cleaned, kinds = redact(text)
    assert CARD in kinds
    assert digits not in _digits_left(cleaned)


# ---- what must not be eaten --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "12月5日に粗大ごみを出したいです。2026-12-05、2026/12/05、2026.12.05",
        "令和8年12月5日 10:00〜12:00",
        "090-1234-5678 に電話ください",
        "０９０ー１２３４ー５６７８",
        "+81 90 1234 5678",
        "+819012345678",  # an E.164 number: not a My Number even when its digits would pass
        "電話 03-1234-5678 / 0285-12-3456 / 050 1234 5678",
        "郵便番号 329-1392",
        "手数料は1,000円、合計 12,345,678,901 円です",
        "受付番号 ABCD2345 と 23456789",
        "2026-12-05 090-1234-5678 329-1392",  # a date, a phone and a postcode side by side
        "0001-0000 2000-01-01",  # two numbers whose groups would make a valid My Number
        "0001 0000 2000 01 01",
        "ソファー2つ、椅子 3 脚、机 1 台",
    ],
)
def test_dates_phones_amounts_and_receipts_are_kept(text):
    assert redact(text) == (text, [])


@st.composite
def harmless_numbers(draw):
    """Dates, Japanese phone numbers, postcodes and amounts, typed with any separator."""
    sep = draw(st.sampled_from(["-", "－", "−", "ー", " ", "  ", "\u3000", ".", "・", "/"]))
    kind = draw(st.sampled_from(["date", "mobile", "landline", "postcode", "amount", "two"]))
    n = draw(st.integers(0, 99_999_999))
    if kind == "date":
        return f"20{n % 100:02d}{sep}{n % 12 + 1:02d}{sep}{n % 28 + 1:02d}"
    if kind == "mobile":
        return f"0{draw(st.sampled_from('789'))}0{sep}{n // 10_000:04d}{sep}{n % 10_000:04d}"
    if kind == "landline":
        return f"0{n % 9 + 1}{sep}{n // 10_000:04d}{sep}{n % 10_000:04d}"
    if kind == "postcode":
        return f"{n % 1000:03d}{sep}{n % 10_000:04d}"
    if kind == "amount":
        return f"{n:,}円"
    return f"{n % 10_000:04d}{sep}{n // 10_000:04d}"  # two groups of four: 8 digits


@settings(max_examples=300, deadline=None)
@given(st.lists(harmless_numbers(), min_size=1, max_size=3), st.sampled_from(["、", " と ", "。"]))
def test_property_harmless_numbers_are_kept(numbers, joiner):
    # Not joined by bare spaces: "1234 5678" + " " + "9012 3456" IS a card number's shape.
    text = "お問い合わせ " + joiner.join(numbers)
    assert redact(text) == (text, [])


@pytest.mark.parametrize(
    "text",
    [
        "マイナンバー123456789012",  # the check digit is wrong: a typo still gives 11 away
        "私の個人番号は 1234 5678 9012 です",
        "ﾏｲﾅﾝﾊﾞｰは1234-5678-9012",
        "マイナ番号：１２３４５６７８９０１２",
    ],
)
def test_twelve_digits_in_a_text_that_names_a_my_number_are_masked(text):
    masked, kinds = redact(text)
    assert kinds == ["my_number"]
    assert not any(ch.isdigit() for ch in masked)


def test_a_named_my_number_does_not_mask_other_numbers():
    masked, _ = redact("マイナンバーカードの予約 受付番号ABCD2345 電話090-1234-5678")
    assert "090-1234-5678" in masked and "2345" in masked
