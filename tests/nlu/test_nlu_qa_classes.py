"""The outside QA engineer's findings, as classes of mistake (several sentences each, so
that the rule and not the reviewer's sentence is what is tested)."""

from __future__ import annotations

import pytest

from bot.nlu import Nlu

from .conftest import NOW

# --- 1. a FAQ entry sharing one generic word is no confident answer --------------------


@pytest.mark.parametrize(
    "text",
    [
        "会員登録したい",
        "メール登録したい",
        "アプリの登録方法",
        "お知らせ登録",
        "ボランティア登録したい",
        "献血の登録",
    ],
)
def test_faq_not_confident_on_one_shared_generic_word(nlu: Nlu, text: str) -> None:
    """The question's distinctive word (会員, メール, アプリ) is in no entry: the entry that
    shares only 登録 (犬の登録) is at most a choice, never the answer."""
    result = nlu.understand(text, NOW)
    assert not result.faq_confident, (text, result.faq)
    assert result.rule != "faq.answer"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("犬の登録はどうすればいい", "犬の登録"),
        ("印鑑登録したい", "印鑑登録証明書"),
        ("住民票ってコンビニでも取れますか", "住民票"),
        ("マイナンバーカードの申請", "マイナンバーカードの受け取り"),
    ],
)
def test_faq_confident_when_distinctive_words_match(nlu: Nlu, text: str, topic: str) -> None:
    result = nlu.understand(text, NOW)
    assert result.faq_confident, (text, result.faq)
    assert result.faq[0].topic.startswith(topic)


# --- 2. 相談/窓口 in a topical question is not a request for a person ----------------------


@pytest.mark.parametrize(
    "text",
    [
        "消費生活相談の窓口",
        "消費者トラブルの相談窓口",
        "介護の相談窓口はどこ",
        "介護について相談したい",
        "消費生活センターに相談したい",
    ],
)
def test_topical_consultation_question_is_answered_from_the_faq(nlu: Nlu, text: str) -> None:
    result = nlu.understand(text, NOW)
    assert result.intent == "faq", (text, result.rule)
    assert result.faq_confident


@pytest.mark.parametrize(
    "text",
    [
        "担当者と話したい",
        "人と話したい",
        "職員につないで",
        "窓口の人と話したい",
        "担当の人に問い合わせたい",
        "担当者に相談したい",
        "消費生活センターの人と話したい",
        "窓口に問い合わせたい",  # a desk asked for, no topic: not the FAQ's 窓口 entries
        "誰かに相談したいです",
    ],
)
def test_asking_for_a_person_still_hands_over(nlu: Nlu, text: str) -> None:
    assert nlu.understand(text, NOW).intent == "operator", text


# --- 3. a small (not bulky) item alone gets the sorting answer ---------------------------


@pytest.mark.parametrize(
    "text",
    [
        "フライパンは？",
        "やかんの捨て方",
        "ドライヤー",
        "炊飯器の捨て方",
        "トースターはどうやって捨てる",
        "電気ケトルは？",
    ],
)
def test_small_item_alone_or_how_to_is_garbage_sorting(nlu: Nlu, text: str) -> None:
    result = nlu.understand(text, NOW)
    assert result.intent == "garbage_sorting", (text, result.rule)
    assert [item.kind for item in result.items] == ["small"]


@pytest.mark.parametrize(
    "text",
    ["ソファー", "タンスの捨て方", "自転車2台", "フライパンとソファー", "冷蔵庫"],
)
def test_bulky_or_refused_item_alone_still_leads_to_bulky_waste(nlu: Nlu, text: str) -> None:
    assert nlu.understand(text, NOW).intent == "bulky_waste", text


def test_small_item_inside_the_bulky_flow_is_an_answer(nlu: Nlu) -> None:
    assert nlu.understand("フライパン", NOW, "bulky_waste").intent is None


# --- 4. the longest known word wins over a catalogue word inside it ----------------------


@pytest.mark.parametrize(
    ("text", "garbage"),
    [
        ("モバイルバッテリー", "充電式電池"),
        ("モバイルバッテリーを捨てたい", "充電式電池"),
        ("携帯のバッテリー", "充電式電池"),
        ("カセットボンベ", "カセットボンベ"),
    ],
)
def test_longer_garbage_word_wins_over_catalogue_word_inside(
    nlu: Nlu, text: str, garbage: str
) -> None:
    result = nlu.understand(text, NOW)
    assert result.items == (), (text, result.items)
    assert result.garbage == (garbage,)
    assert result.intent == "garbage_sorting", (text, result.rule)


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("車のバッテリー", "バッテリー"),
        ("ガスボンベ", "ガスボンベ"),
        ("ソファーベッド", "ソファー"),
    ],
)
def test_catalogue_word_alone_is_still_the_item(nlu: Nlu, text: str, item: str) -> None:
    assert [i.name for i in nlu.understand(text, NOW).items] == [item]


# --- 5. a refused item is reported by its own name ---------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("土", "土"),
        ("石", "石"),
        ("ブロック10個捨てたい", "ブロック"),
        ("砂を捨てたい", "砂"),
        ("レンガ", "レンガ"),
        ("クーラー", "エアコン"),  # a synonym: the entry's own name
        ("TV", "テレビ"),
    ],
)
def test_refused_item_reported_by_its_own_name(nlu: Nlu, text: str, name: str) -> None:
    items = nlu.understand(text, NOW).items
    assert [(i.name, i.kind) for i in items] == [(name, "not_accepted")]
