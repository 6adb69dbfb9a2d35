"""`bot nlu --json` contract and the public interface the flow engine calls."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from bot.nlu import Nlu, Understanding, load_nlu, understand
from bot.nlu.cli import run_nlu

from .conftest import FLOWS, NOW, ROOT


def test_contract_example_exactly(nlu: Nlu) -> None:
    result = nlu.understand("来週の火曜にソファー2つ出したい", NOW)
    assert result.to_contract() == {
        "text": "来週の火曜にソファー2つ出したい",
        "intent": "bulky_waste",
        "entities": {
            "dates": ["2026-12-01"],
            "items": [{"name": "ソファー", "quantity": 2}],
            "yes_no": None,
            "numbers": [2],
            "district": None,
        },
    }


def test_understanding_fields(nlu: Nlu) -> None:
    result = nlu.understand("さくら市桜台3丁目に住んでます。2人掛けのソファーとテレビ", NOW)
    assert isinstance(result, Understanding)
    # items alone (no other request) open 粗大ごみ: rule bulky.item_alone
    assert (result.rule, result.intent) == ("bulky.item_alone", "bulky_waste")
    assert result.district == "桜台" and result.town == "桜台"
    sofa, tv = result.items
    assert (sofa.name, sofa.kind, sofa.variant, sofa.group) == (
        "ソファー",
        "accepted",
        "2人掛け以上",
        None,
    )
    assert (tv.name, tv.kind, tv.group) == ("テレビ", "not_accepted", "appliance_recycling")
    assert result.key == "さくら市桜台3丁目に住んでます2人掛けのそふぁーとてれび"


def test_run_nlu_prints_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_nlu(["来週の火曜にソファー2つ出したい", "はい"], NOW, True) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["entities"]["dates"] == ["2026-12-01"]
    assert second == {
        "text": "はい",
        "intent": None,
        "entities": {"dates": [], "items": [], "yes_no": "yes", "numbers": [], "district": None},
    }
    assert "ソファー" in lines[0]  # ensure_ascii=False


def test_run_nlu_explains_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_nlu(["粗大ごみの予約をキャンセルしたい"], NOW, False) == 0
    out = capsys.readouterr().out
    assert "bulky_waste_change" in out and "bulky_change.cancel_booking" in out


def test_default_now_is_the_real_clock() -> None:
    result = understand("明日")
    assert len(result.dates) == 1 and result.dates[0] > date(2020, 1, 1)


def test_load_nlu_is_cached_per_path(nlu: Nlu) -> None:
    assert load_nlu(FLOWS) is nlu
    assert load_nlu(str(FLOWS)) is nlu


@pytest.mark.parametrize(
    ("text", "expected"),
    [("１番", "1番"), ("ハイ！", "はい"), ("ｿﾌｧｰ 2", "そふぁー2"), ("OK👍", "ok"), ("  ", "")],
)
def test_key(nlu: Nlu, text: str, expected: str) -> None:
    assert nlu.key(text) == expected


def test_nlu_imports_neither_aiohttp_nor_sqlite() -> None:
    code = (
        "import sys, bot.nlu, bot.nlu.cli, bot.nlu.evaluate, bot.nlu.bench; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('aiohttp', 'sqlite3', '_sqlite3', 'sqlite_utils')]; print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
