"""The Japanese numbering plan: what a resident's number can be, in every form people write."""

from __future__ import annotations

import pytest

from bot import numbering
from bot.numbering import IP, LANDLINE, MOBILE, InvalidNumber


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+819012345678", MOBILE),
        ("+818012345678", MOBILE),
        ("+817012345678", MOBILE),
        ("+815012345678", IP),
        ("+81312345678", LANDLINE),  # 03 Tokyo
        ("+81476123456", LANDLINE),  # 0476 Narita
        ("+81285123456", LANDLINE),  # 0285 Oyama (near さくら市)
    ],
)
def test_numbers_in_the_plan_are_accepted(number, kind):
    parsed = numbering.from_e164(number)
    assert parsed.kind == kind and parsed.e164 == number
    assert numbering.check_e164(number) == number


@pytest.mark.parametrize(
    "number",
    [
        "+8190123",  # far too short (accepted before)
        "+81901234567",  # mobile one digit short
        "+8190123456789",  # mobile one digit long
        "+815012345",  # IP too short
        "+8131234567",  # landline one digit short
        "+813123456789",  # 11 digits starting with 3: no such number
        "+811201234567",  # 0120 freephone: not a phone a resident texts from
        "+81120123456",
        "+81570123456",  # 0570 navi dial
        "+81990123456",  # 0990 premium
        "+81180123456",
        "+812012345678",  # 020: M2M / pagers
        "+816012345678",  # 060: reserved
        "+81012345678",  # a trunk 0 inside E.164
        "+81",
        "+81abcdefghij",
    ],
)
def test_numbers_outside_the_plan_are_refused(number):
    with pytest.raises(InvalidNumber):
        numbering.from_e164(number)
    with pytest.raises(InvalidNumber):
        numbering.check_e164(number)


@pytest.mark.parametrize(
    "number", ["+14155550100", "+442071838750", "+61412345678", "+8613912345678"]
)
def test_other_countries_only_need_the_e164_shape(number):
    assert numbering.check_e164(number) == number


@pytest.mark.parametrize("number", ["09012345678", "+1", "+0123456789", "819012345678", ""])
def test_check_e164_wants_e164(number):
    with pytest.raises(InvalidNumber):
        numbering.check_e164(number)


@pytest.mark.parametrize(
    "written",
    [
        "090-1234-5678",
        "09012345678",
        "090 1234 5678",
        "０９０−１２３４−５６７８",  # full width, U+2212 minus
        "０９０ー１２３４ー５６７８",  # the long-vowel mark an IME types for "-"
        "090.1234.5678",
        "(090) 1234-5678",
        "+81 90-1234-5678",
        "+81 (0)90 1234 5678",
        "+81 090 1234 5678",
        "0081-90-1234-5678",
        "＋８１９０１２３４５６７８",
    ],
)
def test_written_forms_parse_to_one_e164(written):
    parsed = numbering.parse(written)
    assert parsed.e164 == "+819012345678" and parsed.kind == MOBILE
    assert parsed.domestic == "09012345678"


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("03-1234-5678", "+81312345678"),
        ("0285-12-3456", "+81285123456"),
        ("050-1234-5678", "+815012345678"),
    ],
)
def test_landline_and_ip_written_forms(written, e164):
    assert numbering.parse(written).e164 == e164


@pytest.mark.parametrize(
    "written",
    ["090-1234-567", "0120-123-456", "1234-5678", "+1 415 555 0100", "090-1234-567a", "", "電話"],
)
def test_written_forms_outside_the_plan_are_refused(written):
    with pytest.raises(InvalidNumber):
        numbering.parse(written)
