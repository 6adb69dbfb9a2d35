"""Text folding for matching what residents type against the city's names."""

from __future__ import annotations

import unicodedata

_KATA_START, _KATA_END = ord("ァ"), ord("ヶ")
_EMOJI_MARKS = "\ufe0e\ufe0f\u20e3"  # 「2️⃣」 is 2 + U+FE0F + U+20E3 (the keycap)


def fold(text: str) -> str:
    """NFKC (half-width → full-width kana, full-width digits → ASCII), katakana → hiragana,
    lower case, no spaces or emoji marks: so ソファ, ｿﾌｧ and そふぁ compare equal (and 2️⃣
    is 2)."""
    text = unicodedata.normalize("NFKC", text).lower()
    chars = []
    for char in text:
        code = ord(char)
        if _KATA_START <= code <= _KATA_END and char not in "ヵヶ":
            char = chr(code - 0x60)
        if not char.isspace() and char not in _EMOJI_MARKS:
            chars.append(char)
    return "".join(chars)
