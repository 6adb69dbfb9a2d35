"""Redact My Number-shaped and card-number-shaped digits before a message is stored."""

from __future__ import annotations

import re

# Digit runs that may be broken up by spaces or hyphens, as people type them.
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){11,18}(?![0-9])")
# Full-width digits and dashes are common in Japanese input; fold them one-for-one so
# match positions in the folded text are positions in the original.
_FOLD = str.maketrans("０１２３４５６７８９－‐ー　", "0123456789--- ")
MY_NUMBER = "my_number"
CARD = "card"


def my_number_valid(digits: str) -> bool:
    """The 12th digit of an individual number is a check digit (総務省令 formula)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(d) for d in digits[:11]][::-1]  # P1 is the rightmost of the first 11
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, start=1))
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(digits[11])


def luhn_valid(digits: str) -> bool:
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def redact(text: str) -> tuple[str, list[str]]:
    """Return the text with sensitive numbers masked and the kinds that were found."""
    # Full-width digits are common in Japanese input; compare on NFKC digits only.
    folded = text.translate(_FOLD)
    found: list[str] = []
    pieces: list[str] = []
    last = 0
    for match in _DIGIT_RUN.finditer(folded):
        digits = re.sub(r"[ \-]", "", match.group())
        kind = None
        if my_number_valid(digits):
            kind = MY_NUMBER
        elif luhn_valid(digits):
            kind = CARD
        if kind is None:
            continue
        found.append(kind)
        pieces.append(text[last : match.start()])
        pieces.append("［番号を削除しました］")
        last = match.end()
    if not found:
        return text, []
    pieces.append(text[last:])
    return "".join(pieces), sorted(set(found))
