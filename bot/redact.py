"""Redact My Number-shaped and card-number-shaped digits before a message is stored.

Normalise first, then match. Each character is classified on its own NFKC form, so match
positions stay positions in the original text:

- digits: any decimal digit of any width (1, １, and other scripts' digits);
- separators: any whitespace (including the ideographic space), every dash, hyphen and
  minus sign (U+2212, the full-width －, the long-vowel mark ー an IME types for "-" and its
  look-alikes), dots (. ・ ·) — a few of them between two digit groups
  ("1234 - 5678 - 9018", two spaces, a line break);
- invisible characters (zero-width spaces, variation selectors, the keycap mark) are
  skipped, so they can neither hide a number nor split one.

Then a run of digit groups is matched by its grouping, which keeps false positives low: a
My Number is written unbroken or 4-4-4 (and must carry its check digit); a card number is
unbroken, in fours (13, 16, 19 digits) or 4-6-5 / 4-6-4 (and must pass Luhn). Inside one
number the separators are of one kind (dashes, dots or spaces, however many spaces), and a
number is never cut out of a longer run (see _candidates). Dates, phone numbers
(090-1234-5678, +81 90 1234 5678), postcodes, amounts (1,000円) and 受付番号 never match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

MY_NUMBER = "my_number"
CARD = "card"
MASK = "［番号を削除しました］"

# Character classes. A separator token is a run of spaces, dashes and dots.
_DIGIT, _SPACE, _DASH, _DOT, _INVISIBLE, _PLUS, _OTHER, _SEPARATOR = range(8)
# Dash-like characters outside Unicode's "Pd" category: minus signs, the long-vowel mark
# (ー, half-width ｰ) and what looks like it (─ ━ 一 ㇐ ⼀), and the tildes a phone's keyboard
# offers next to the hyphen.
_DASH_LIKE = set("−➖⁻₋﹣－ーｰ─━一㇐⼀~〜～")
_DOTS = set(".・･·‧∙⋅．")
MAX_SEPARATOR = 5  # characters between two groups of one number, e.g. "  -  "
MAX_MARKS = 2  # dashes or dots between two groups

MY_NUMBER_SHAPES = {(12,), (4, 4, 4)}


def _card_shape(shape: tuple[int, ...]) -> bool:
    if not 13 <= sum(shape) <= 19:
        return False
    if len(shape) == 1 or shape in {(4, 6, 5), (4, 6, 4)}:  # Amex, Diners
        return True
    return len(shape) >= 3 and all(g == 4 for g in shape[:-1]) and 1 <= shape[-1] <= 4


@lru_cache(maxsize=4096)
def _kind(char: str) -> tuple[int, str]:
    """The class of one character and, for a digit, its ASCII value."""
    if char.isascii():  # the common case, answered without Unicode tables
        if char.isdigit():
            return _DIGIT, char
        if char.isspace():
            return _SPACE, ""
        return {"-": _DASH, "~": _DASH, ".": _DOT, "+": _PLUS}.get(char, _OTHER), ""
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1 and (value := unicodedata.decimal(folded, None)) is not None:
        return _DIGIT, str(value)
    if char.isspace() or folded.isspace():
        return _SPACE, ""
    if char in _DOTS or folded in _DOTS:
        return _DOT, ""
    if folded == "+":
        return _PLUS, ""
    category = unicodedata.category(char)
    if char in _DASH_LIKE or folded in "-~" or category == "Pd":
        return _DASH, ""
    if category in {"Mn", "Me", "Cf"}:  # zero-width, variation selectors, keycap ⃣
        return _INVISIBLE, ""
    return _OTHER, ""


@dataclass
class _Token:
    kind: int  # _DIGIT, _SEPARATOR, _PLUS or _OTHER
    start: int
    end: int
    digits: str = ""  # a digit group's ASCII digits
    marks: set[int] = field(default_factory=set)  # a separator's kinds of mark (dash, dot)
    count: int = 0  # a separator's dashes and dots

    @property
    def style(self) -> frozenset[int]:
        """What separates: spaces only (empty), dashes, dots (spaces around do not count)."""
        return frozenset(self.marks)

    def joins(self) -> bool:
        """A separator short enough to join two groups of one number."""
        return self.end - self.start <= MAX_SEPARATOR and self.count <= MAX_MARKS


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for index, char in enumerate(text):
        kind, value = _kind(char)
        last = tokens[-1] if tokens else None
        if kind == _INVISIBLE:
            if last is not None and last.kind in (_DIGIT, _SEPARATOR):
                last.end = index + 1  # skipped, inside the group or separator it is in
            continue
        joined = _SEPARATOR if kind in (_SPACE, _DASH, _DOT) else kind
        if last is not None and last.kind == joined and joined in (_DIGIT, _SEPARATOR):
            last.end = index + 1
        else:
            last = _Token(joined, index, index + 1)
            tokens.append(last)
        last.digits += value
        if kind in (_DASH, _DOT):
            last.marks.add(kind)
            last.count += 1
    return tokens


@dataclass
class _Run:
    """Digit groups joined by short separators (separators[i] is between groups i and i+1)."""

    groups: list[_Token]
    separators: list[_Token]
    after_plus: bool  # right after a "+": an international phone number


def _runs(tokens: list[_Token]) -> list[_Run]:
    runs: list[_Run] = []
    run: _Run | None = None
    gap: _Token | None = None  # a separator after the current run's last group
    previous: _Token | None = None
    for token in tokens:
        if token.kind == _DIGIT:
            if run is not None and gap is not None and gap.joins():
                run.groups.append(token)
                run.separators.append(gap)
            else:
                after_plus = previous is not None and previous.kind == _PLUS
                run = _Run([token], [], after_plus)
                runs.append(run)
            gap = None
        elif token.kind == _SEPARATOR and run is not None and previous is run.groups[-1]:
            gap = token
        else:
            run, gap = None, None
        previous = token
    return runs


# A text that says it carries a My Number: its 12 digits are masked even when the check
# digit is wrong (a typo in one digit still gives away the other eleven).
_MY_NUMBER_NAMED = re.compile(
    r"マイナンバー|まいなんばー|個人番号|マイナ番号|mynumber", re.IGNORECASE
)


def _kind_of(groups: list[_Token], named: bool = False) -> str | None:
    shape = tuple(len(group.digits) for group in groups)
    digits = "".join(group.digits for group in groups)
    if shape in MY_NUMBER_SHAPES and (named or my_number_valid(digits)):
        return MY_NUMBER
    if _card_shape(shape) and luhn_valid(digits):
        return CARD
    return None


def _candidates(run: _Run) -> Iterator[tuple[int, int]]:
    """(first, last) group indices that may form one number.

    Dashes and dots bind harder than spaces: a run splits at its spaces-only separators into
    words ("2026-12-05", "1234-5678-9018", "1234"). A number is a whole word whose
    separators are of one kind, or a whole sequence of bare groups joined by spaces
    ("1234 5678 9018") — never a piece cut out of a longer one, which is where unrelated
    numbers side by side would make false matches."""
    words: list[tuple[int, int]] = []
    start = 0
    for index, separator in enumerate(run.separators):
        if not separator.style:
            words.append((start, index))
            start = index + 1
    words.append((start, len(run.groups) - 1))
    bare: list[int] = []
    for first, last in words:
        if len({sep.style for sep in run.separators[first:last]}) == 1 or first == last:
            yield first, last
        if first == last:
            bare.append(first)
            continue
        if len(bare) > 1:
            yield bare[0], bare[-1]
        bare = []
    if len(bare) > 1:
        yield bare[0], bare[-1]


def _found(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every number to mask, in order, not overlapping."""
    found: list[tuple[int, int, int, str]] = []  # (-digits, start, end, kind)
    runs = _runs(_tokens(text))
    if not runs:  # most messages carry no number: nothing more to look at
        return []
    compact = "".join(unicodedata.normalize("NFKC", text).split())
    named = _MY_NUMBER_NAMED.search(compact) is not None
    for run in runs:
        for first, last in _candidates(run):
            if first == 0 and run.after_plus:
                continue  # +819012345678: a phone number in E.164, whatever its digits
            kind = _kind_of(run.groups[first : last + 1], named)
            if kind is not None:
                digits = sum(len(group.digits) for group in run.groups[first : last + 1])
                found.append((-digits, run.groups[first].start, run.groups[last].end, kind))
    chosen: list[tuple[int, int, str]] = []
    for _, start, end, kind in sorted(found):  # the longest number first
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    return sorted(chosen)


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
    found = _found(text)
    if not found:
        return text, []
    pieces: list[str] = []
    last = 0
    for start, end, _ in found:
        pieces += [text[last:start], MASK]
        last = end
    pieces.append(text[last:])
    return "".join(pieces), sorted({kind for _, _, kind in found})


STAFF_TEXT_LIMIT = 200
# Phone numbers, postcodes, account numbers…: 4 digits or more (hyphens allowed).
_LONG_NUMBER = re.compile(r"\d[\d\-‐－ー]{3,}\d")


def for_staff(text: str, limit: int = STAFF_TEXT_LIMIT) -> str:
    """A resident's text as staff may see it out of its conversation (the FAQ's unanswered
    questions): sensitive numbers and any long number masked, one line, capped."""
    masked, _ = redact(unicodedata.normalize("NFKC", text))
    masked = _LONG_NUMBER.sub("＊＊＊", masked)
    return " ".join(masked.split())[:limit]
