"""Suggestions on plain SMS: shown as numbered lines, answered with 「1」/「１」/「①」."""

from __future__ import annotations

import re
import unicodedata

MAX_CHOICES = 20
_ANSWER = re.compile(
    r"(\d{1,2})(?:番|ばん|番目|\.|。|:|：)?(?:です|で|でお願いします|をお願いします)?"
)


def render_choices(suggestions: list[str]) -> str:
    """「1. はい\\n2. いいえ」: one numbered line per suggestion."""
    return "\n".join(f"{number}. {label}" for number, label in enumerate(suggestions, 1))


def choice_index(text: str) -> int | None:
    """0-based index of the numbered choice a reply names (「1」「１」「①」「1番」), else None.

    Only a reply that is nothing but the number counts, so 「2つ出したい」 is not a choice.
    """
    if not text or len(text) > 40:
        return None
    normal = unicodedata.normalize("NFKC", text).strip().strip("「」\"'")
    normal = normal.replace("\ufe0f", "").replace("\u20e3", "")  # keycap 「2️⃣」
    match = _ANSWER.fullmatch(normal)
    if not match:
        return None
    number = int(match.group(1))
    if not 1 <= number <= MAX_CHOICES:
        return None
    return number - 1


def resolve_choice(text: str, suggestions: list[str]) -> str | None:
    """The suggestion a numbered reply selects, when it is in range."""
    index = choice_index(text)
    if index is None or index >= len(suggestions):
        return None
    return suggestions[index]
