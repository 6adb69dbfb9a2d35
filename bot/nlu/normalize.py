"""What the NLU reads of a resident's text: compatibility characters made ordinary.

Residents' phones insert enclosed and compatibility characters (㈮ for 金曜, ① for 1,
㌔ for キロ, half-width ｿﾌｧｰ, full-width ＡＢＣ). Sudachi would expand some of them inside
its own normaliser, which makes its tokens' surfaces no longer line up with the text we
gave it; reading NFKC text instead keeps every view aligned and lets the enclosed forms be
understood as what they stand for (12月5日㈮ is 12月5日(金)).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def _unusual(char: str) -> str:
    """The replacement for one character NFKC leaves unusable ('' keeps it)."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate cannot be encoded: not text
        return "\ufffd"
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp") and char not in "\n\t":
        return " "  # control characters and odd line breaks separate words, nothing more
    return ""


# Every character _unusual may replace: control characters (Cc), the line and paragraph
# separators (Zl, Zp) and surrogates; a text without one is only NFKC'd.
_MAYBE_UNUSUAL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def normalise_input(text: str) -> str:
    """NFKC, with lone surrogates replaced and control characters as spaces."""
    if text.isascii() and text.isprintable():
        return text
    if _MAYBE_UNUSUAL.search(text):
        text = "".join(_unusual(ch) or ch for ch in text)
    return unicodedata.normalize("NFKC", text)
