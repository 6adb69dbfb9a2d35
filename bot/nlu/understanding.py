"""What the NLU understood of one text: the typed value the flow engine and `bot nlu` use.

Frozen: one understanding is shared by the NLU's cache, the engine and the actions of a
turn, so nobody may change it under the others (`dataclasses.replace` makes a variant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from bot.nlu.measures import Measure


@dataclass(frozen=True, slots=True)
class ItemMention:
    name: str  # catalogue canonical name, or a refused/small item's own name
    quantity: int = 1
    kind: Literal["accepted", "not_accepted", "small"] = "accepted"
    group: str | None = None  # not_accepted group id
    variant: str | None = None  # when the text already names a variant (2人掛け以上)
    removed: bool = False  # 「掃除機はやめて」「椅子じゃなくて机」: taken out, not added
    more: bool = False  # 「あと椅子も」: in addition to the ones already named


@dataclass(frozen=True, slots=True)
class FaqHit:
    """A city FAQ entry close to the text (bot/nlu/faq.py)."""

    topic: str
    score: float  # BM25 score times coverage (how the entries rank)
    coverage: float  # 0–1: the question's words (by rarity) the entry has
    topical: bool = False  # an entry about the flow the resident is in (`during`)


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str
    key: str
    intent: str | None = None
    rule: str | None = None
    dates: tuple[date, ...] = ()
    items: tuple[ItemMention, ...] = ()
    numbers: tuple[int, ...] = ()
    yes_no: Literal["yes", "no"] | None = None
    district: str | None = None
    town: str | None = None
    choice: int | None = None  # a number picked; -1: the last of the choices
    # Not part of the `bot nlu` contract: "thanks" | "greeting" for short small talk.
    smalltalk: str | None = None
    # Not part of the contract either: garbage.yaml items and kinds named, in text order.
    garbage: tuple[str, ...] = ()
    garbage_kinds: tuple[str, ...] = ()
    # FAQ entries close to the text, best first; `faq_confident`: the first answers it.
    faq: tuple[FaqHit, ...] = ()
    faq_confident: bool = False
    # The message says nothing but its intent words (「やっぱりやめます」「中止してください」),
    # not an answer that happens to contain them (「2人掛け以上です」).
    standalone: bool = False
    # Sizes given (「1メートルあります」) and the variants they pick, as (item, variant).
    measures: tuple[Measure, ...] = ()
    sized: tuple[tuple[str, str], ...] = ()

    def to_contract(self) -> dict[str, Any]:
        """Exactly the `bot nlu --json` object of docs/contracts.md."""
        return {
            "text": self.text,
            "intent": self.intent,
            "entities": {
                "dates": [day.isoformat() for day in self.dates],
                "items": [
                    {"name": item.name, "quantity": item.quantity}
                    for item in self.items
                    if not item.removed
                ],
                "yes_no": self.yes_no,
                "numbers": list(self.numbers),
                "district": self.district,
            },
        }
