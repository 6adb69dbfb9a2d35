"""City data changes are understood without a code change."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.nlu import Nlu

from .conftest import DICTIONARIES, FLOWS, NOW


def _copy_flows(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(FLOWS / "data", target / "data")
    shutil.copytree(FLOWS / "nlu", target / "nlu")
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_new_item_and_synonym_in_catalogue_are_understood(tmp_path: Path, nlu: Nlu) -> None:
    assert nlu.understand("ロッキングチェアを捨てたい", NOW).items[0].name == "椅子"
    assert nlu.understand("マッサージチェアを捨てたい", NOW).items[0].name == "椅子"
    assert nlu.understand("ハンモック2つ捨てたい", NOW).items == ()
    assert nlu.understand("ながいす捨てたい", NOW).items[0].name == "ソファー"  # by reading

    flows = _copy_flows(tmp_path)

    def change(data: dict) -> None:
        data["items"].append({"name": "ハンモック", "synonyms": ["吊り床"], "fee": 300})
        for item in data["not_accepted"][0]["items"]:
            if item["name"] == "エアコン":
                item["synonyms"].append("室外機")

    _edit(flows / "data" / "catalogue.yaml", change)
    edited = Nlu(flows, DICTIONARIES)

    hammock = edited.understand("はんもっく2つ捨てたい", NOW)
    assert [(i.name, i.quantity, i.kind) for i in hammock.items] == [("ハンモック", 2, "accepted")]
    assert hammock.intent == "bulky_waste"
    assert edited.understand("吊り床", NOW).items[0].name == "ハンモック"
    outdoor = edited.understand("室外機を処分したい", NOW).items[0]
    assert (outdoor.name, outdoor.kind, outdoor.group) == (
        "エアコン",
        "not_accepted",
        "appliance_recycling",
    )


def test_new_town_and_intent_word_are_understood(tmp_path: Path) -> None:
    flows = _copy_flows(tmp_path)

    def add_town(data: dict) -> None:
        data["districts"][0]["towns"].append({"name": "柳町", "reading": "やなぎまち"})

    _edit(flows / "data" / "districts.yaml", add_town)

    def add_word(data: dict) -> None:
        data["concepts"]["help_word"].append("取扱説明")

    _edit(flows / "nlu" / "intents.yaml", add_word)
    edited = Nlu(flows, DICTIONARIES)

    assert edited.understand("やなぎまちです", NOW).district == "北"
    result = edited.understand("取扱説明", NOW)
    assert (result.intent, result.rule) == ("help", "help")
