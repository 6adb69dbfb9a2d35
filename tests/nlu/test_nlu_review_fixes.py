"""General rules behind the outside review's findings (one test per rule, several texts
each, so that the rule and not the reviewer's sentence is what is tested)."""

from __future__ import annotations

import pytest

from bot.nlu import Nlu

from .conftest import NOW


def _items(nlu: Nlu, text: str, context: str | None = None) -> dict[str, int]:
    return {item.name: item.quantity for item in nlu.understand(text, NOW, context).items}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("オレンジ", {}),  # レンジ is not a word inside オレンジ
        ("チャレンジしたい", {}),
        ("ミラーレスカメラ", {}),  # ミラー is not a word inside ミラーレス
        ("シングルベッド", {"ベッド": 1}),  # シングル|ベッド: a word boundary in the compound
        ("ダブルベッドとソファー", {"ベッド": 1, "ソファー": 1}),
        ("ｿﾌｧｰ", {"ソファー": 1}),
        # A compound names its last word: the first word of one is never the item.
        ("レンジフードを捨てたい", {}),
        ("ベッドマットを出したい", {"マットレス": 1}),  # the whole compound is a synonym
        ("ガスレンジを捨てたい", {"電子レンジ": 1}),
    ],
)
def test_katakana_terms_match_whole_words_only(nlu: Nlu, text: str, expected: dict) -> None:
    assert _items(nlu, text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "numbers"),
    [
        ("いす三脚", {"椅子": 3}, [3]),
        ("椅子四脚", {"椅子": 4}, [4]),
        ("タンス二棹", {"タンス": 2}, [2]),
    ],
)
def test_kanji_numeral_with_counter_in_one_word(
    nlu: Nlu, text: str, expected: dict, numbers: list[int]
) -> None:
    result = nlu.understand(text, NOW)
    assert _items(nlu, text) == expected
    assert list(result.numbers) == numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("洋服ダンス1棹", {"タンス": 1}),  # 棹 after a number is the counter, not 竿
        ("タンス2竿", {"タンス": 2}),
        ("タンス２さお", {"タンス": 2}),  # the counter in kana
        ("タンス２さおと物干し竿", {"タンス": 2, "物干し竿": 1}),
        ("物干し竿を2本", {"物干し竿": 2}),
        ("テレビ台", {}),  # furniture: not the refused テレビ
        ("電子レンジ台を捨てたい", {}),
        ("ソファーカバー", {}),
        ("かがみもち", {}),
        ("テレビ1台", {"テレビ": 1}),
    ],
)
def test_counters_and_compounds_are_not_items(nlu: Nlu, text: str, expected: dict) -> None:
    assert _items(nlu, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("敷布団と掛け布団", {"布団": 2}),  # two words for one item: two things
        ("本箱と書棚", {"本棚": 2}),
        ("敷布団2枚と掛け布団", {"布団": 3}),
        ("布団と掛け布団", {"布団": 2}),  # listed with と
        ("布団を捨てたい。掛け布団です", {"布団": 1}),  # the second names the first
        ("ソファーを出したい。ソファは2人掛けです", {"ソファー": 1}),
    ],
)
def test_mentions_of_one_item_add_up_when_they_are_different_things(
    nlu: Nlu, text: str, expected: dict
) -> None:
    assert _items(nlu, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ソファ×2", None),  # arithmetic, not ×
        ("テレビ×1", None),
        ("×", "no"),
        ("👍", "yes"),
        ("はいいいえ", None),  # contradictory
        ("はい、いいえ", None),
        ("いや、はい", None),
        ("👍🙅", None),
        ("いいえ、大丈夫です", "no"),  # a polite no, not a contradiction
        ("はい、お願いします", "yes"),
    ],
)
def test_yes_no_needs_one_clear_answer(nlu: Nlu, text: str, expected: str | None) -> None:
    assert nlu.understand(text, NOW).yes_no == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("冷凍庫", {"冷凍庫": 1}),  # refused items are reported by their own name
        ("衣類乾燥機", {"衣類乾燥機": 1}),
        ("乾燥機と冷蔵庫", {"衣類乾燥機": 1, "冷蔵庫": 1}),
        ("洗濯乾燥機", {"洗濯機": 1}),
    ],
)
def test_refused_appliances_by_their_own_name(nlu: Nlu, text: str, expected: dict) -> None:
    assert _items(nlu, text) == expected
    assert all(item.group == "appliance_recycling" for item in nlu.understand(text, NOW).items)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("三段ボックス", []),  # a number inside an item name is not a number
        ("3段ボックスを2つ", [2]),
        ("保育園の二次募集はいつ", []),
        ("1日だけ預けたい", [1]),  # a phrase, not a name: the number stays
        ("2人掛けのソファー", [2]),
    ],
)
def test_numbers_inside_names_are_not_numbers(nlu: Nlu, text: str, numbers: list) -> None:
    assert list(nlu.understand(text, NOW).numbers) == numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("金曜か土曜", ["2026-11-27", "2026-11-28"]),  # alternatives, both
        ("金曜日と土曜日どちらでも", ["2026-11-27", "2026-11-28"]),
        ("12月4日か5日", ["2026-12-04", "2026-12-05"]),
        ("12月4日(金)", ["2026-12-04"]),  # the weekday confirms the date
        ("2026年11月1日", []),  # an explicit past date is dropped (dates are never past)
        ("令和7年12月1日", []),
        ("2025/12/3", []),
        ("2026年12月18日", ["2026-12-18"]),
        ("R8.12.4", ["2026-12-04"]),  # 令和 abbreviations and dotted dates
        ("令和8.12.4", ["2026-12-04"]),
        ("12.3", ["2026-12-03"]),
        ("12.3に出したい", ["2026-12-03"]),
        ("2026.12.10", ["2026-12-10"]),
        ("1.5mのソファ", []),  # a measure, not a date
        ("あす", ["2026-11-25"]),
        ("あすでお願いします", ["2026-11-25"]),
        ("きょうだいがいます", []),  # きょう only as a whole word
    ],
)
def test_review_dates(nlu: Nlu, text: str, expected: list[str]) -> None:
    assert [day.isoformat() for day in nlu.understand(text, NOW).dates] == expected


def test_dates_inside_numbers_are_not_numbers(nlu: Nlu) -> None:
    assert nlu.understand("R8.12.4", NOW).numbers == ()
    assert nlu.understand("12.3", NOW).numbers == ()


@pytest.mark.parametrize(
    ("text", "context", "intent"),
    [
        ("カウチ2つ", None, "bulky_waste"),  # an item alone opens 粗大ごみ
        ("冷蔵庫", None, "bulky_waste"),
        ("ドライヤー", None, "garbage_sorting"),  # not bulky: its kind, bag and day
        ("カウチ2つ", "bulky_waste", None),  # inside the flow: an answer
        ("冷蔵庫", "bulky_waste_change", None),
        ("ベビーカーを保育園に置けますか", None, "childcare_apply"),  # other rules win
        ("予約したソファーの回収やめたい", None, "bulky_waste_change"),
        ("申し込んだ粗大ごみをキャンセルしたい", None, "bulky_waste_change"),
        ("予約やめます", "bulky_waste", "cancel"),  # stop this conversation
        ("ちょっと子供をあずけたい", None, "childcare_temporary"),
        ("少しの間だけ子どもを預かってほしい", None, "childcare_temporary"),
        ("子供を保育園に預けたい", None, "childcare_apply"),
    ],
)
def test_review_intents(nlu: Nlu, text: str, context: str | None, intent: str | None) -> None:
    assert nlu.understand(text, NOW, context).intent == intent


# --- general problems found by tests/nlu/holdout2.yaml ---------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("来週の木曜か金曜", ["2026-12-03", "2026-12-04"]),  # the week word carries over
        ("再来週の月曜か火曜", ["2026-12-07", "2026-12-08"]),
        ("金曜か来週の月曜", ["2026-11-27", "2026-11-30"]),
    ],
)
def test_alternative_weekdays_share_the_week(nlu: Nlu, text: str, expected: list[str]) -> None:
    assert [day.isoformat() for day in nlu.understand(text, NOW).dates] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ダイニングテーブルセット（テーブル1、椅子4）", {"テーブル": 1, "椅子": 4}),
        ("椅子(2脚)", {"椅子": 2}),
        ("こたつ布団2枚", {"布団": 2}),
        ("ミラー付きのドレッサー", {}),  # X付き: the item only describes the thing
    ],
)
def test_quantities_in_brackets_and_described_things(nlu: Nlu, text: str, expected: dict) -> None:
    assert _items(nlu, text) == expected


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("来週の水曜日に回収お願いできますか", "bulky_waste"),
        ("回収に来てほしい", "bulky_waste"),
        ("予約の確認をしたい", "bulky_waste_change"),
        ("1歳児クラスの空きありますか", "childcare_vacancy"),
        ("面接の日だけ子どもを見てもらいたい", "childcare_temporary"),
    ],
)
def test_holdout2_intents(nlu: Nlu, text: str, intent: str) -> None:
    assert nlu.understand(text, NOW).intent == intent


def test_sentence_adverb_before_an_answer(nlu: Nlu) -> None:
    assert nlu.understand("やっぱりやめときます", NOW).yes_no == "no"
    assert nlu.understand("やっぱりお願いします", NOW).yes_no == "yes"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("子どもが入れる保育所はありますか", "childcare_vacancy"),  # is there a place: vacancy
        ("4月から入れる保育園はありますか", "childcare_vacancy"),
        ("入れる保育園ありませんか", "childcare_vacancy"),
        ("保育園に入れたい", "childcare_apply"),
        ("保育園の申し込みはありますか", "childcare_apply"),
        # 「…はありますか」 about something else than a place: not vacancies
        ("保育園に入園する条件はありますか", "childcare_apply"),
        ("保育園に入れる方法はありますか", "childcare_apply"),
        ("保育園に入所するのに年齢制限はありますか", "childcare_apply"),
        ("保育園に預けるのに費用はありますか", "childcare_apply"),
        ("保育園に入所するための説明会はありますか", "childcare_apply"),
        ("保育園に入園する前に面談はありますか", "childcare_apply"),
        ("保育園に入れる優先順位はありますか", "childcare_apply"),
    ],
)
def test_asking_whether_a_nursery_has_room_is_about_vacancies(
    nlu: Nlu, text: str, intent: str
) -> None:
    assert nlu.understand(text, NOW).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Undoing a stop is resuming; stopping stays the safe reading otherwise.
        ("配信停止を解除したい", "resume_notices"),
        ("通知の停止を取り消してください", "resume_notices"),
        ("ストップ解除", "resume_notices"),
        ("配信を停止したい。もう送るのはやめて", "stop_notices"),
        ("配信を解除したい", "stop_notices"),
        # 登録解除 is unsubscribing: a stop never becomes a resume
        ("登録解除して配信停止してください", "stop_notices"),
        ("メッセージを停止して、登録も解除して", "stop_notices"),
        ("ストップ。登録解除", "stop_notices"),
        ("通知をオフにしたい。会員登録も解除", "stop_notices"),
        # A booking no longer wanted, or its day, is about the booking already made.
        ("粗大ごみの予約はもういらないです", "bulky_waste_change"),
        ("申し込みはもう不要になりました", "bulky_waste_change"),
        ("いらない椅子を出したい", "bulky_waste"),
        ("予約した日に家にいないんです", "bulky_waste_change"),
        ("申し込んだ収集日を別の週にできますか", "bulky_waste_change"),
        ("一時預かりの予約を取り消したい", "childcare_temporary"),
        # a collection that did not happen is for staff, not a change of booking
        ("予約した日に来てくれなかった", "operator"),
        ("出したソファーが回収されていません", "operator"),
        # Asking what the bot can do, or for a person instead of it.
        ("どんなことができるの？", "help"),
        ("人がいいです", "operator"),
        ("職員の方に代わってください", "operator"),
        ("家に人がいる日がいいです", None),  # a day with someone at home, not staff
        ("粗大ごみは予約不要ですか", "bulky_waste"),  # a question, not giving up a booking
        # An item with a verb that is not about getting rid of it.
        ("テーブルを買いたい", None),
        ("自転車を盗まれた", None),
        ("テーブルが壊れたので処分したい", "bulky_waste"),
        ("壊れて直せないソファーがあります", "bulky_waste"),
        ("新しいのを買ったので古いソファー", "bulky_waste"),
    ],
)
def test_general_wordings_from_an_independent_probe(nlu: Nlu, text: str, intent: str) -> None:
    assert nlu.understand(text, NOW).intent == intent


def _with_variants(nlu: Nlu, text: str) -> list[tuple[str, int, str | None]]:
    return [(i.name, i.quantity, i.variant) for i in nlu.understand(text, NOW).items]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # As many variants as things: one of each.
        (
            "ソファー2台、1人掛けと3人掛けです",
            [("ソファー", 1, "1人掛け"), ("ソファー", 1, "2人掛け以上")],
        ),
        (
            "マットレスを2枚。スプリング入りとスプリングなし",
            [("マットレス", 1, "スプリング入り"), ("マットレス", 1, "スプリングなし")],
        ),
        # How many of each is not said, or one replaces the other: nothing guessed.
        ("ソファー3つ、1人掛けと3人掛け", [("ソファー", 3, None)]),
        ("ソファー2つ、1人掛けじゃなくて2人掛けです", [("ソファー", 2, None)]),
        ("ベッド2台、ダブルで、シングルではありません", [("ベッド", 2, None)]),
        # each mention with its own variant and count
        (
            "1人掛けのソファー2つと3人掛けのソファー1つ",
            [("ソファー", 2, "1人掛け"), ("ソファー", 1, "2人掛け以上")],
        ),
        (
            "ソファー（2人掛け）とソファー（1人掛け）",
            [("ソファー", 1, "2人掛け以上"), ("ソファー", 1, "1人掛け")],
        ),
        ("2人掛けのソファー", [("ソファー", 1, "2人掛け以上")]),
    ],
)
def test_several_variants_of_one_item(nlu: Nlu, text: str, expected: list) -> None:
    assert _with_variants(nlu, text) == expected
