"""Text folding for matching what residents type against the city's names."""

from __future__ import annotations

import unicodedata

_KATA_START, _KATA_END = ord("ァ"), ord("ヶ")


def fold(text: str) -> str:
    """NFKC (half-width → full-width kana, full-width digits → ASCII), katakana → hiragana,
    lower case, no spaces: so ソファ, ｿﾌｧ and そふぁ compare equal."""
    text = unicodedata.normalize("NFKC", text).lower()
    chars = []
    for char in text:
        code = ord(char)
        if _KATA_START <= code <= _KATA_END and char not in "ヵヶ":
            char = chr(code - 0x60)
        if not char.isspace():
            chars.append(char)
    return "".join(chars)
