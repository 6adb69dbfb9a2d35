"""Canonical matching keys: NFKC, lowercase, katakana→hiragana, no spaces or punctuation."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# ァ (U+30A1) .. ヶ (U+30F6) map onto ぁ (U+3041) .. ゖ (U+3096); ヵ/ヶ stay katakana
# because in place names (桜ヶ丘) they are read が/か, not as small kana.
_KATA_TO_HIRA = {code: code - 0x60 for code in range(0x30A1, 0x30F5)}
_KATA_TO_HIRA.update({0x30FD: 0x309D, 0x30FE: 0x309E})  # ヽヾ → ゝゞ

_DROP_CATEGORIES = ("P", "Z", "S", "C")


def to_hiragana(text: str) -> str:
    return text.translate(_KATA_TO_HIRA)


def fold(text: str) -> str:
    """NFKC + lowercase + hiragana, keeping every character (used per token)."""
    return to_hiragana(unicodedata.normalize("NFKC", text).lower())


# Emoji presentation marks: 「2️⃣」 is 2 + U+FE0F + U+20E3 (the keycap).
_EMOJI_MARKS = frozenset("\ufe0e\ufe0f\u20e3")


@lru_cache(maxsize=8192)
def _keep(char: str, keep_symbols: bool) -> bool:
    if char in _EMOJI_MARKS:
        return False
    category = unicodedata.category(char)
    if char == "ー" or char == "々" or char == "〆":
        return True
    if category[0] == "S" and keep_symbols:
        return True
    return not category.startswith(_DROP_CATEGORIES)


def key(text: str, *, keep_symbols: bool = False) -> str:
    """The matching key of a whole text (for comparing free text to choice aliases)."""
    return _kept(fold(text), keep_symbols)


def keys(text: str) -> tuple[str, str]:
    """(key(text), key(text, keep_symbols=True)), folding the text once."""
    folded = fold(text)
    return _kept(folded, False), _kept(folded, True)


def _kept(folded: str, keep_symbols: bool) -> str:
    if folded.isalnum():  # the common case: nothing to drop
        return folded
    return "".join([ch for ch in folded if _keep(ch, keep_symbols)])


def is_kana(text: str) -> bool:
    """True when every character is hiragana (after folding) or the long-vowel mark."""
    return bool(text) and all("\u3041" <= ch <= "\u309f" or ch == "ー" for ch in text)


_KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


def parse_int(text: str) -> int | None:
    """Parse ASCII digits or a kanji numeral (十二, 二十五, 二〇二六); None if not a number."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(ch not in _KANJI_DIGITS and ch not in _KANJI_UNITS for ch in text):
        return None
    if not any(ch in _KANJI_UNITS for ch in text):
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _KANJI_DIGITS:
            current = _KANJI_DIGITS[ch]
        else:
            total += (current or 1) * _KANJI_UNITS[ch]
            current = 0
    return total + current


# 「1人掛けじゃなくて2人掛け」: the second word replaces the first, it is not one more.
# Negations count too (「ダブルではありません」「入っていません」): a split is never guessed then.
_CORRECTIONS = (
    "じゃなく",
    "ではなく",
    "でなく",
    "じゃない",
    "ではない",
    "ちがう",
    "違う",
    "間違",
    "ません",
    "ない",
    "と思ったら",
    "かと思",
)


def corrects_itself(text: str) -> bool:
    return any(word in text for word in _CORRECTIONS)
