"""What every rich (RCS / +メッセージ) provider shares: suggestion limits, postbacks, fallbacks.

A provider module only maps these onto its wire format, so a +メッセージ partner gateway is
one more small module beside rcs.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.sms_choices import render_choices

MAX_SUGGESTIONS = 11
MAX_LABEL = 25  # characters shown on a chip
MAX_POSTBACK_BYTES = 2048
POSTBACK_PREFIX = "choice:"


@dataclass(frozen=True)
class Chip:
    label: str  # what the resident sees (≤ 25 characters)
    postback: str  # what comes back when tapped: the full choice


def shorten(label: str, limit: int = MAX_LABEL) -> str:
    label = " ".join(label.split())
    if len(label) <= limit:
        return label
    return label[: limit - 1] + "…"


def chips(suggestions: list[str]) -> list[Chip]:
    """At most 11 chips, labels cut to 25 characters; the postback keeps the whole choice."""
    result: list[Chip] = []
    for choice in suggestions[:MAX_SUGGESTIONS]:
        raw = choice.encode("utf-8")[: MAX_POSTBACK_BYTES - len(POSTBACK_PREFIX)]
        result.append(Chip(shorten(choice), POSTBACK_PREFIX + raw.decode("utf-8", "ignore")))
    return result


def choice_from_postback(postback: str | None, shown_text: str) -> str:
    """The choice a tapped chip stands for: our postback's full text, else the chip's text."""
    if postback and postback.startswith(POSTBACK_PREFIX):
        return postback[len(POSTBACK_PREFIX) :]
    return shown_text


def fallback_text(text: str, suggestions: list[str]) -> str:
    """The same content as plain text: the message followed by numbered choices."""
    if not suggestions:
        return text
    return f"{text}\n{render_choices(suggestions)}" if text else render_choices(suggestions)
