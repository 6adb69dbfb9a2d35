"""Which 地区 (and 町名) an address, a town, a kana reading or a district name is in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.domain import data
from bot.domain.text import fold


@dataclass(frozen=True)
class Place:
    district: str  # 地区 id as in districts.yaml ("桜台")
    label: str  # "桜台地区"
    town: str | None  # 町名 when the resident gave one


def _town_keys(town: dict) -> list[str]:
    return [town["name"], town["reading"], *town.get("variants", [])]


def find_place(text: str, directory: Path | None = None) -> Place | None:
    """The district for an address (さくら市桜台3丁目5-2), a 町名, its kana, or a district
    name (桜台地区, 桜台, きた). Towns win over district names; longer names win."""
    folded = fold(text)
    if not folded:
        return None
    districts = data.load("districts", directory)["districts"]
    towns = [
        (fold(key), row, town)
        for row in districts
        for town in row["towns"]
        for key in _town_keys(town)
    ]
    for key, row, town in sorted(towns, key=lambda entry: -len(entry[0])):
        if key in folded:
            return Place(row["name"], row["label"], town["name"])
    for row in districts:
        labels = [row["label"], row["reading"] + "ちく"]
        if any(fold(label) in folded for label in labels):
            return Place(row["name"], row["label"], None)
    for row in districts:
        if folded in (fold(row["name"]), fold(row["reading"])):
            return Place(row["name"], row["label"], None)
    return None


def district_label(name: str, directory: Path | None = None) -> str:
    for row in data.load("districts", directory)["districts"]:
        if row["name"] == name:
            return str(row["label"])
    raise KeyError(name)
