"""SMS segmenting as a carrier counts it: GSM-7 vs UCS-2 units, concatenation, numbered splits.

A message is sent as GSM-7 only when every character is in the GSM 03.38 alphabet (the
extension table costs two septets); anything else (kana, kanji, emoji) makes the whole
message UCS-2, where a character outside the BMP is a surrogate pair (two units). Parts of a
concatenated message carry a 6-byte header: 153 GSM-7 / 67 UCS-2 units each, and a part never
ends between the two halves of a pair or an escape and its character.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}  # (single message, per part of a long one)
MAX_PARTS = 10  # Japanese carriers join up to 10 parts: 670 full-width characters


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def encoding_of(text: str) -> str:
    for char in text:
        if char not in GSM_BASIC and char not in GSM_EXTENSION:
            return UCS2
    return GSM7


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if char in GSM_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def analyze(text: str) -> SegmentInfo:
    """How many units and SMS segments `text` takes."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    total = sum(sizes)
    single, per_part = LIMITS[encoding]
    if total <= single:
        return SegmentInfo(encoding, total, 1)
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_part:  # never split a pair or an escape sequence
            segments += 1
            used = 0
        used += size
    return SegmentInfo(encoding, total, segments)


def segment_count(text: str) -> int:
    return analyze(text).segments


def fits(text: str, max_parts: int = MAX_PARTS) -> bool:
    return analyze(text).segments <= max_parts


# --- splitting --------------------------------------------------------------------------

_PROTECTED = re.compile(
    r"(?:https?://|www\.)[!-~]+"  # URLs
    r"|受付番号[\s:：は]*[0-9A-Za-z０-９Ａ-Ｚａ-ｚ\-－_]+"  # reference numbers with their label
    r"|\+?[0-9０-９][0-9０-９\-－‐()（）]{6,}[0-9０-９]"  # phone numbers
    r"|[0-9A-Za-z０-９Ａ-Ｚａ-ｚ][0-9A-Za-z０-９Ａ-Ｚａ-ｚ\-_.,:/@#%&=+]*[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]"
)
_SENTENCE_END = frozenset("。！？!?\n")
_CLOSERS = frozenset("」』）)】〕”’")
_SOFT_BREAK = frozenset("、，, 　・")
_ZWJ = "\u200d"


def _joins_previous(text: str, i: int) -> bool:
    """True when text[i] belongs to the same user-perceived character as text[i-1]."""
    char, prev = text[i], text[i - 1]
    if char == _ZWJ or prev == _ZWJ or char in "\ufe0e\ufe0f\u20e3":
        return True
    code = ord(char)
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin tones, tag sequences
        return True
    if 0x1F1E6 <= code <= 0x1F1FF:  # regional indicators pair up into flags
        run = 0
        j = i - 1
        while j >= 0 and 0x1F1E6 <= ord(text[j]) <= 0x1F1FF:
            run += 1
            j -= 1
        return run % 2 == 1
    return unicodedata.category(char).startswith("M")  # combining marks (e.g. ゛ U+3099)


def _allowed_cuts(text: str, protected_from: int | None) -> list[bool]:
    """allowed[i]: the text may be cut between text[i-1] and text[i]."""
    n = len(text)
    allowed = [True] * (n + 1)
    for i in range(1, n):
        if _joins_previous(text, i):
            allowed[i] = False
    for match in _PROTECTED.finditer(text):
        for i in range(match.start() + 1, match.end()):
            allowed[i] = False
    if protected_from is not None:
        for i in range(protected_from + 1, n):
            allowed[i] = False
    return allowed


def _sentence_cut(text: str, i: int) -> bool:
    j = i - 1
    while j > 0 and text[j] in _CLOSERS:
        j -= 1
    return text[j] in _SENTENCE_END


def _label(number: int, total: int) -> str:
    return f"({number}/{total})\n"


def _longest_fit(text: str, start: int, label: str, max_parts: int) -> int:
    """The largest end such that label + text[start:end] fits (binary search; fit is monotone)."""
    low, high = start, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(label + text[start:mid], max_parts):
            low = mid
        else:
            high = mid - 1
    return low


def split_message(
    text: str, max_parts: int = MAX_PARTS, tail: str = "", label_digits: int = 2
) -> list[str]:
    """Split `text` (+ an unsplittable `tail`, e.g. numbered choices) into SMS messages.

    One message when it fits in `max_parts` concatenated segments; otherwise numbered
    messages "(1/3)" cut at sentence ends, never inside a character, URL, phone number or
    受付番号. `label_digits` reserves room for the widest label.
    """
    whole = text + ("\n" + tail if tail and text else tail)
    if fits(whole, max_parts):
        return [whole]
    protected_from = len(text) if tail and text else (0 if tail else None)
    allowed = _allowed_cuts(whole, protected_from)
    widest = "9" * label_digits
    reserve = _label(int(widest), int(widest))
    parts: list[str] = []
    start = 0
    n = len(whole)
    while start < n:
        limit = _longest_fit(whole, start, reserve, max_parts)
        if limit >= n:
            parts.append(whole[start:])
            break
        cut = _best_cut(whole, start, limit, allowed)
        parts.append(whole[start:cut])
        start = cut
        while start < n and whole[start] in " \n　":
            start += 1
    parts = [part.rstrip("\n") for part in parts if part.strip()]
    total = len(parts)
    return [_label(i + 1, total) + part for i, part in enumerate(parts)]


def _best_cut(text: str, start: int, limit: int, allowed: list[bool]) -> int:
    lowest = start + 1
    for test in (
        lambda i: allowed[i] and _sentence_cut(text, i),
        lambda i: allowed[i] and text[i - 1] in _SOFT_BREAK,
        lambda i: allowed[i],
        lambda i: not _joins_previous(text, i),  # a protected run longer than a message
    ):
        for i in range(limit, lowest - 1, -1):
            if test(i):
                return i
    return max(limit, lowest)
