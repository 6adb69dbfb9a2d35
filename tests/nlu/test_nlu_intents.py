"""Intent precedence, context rules, and short answers that carry no intent."""

from __future__ import annotations

import pytest

from bot.nlu import Nlu

from .conftest import NOW


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("粗大ごみの予約をキャンセルしたい", "bulky_waste_change"),
        ("予約をキャンセルしたい", "bulky_waste_change"),
        ("キャンセル", "cancel"),
        ("保育園の空きはありますか", "childcare_vacancy"),
        ("保育園に申し込みたい", "childcare_apply"),
        ("一時保育を利用したい", "childcare_temporary"),
        ("配信停止", "stop_notices"),
        ("停止", "stop_notices"),
        ("通知をやめてほしい", "stop_notices"),
        ("やめる", "cancel"),
        ("配信再開", "resume_notices"),
        ("最初から", "restart"),
        ("やり直し", "restart"),
        ("担当者と話したい", "operator"),
        ("何ができますか", "help"),
        ("児童手当はいくら？", "child_allowance"),
        ("ソファーを捨てたい", "bulky_waste"),
    ],
)
def test_precedence(nlu: Nlu, text: str, intent: str) -> None:
    assert nlu.understand(text, NOW).intent == intent


@pytest.mark.parametrize(
    "text", ["はい", "いいえ", "2つ", "桜台", "ソファー", "明日", "1", "やめておきます", "", "👍"]
)
def test_short_answers_have_no_intent(nlu: Nlu, text: str) -> None:
    assert nlu.understand(text, NOW, "bulky_waste").intent is None


def test_context_turns_cancel_into_an_answer(nlu: Nlu) -> None:
    outside = nlu.understand("キャンセル", NOW, None)
    inside = nlu.understand("キャンセル", NOW, "bulky_waste_change")
    assert (outside.intent, outside.rule) == ("cancel", "cancel.undo")
    assert inside.intent is None
    assert inside.rule == "in_change_flow.cancel_is_an_answer"


def test_cancel_word_in_a_long_message_is_not_global_cancel(nlu: Nlu) -> None:
    text = "引っ越しの予定をやめたので、前に聞いた話は気にしないでください。よろしくお願いします"
    assert nlu.understand(text, NOW).intent != "cancel"
