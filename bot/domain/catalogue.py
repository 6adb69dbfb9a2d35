"""The 粗大ごみ catalogue (catalogue.yaml): accepted items and their variants, items the
city does not accept (and where they go), and small items that are 不燃ごみ."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain import data
from bot.domain.text import fold

_BUILT: dict[int, tuple[Any, Catalogue]] = {}


@dataclass(frozen=True)
class Variant:
    name: str
    fee: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    name: str
    fee: int | None  # None when the fee depends on the variant
    variants: tuple[Variant, ...] = ()
    question: str | None = None
    unit: str = "点"
    note: str | None = None
    synonyms: tuple[str, ...] = ()

    @property
    def needs_variant(self) -> bool:
        return bool(self.variants)

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"{self.name}: no variant {name!r}")

    def fee_for(self, variant: str | None = None) -> int:
        if self.variants:
            if variant is None:
                raise ValueError(f"{self.name}: the fee depends on the variant")
            return self.variant(variant).fee
        assert self.fee is not None
        return self.fee


@dataclass(frozen=True)
class Refusal:
    """An item the bot does not book, with where it goes instead."""

    name: str
    kind: str  # "not_accepted" | "small"
    where: str


@dataclass
class Catalogue:
    items: dict[str, Item]
    refusals: dict[str, Refusal]
    _index: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> Catalogue:
        """Built once per version of the data file (data.load returns the same object
        until the file changes), not on every action call."""
        raw = data.load("catalogue", directory)
        cached = _BUILT.get(id(raw))
        if cached is not None and cached[0] is raw:
            return cached[1]
        catalogue = cls.from_data(raw)
        if len(_BUILT) > 8:
            _BUILT.clear()
        _BUILT[id(raw)] = (raw, catalogue)  # holding `raw` keeps its id from being reused
        return catalogue

    @classmethod
    def from_data(cls, raw: dict[str, Any]) -> Catalogue:
        items: dict[str, Item] = {}
        index: dict[str, str] = {}
        for row in raw["items"]:
            variants = tuple(
                Variant(v["name"], int(v["fee"]), tuple(v.get("aliases", [])))
                for v in row.get("variants", {}).get("options", [])
            )
            item = Item(
                name=row["name"],
                fee=int(row["fee"]) if "fee" in row else None,
                variants=variants,
                question=row.get("variants", {}).get("question"),
                unit=row.get("unit", "点"),
                note=row.get("note"),
                synonyms=tuple(row.get("synonyms", [])),
            )
            items[item.name] = item
        refusals: dict[str, Refusal] = {}
        for group in raw.get("not_accepted", []):
            for row in group["items"]:
                refusals[row["name"]] = Refusal(row["name"], "not_accepted", group["where"])
        small = raw.get("small_items", {})
        for row in small.get("items", []):
            refusals[row["name"]] = Refusal(row["name"], "small", small["where"])
        for item in items.values():
            for key in (item.name, *item.synonyms):
                index.setdefault(fold(key), item.name)
        for group in [*raw.get("not_accepted", []), small]:
            for row in group.get("items", []):
                for key in (row["name"], *row.get("synonyms", [])):
                    index.setdefault(fold(key), row["name"])
        return cls(items, refusals, index)

    def canonical(self, word: str) -> str | None:
        """The canonical name for a name or synonym in any kana/width form."""
        return self._index.get(fold(word))

    def item(self, name: str) -> Item | None:
        canonical = self.canonical(name)
        return self.items.get(canonical) if canonical else None

    def refusal(self, name: str) -> Refusal | None:
        canonical = self.canonical(name)
        return self.refusals.get(canonical) if canonical else None

    def match_variant(self, item: Item, text: str, *, answer: bool = False) -> Variant | None:
        """The variant named in `text`. `answer`: the text replies to the variant question,
        so a bare number picks the n-th option and short aliases (はい) count."""
        folded = fold(text)
        if answer and folded.isdigit() and 1 <= int(folded) <= len(item.variants):
            return item.variants[int(folded) - 1]
        named = self.variants_named(item, text, answer=answer)
        # Two different variants named (「1人掛けじゃなくて2人掛け」): ask again.
        return named[0] if len(named) == 1 else None

    def variants_named(self, item: Item, text: str, *, answer: bool = False) -> list[Variant]:
        """Every different variant `text` names (「1人掛けと3人掛け」 names two)."""
        folded = fold(text)
        matched: list[tuple[str, Variant]] = []
        for variant in item.variants:
            for key in (variant.name, *variant.aliases):
                key_folded = fold(key)
                if not answer and (len(key_folded) < 3 or key_folded in ("はい", "いいえ")):
                    continue  # too short to trust outside an answer (なし, 超)
                if key_folded and key_folded in folded:
                    matched.append((key_folded, variant))
        # A match inside a longer one is not a separate answer (スプリング in スプリングなし).
        kept = {
            variant.name: variant
            for key, variant in matched
            if not any(key != other and key in other for other, _ in matched)
        }
        return list(kept.values())
