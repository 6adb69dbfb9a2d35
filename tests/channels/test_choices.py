from __future__ import annotations

import pytest

from bot.channels.rich import chips, choice_from_postback, fallback_text
from bot.channels.sms_choices import choice_index, render_choices, resolve_choice


@pytest.mark.parametrize("text", ["1", "１", "①", " 1 ", "1番", "1です", "「1」", "1️⃣"])
def test_first_choice(text: str) -> None:
    assert choice_index(text) == 0


@pytest.mark.parametrize("text", ["", "0", "21", "2つ出したい", "1月3日", "はい", "1 2"])
def test_not_a_choice(text: str) -> None:
    assert choice_index(text) is None


def test_render_and_resolve() -> None:
    assert render_choices(["はい", "いいえ"]) == "1. はい\n2. いいえ"
    assert resolve_choice("②", ["はい", "いいえ"]) == "いいえ"
    assert resolve_choice("3", ["はい", "いいえ"]) is None


def test_chips_cap_labels_and_count_but_postback_keeps_the_choice() -> None:
    long = "燃やせないごみ（金属・ガラス・陶器類）の収集日を知りたい"
    result = chips([long] + [f"選択{i}" for i in range(20)])
    assert len(result) == 11
    assert len(result[0].label) == 25 and result[0].label.endswith("…")
    assert choice_from_postback(result[0].postback, result[0].label) == long
    assert choice_from_postback("other-system", "はい") == "はい"
    assert (
        fallback_text("どちらですか。", ["はい", "いいえ"]) == "どちらですか。\n1. はい\n2. いいえ"
    )
