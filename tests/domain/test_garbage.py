"""ごみの収集日 (flows/data/garbage.yaml): weekly and 第N rules, 12/31–1/3 off, holidays on,
"today" only before the put-out time; and a new item in the data file is answered."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import TOKYO
from bot.domain.catalogue import Catalogue
from bot.domain.dayrule import DayRule
from bot.domain.garbage import GarbageGuide

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "flows" / "data"


@pytest.fixture(scope="module")
def guide() -> GarbageGuide:
    return GarbageGuide.load(DATA)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def test_nth_weekday_rules() -> None:
    first_tuesday = DayRule.parse("第1火")
    assert first_tuesday == DayRule(1, 1)
    assert first_tuesday.matches(date(2026, 12, 1))
    assert not first_tuesday.matches(date(2026, 12, 8))
    assert DayRule.parse("第３木") == DayRule(3, 3)  # full-width digits as staff type them
    assert DayRule.parse("毎週") is None


def test_next_days_follow_the_district_schedule(guide: GarbageGuide) -> None:
    # 古紙・古布 in 北地区: 第1・第3火 → 12/1, 12/15, 1/5 (not 1/19: that is the third)
    days = guide.next_days("古紙・古布", "北", at("2026-11-30T12:00"), count=3)
    assert days == [date(2026, 12, 1), date(2026, 12, 15), date(2027, 1, 5)]
    assert guide.weekly("古紙・古布", "北") == "第1・第3火"
    assert guide.weekly("燃やすごみ", "北") == "月・木"


def test_today_counts_only_before_the_put_out_time(guide: GarbageGuide) -> None:
    thursday = "2026-12-03"  # 燃やすごみ in 北地区 (月・木)
    assert guide.next_days("燃やすごみ", "北", at(f"{thursday}T08:29"))[0] == date(2026, 12, 3)
    assert guide.next_days("燃やすごみ", "北", at(f"{thursday}T08:30"))[0] == date(2026, 12, 7)


def test_year_end_is_closed_and_holidays_are_collected(guide: GarbageGuide) -> None:
    assert guide.on_day("北", date(2026, 12, 31)) == []  # a Thursday, closed
    assert guide.on_day("北", date(2027, 1, 4)) == ["燃やすごみ"]
    assert guide.closed_on(date(2027, 1, 3)) and not guide.closed_on(date(2026, 12, 30))
    assert guide.on_day("北", date(2026, 11, 23)) == ["燃やすごみ"]  # 勤労感謝の日
    assert guide.next_days("燃やすごみ", "北", at("2026-12-30T12:00")) == [date(2027, 1, 4)]


def test_harmful_goes_out_on_the_non_burnable_days(guide: GarbageGuide) -> None:
    assert guide.on_day("桜台", date(2026, 12, 3)) == ["燃やさないごみ", "有害ごみ"]


def test_catalogue_items_take_the_flagged_kinds(guide: GarbageGuide) -> None:
    catalogue = Catalogue.load(DATA)
    assert guide.thing("ソファー", catalogue).kind == "粗大ごみ"
    refused = guide.thing("テレビ", catalogue)
    assert refused.kind == "市で収集しないもの" and "家電リサイクル法" in refused.where
    assert guide.thing("フライパン", catalogue).kind == "燃やさないごみ"
    assert guide.thing("ハンモック", catalogue) is None


CONVERSATION = """\
name: データに足した品目
now: "2026-12-03T10:00:00+09:00"
turns:
  - say: ハンモックは何ごみ？
    reply:
      contains: ["ハンモックは「燃やすごみ」です", 小さく切って, 町名]
"""


def test_an_item_added_in_data_is_answered(tmp_path: Path, monkeypatch, capsys) -> None:
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dictionaries")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_FLOWS", str(tmp_path / "flows"))
    monkeypatch.setenv("BOT_CACHE_DIR", str(ROOT / "var" / "cache"))
    garbage = tmp_path / "flows" / "data" / "garbage.yaml"
    garbage.write_text(
        garbage.read_text(encoding="utf-8")
        + "  - {name: ハンモック, category: 燃やすごみ, how: 50cm未満に小さく切ってください。}\n",
        encoding="utf-8",
    )
    conversation = tmp_path / "hammock.yaml"
    conversation.write_text(CONVERSATION, encoding="utf-8")
    assert main(["flows", "check", str(tmp_path / "flows")]) == 0
    assert main(["replay", str(conversation)]) == 0, capsys.readouterr().out
