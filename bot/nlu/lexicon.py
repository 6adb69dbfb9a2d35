"""The city's words, read from its data files (no Python literals for city facts).

- flows/data/catalogue.yaml: items (accepted), not_accepted groups, small_items.
- flows/data/districts.yaml: districts and their 町名 with readings and variants.
- flows/data/garbage.yaml: garbage items and kinds (ごみの分け方), when the city has it.
- flows/nlu/words.yaml: yes/no words, fillers, counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class ItemInfo:
    name: str
    kind: str  # accepted | not_accepted | small
    group: str | None = None


@dataclass(frozen=True, slots=True)
class VariantInfo:
    item: str
    name: str


@dataclass(frozen=True, slots=True)
class GarbageInfo:
    name: str  # garbage.yaml item name
    category: str


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A kind of garbage named as such (燃えるごみ, プラごみ): garbage.yaml categories."""

    name: str


@dataclass(frozen=True, slots=True)
class TownInfo:
    district: str
    town: str | None  # None: the district itself was named (北地区)


@dataclass
class Lexicon:
    items: list[tuple[str, ItemInfo]] = field(default_factory=list)  # (word, meaning)
    variants: list[tuple[str, VariantInfo]] = field(default_factory=list)
    places: list[tuple[str, TownInfo]] = field(default_factory=list)
    garbage: list[tuple[str, GarbageInfo | KindInfo]] = field(default_factory=list)
    district_names: dict[str, str] = field(default_factory=dict)  # bare word -> district
    yes: list[str] = field(default_factory=list)
    no: list[str] = field(default_factory=list)
    yes_emoji: list[str] = field(default_factory=list)
    no_emoji: list[str] = field(default_factory=list)
    fillers: list[str] = field(default_factory=list)
    counters: list[str] = field(default_factory=list)
    item_heads: list[str] = field(default_factory=list)
    removal: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    first_choice: list[str] = field(default_factory=list)
    last_choice: list[str] = field(default_factory=list)
    additions: list[str] = field(default_factory=list)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)  # dimension -> units
    ranges: list[tuple[str, str, Any]] = field(default_factory=list)  # (item, variant, range)
    smalltalk: dict[str, list[str]] = field(default_factory=dict)  # kind -> words


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _words(entry: dict[str, Any]) -> list[str]:
    return [str(entry["name"]), *(str(word) for word in entry.get("synonyms") or [])]


def load_faq(flows_dir: Path) -> dict[str, Any]:
    """flows/data/faq.yaml, or nothing when the city has no FAQ."""
    path = flows_dir / "data" / "faq.yaml"
    return _load(path) if path.is_file() else {}


def load_lexicon(flows_dir: Path) -> Lexicon:
    lexicon = Lexicon()
    catalogue = _load(flows_dir / "data" / "catalogue.yaml")
    words = _load(flows_dir / "nlu" / "words.yaml")
    no_words = {str(word) for word in (words.get("negative") or {}).get("words", [])}
    yes_words = {str(word) for word in (words.get("affirmative") or {}).get("words", [])}
    for entry in catalogue.get("items") or []:
        info = ItemInfo(str(entry["name"]), "accepted")
        lexicon.items.extend((word, info) for word in _words(entry))
        for option in (entry.get("variants") or {}).get("options") or []:
            variant = VariantInfo(info.name, str(option["name"]))
            lexicon.variants.append((variant.name, variant))
            if option.get("range"):
                lexicon.ranges.append((info.name, variant.name, option["range"]))
            for alias in option.get("aliases") or []:
                # はい/いいえ are answers to the variant question, not descriptions.
                if str(alias) not in yes_words and str(alias) not in no_words:
                    lexicon.variants.append((str(alias), variant))
    for group in catalogue.get("not_accepted") or []:
        for entry in group.get("items") or []:
            info = ItemInfo(str(entry["name"]), "not_accepted", str(group["id"]))
            lexicon.items.extend((word, info) for word in _words(entry))
    for entry in (catalogue.get("small_items") or {}).get("items") or []:
        info = ItemInfo(str(entry["name"]), "small")
        lexicon.items.extend((word, info) for word in _words(entry))

    garbage_file = flows_dir / "data" / "garbage.yaml"
    garbage = _load(garbage_file) if garbage_file.is_file() else {}
    for entry in garbage.get("items") or []:
        item = GarbageInfo(str(entry["name"]), str(entry["category"]))
        lexicon.garbage.extend((word, item) for word in _words(entry))
    for entry in garbage.get("categories") or []:
        kind = KindInfo(str(entry["name"]))
        names = [entry["name"], *(entry.get("aliases") or [])]
        lexicon.garbage.extend((str(word), kind) for word in names)

    districts = _load(flows_dir / "data" / "districts.yaml")
    for district in districts.get("districts") or []:
        name = str(district["name"])
        itself = TownInfo(name, None)
        for word in (district.get("label"), f"{name}地区", f"{district.get('reading', '')}ちく"):
            if word and not str(word).startswith("ちく"):
                lexicon.places.append((str(word), itself))
        lexicon.district_names[name] = name
        if district.get("reading"):
            lexicon.district_names[str(district["reading"])] = name
        for town in district.get("towns") or []:
            town_info = TownInfo(name, str(town["name"]))
            spellings = [town["name"], town.get("reading"), *(town.get("variants") or [])]
            lexicon.places.extend((str(word), town_info) for word in spellings if word)

    for side, section_name in (("yes", "affirmative"), ("no", "negative")):
        section = words.get(section_name) or {}
        setattr(lexicon, side, [str(word) for word in section.get("words") or []])
        setattr(lexicon, f"{side}_emoji", [str(word) for word in section.get("emoji") or []])
    lexicon.fillers = [str(word) for word in words.get("fillers") or []]
    lexicon.counters = [str(word) for word in words.get("counters") or []]
    lexicon.item_heads = [str(word) for word in words.get("item_heads") or []]
    lexicon.removal = [str(word) for word in words.get("removal") or []]
    lexicon.containers = [str(word) for word in words.get("containers") or []]
    for name in ("first_choice", "last_choice", "additions"):
        setattr(lexicon, name, [str(word) for word in words.get(name) or []])
    lexicon.measures = dict(words.get("measures") or {})
    lexicon.smalltalk = {
        str(kind): [str(word) for word in entries or []]
        for kind, entries in (words.get("smalltalk") or {}).items()
    }
    return lexicon
